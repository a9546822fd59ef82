"""Chapter 4 checks: the reference passes, a stub fails, plausible wrong versions fail with advice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sft_helpers import checks
from sft_helpers.checks import ch04_classification as ch04
from sft_helpers.checks import references


# ----------------------------------------------------------------------------- collate
def good_collate(examples, pad_id):
    width = max(len(e["input_ids"]) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, : len(e["input_ids"])] = torch.tensor(e["input_ids"])
        mask[i, : len(e["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([e["label"] for e in examples])}


def collate_left(examples, pad_id):
    return references.collate(examples, pad_id, left=True)


def collate_inverted_mask(examples, pad_id):
    out = good_collate(examples, pad_id)
    out["attention_mask"] = 1 - out["attention_mask"]
    return out


def collate_zero_pad(examples, pad_id):
    return good_collate(examples, 0)


def collate_fixed_length(examples, pad_id):
    out = good_collate([dict(e, input_ids=e["input_ids"] + [pad_id] * 0) for e in examples], pad_id)
    extra = torch.full((len(examples), 20), pad_id, dtype=torch.long)
    return {
        "input_ids": torch.cat([out["input_ids"], extra], 1),
        "attention_mask": torch.cat([out["attention_mask"], torch.zeros_like(extra)], 1),
        "labels": out["labels"],
    }


def collate_bool_mask(examples, pad_id):
    out = good_collate(examples, pad_id)
    out["attention_mask"] = out["attention_mask"].bool()
    return out


def collate_label_key(examples, pad_id):
    out = good_collate(examples, pad_id)
    out["label"] = out.pop("labels")
    return out


def collate_stub(examples, pad_id):
    raise NotImplementedError("pad to the longest")


def test_collate_reference_passes() -> None:
    result = checks.check_collate(good_collate)
    assert result.passed, result


@pytest.mark.parametrize(
    ("fn", "advice"),
    [
        (collate_left, "pad on the right"),
        (collate_inverted_mask, "inverted"),
        (collate_zero_pad, "pad_id argument"),
        (collate_fixed_length, "longest example of THIS batch"),
        (collate_bool_mask, "dtype"),
        (collate_label_key, "labels"),
        (collate_stub, "not implemented"),
    ],
)
def test_collate_mistakes_fail_with_advice(fn, advice: str) -> None:
    result = checks.check_collate(fn)
    assert not result.passed
    assert advice in result.message + result.hint, result


# ----------------------------------------------------------------------------- training step
def good_step(model, batch, optimizer, scheduler, max_grad_norm):
    optimizer.zero_grad()  # zeroing first is as good as zeroing last
    out = model(**batch)
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    return out.loss.item()


def step_returns_tensor(model, batch, optimizer, scheduler, max_grad_norm):
    loss = model(**batch).loss
    references.training_step(model, batch, optimizer, scheduler, max_grad_norm)
    return loss.detach()


def step_stub(model, batch, optimizer, scheduler, max_grad_norm):
    raise NotImplementedError("forward, backward, clip, step, schedule, zero_grad")


def test_training_step_reference_passes() -> None:
    for fn in (references.training_step, good_step):
        result = checks.check_training_step(fn)
        assert result.passed, result


@pytest.mark.parametrize(
    ("fn", "advice"),
    [
        (ch04._no_zero_grad, "zero_grad"),
        (ch04._no_clip, "clip_grad_norm_"),
        (ch04._clip_after_step, "clip_grad_norm_"),
        (ch04._no_schedule, "never changed"),
        (ch04._schedule_first, "not before"),
        (step_returns_tensor, ".item()"),
        (step_stub, "not implemented"),
    ],
)
def test_training_step_mistakes_fail_with_advice(fn, advice: str) -> None:
    result = checks.check_training_step(fn)
    assert not result.passed
    assert advice in result.message + result.hint, result


# ----------------------------------------------------------------------------- macro-F1
def good_macro_f1(y_true, y_pred):
    classes = sorted(set(y_true) | set(y_pred))
    scores = []
    for c in classes:
        tp = sum(t == p == c for t, p in zip(y_true, y_pred))
        p = tp / y_pred.count(c) if y_pred.count(c) else 0.0
        r = tp / y_true.count(c) if y_true.count(c) else 0.0
        scores.append(2 * p * r / (p + r) if p + r else 0.0)
    return sum(scores) / len(scores)


def micro_f1(y_true, y_pred):
    return float(np.mean(np.array(y_true) == np.array(y_pred)))


def harmonic_of_means(y_true, y_pred):
    classes = sorted(set(y_true) | set(y_pred))
    ps, rs = [], []
    for c in classes:
        tp = sum(t == p == c for t, p in zip(y_true, y_pred))
        ps.append(tp / y_pred.count(c) if y_pred.count(c) else 0.0)
        rs.append(tp / y_true.count(c) if y_true.count(c) else 0.0)
    p, r = sum(ps) / len(ps), sum(rs) / len(rs)
    return 2 * p * r / (p + r) if p + r else 0.0


def uses_sklearn(y_true, y_pred):
    from sklearn.metrics import f1_score

    return f1_score(y_true, y_pred, average="macro")


def test_macro_f1_reference_passes() -> None:
    result = checks.check_macro_f1(good_macro_f1)
    assert result.passed, result


@pytest.mark.parametrize(
    ("fn", "advice"),
    [
        (micro_f1, "micro average"),
        (harmonic_of_means, "harmonic mean"),
        (uses_sklearn, "reference implementation"),
        (lambda t, p: int(good_macro_f1(t, p) > 0.5), "macro-F1"),
    ],
)
def test_macro_f1_mistakes_fail(fn, advice: str) -> None:
    result = checks.check_macro_f1(fn)
    assert not result.passed
    assert advice in result.message + result.hint, result


def test_checks_do_not_disturb_the_global_random_state() -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    checks.check_training_step(good_step)
    assert torch.equal(torch.rand(3), expected)
