"""Exercise checks of chapter 4 (text classification): dynamic-padding collate, one training step, macro-F1.

Each check runs the learner's function on fresh random inputs and compares with a reference
written here (padding to the longest example on the right; the textbook optimizer step; and
scikit-learn's ``f1_score(average="macro")``). When the answer is wrong, the check runs the
usual mistakes on the same inputs and says which one the learner's output matches.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from typing import Any

import torch

from sft_helpers.checks import references as _ref
from sft_helpers.checks.core import (
    call_learner,
    check,
    compare_types,
    compare_values,
    diagnose,
    fail_if,
    fresh_seed,
    passed,
)

__all__ = ["check_collate", "check_training_step", "check_macro_f1"]


# ----------------------------------------------------------------------------------------------
# collate with dynamic padding
# ----------------------------------------------------------------------------------------------
def _random_batch(rng: random.Random, equal: bool = False) -> list[dict[str, Any]]:
    size = rng.randint(2, 6)
    lengths = [rng.randint(2, 12)] * size if equal else [rng.randint(1, 12) for _ in range(size)]
    if not equal and len(set(lengths)) == 1:
        lengths[0] += 3
    return [
        {"input_ids": [rng.randint(101, 30000) for _ in range(n)], "label": rng.randint(0, 2)}
        for n in lengths
    ]


def _collate_mistakes(examples: list[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    good = _ref.collate(examples, pad_id)
    inverted = dict(good, attention_mask=1 - good["attention_mask"])
    zero_pad = dict(good, input_ids=torch.where(good["attention_mask"] == 1, good["input_ids"], 0))
    return {
        "pad on the right (real tokens first, then pad_id): BERT's position embeddings expect the text at "
        "position 0": _ref.collate(examples, pad_id, left=True),
        "the attention mask is 1 on real tokens and 0 on padding; yours is inverted": inverted,
        "pad with the pad_id argument, not with 0 (tokenizers differ: GPT-2 has no 0 pad)": zero_pad,
    }


@check("collate with dynamic padding")
def check_collate(fn: Any) -> Any:
    """``fn(examples, pad_id) -> {"input_ids", "attention_mask", "labels"}`` padded to the batch's longest."""
    rng = random.Random(fresh_seed())
    cases = [_random_batch(rng) for _ in range(8)] + [_random_batch(rng, equal=True)]
    for examples in cases:
        pad_id = rng.choice([0, 1, 3, 100])
        expected = _ref.collate(examples, pad_id)
        got = call_learner(fn, [dict(e) for e in examples], pad_id)
        lengths = [len(e["input_ids"]) for e in examples]
        where = f"for a batch with lengths {lengths} and pad_id={pad_id}"
        fail_if(compare_types(got, dict, name="return value"), "return a dict of tensors")
        message = compare_values(got, expected, name="batch")
        if message:
            advice = diagnose(got, _collate_mistakes(examples, pad_id))
            if not advice and isinstance(got, dict) and hasattr(got.get("input_ids"), "shape"):
                if got["input_ids"].shape[-1] > max(lengths):
                    advice = (
                        "pad to the longest example of THIS batch (dynamic padding), not to a fixed length"
                    )
            fail_if(
                f"{message} {where}",
                advice
                or "every row is padded on the right to the longest example of this batch; the mask marks "
                "real tokens with 1 and padding with 0; labels come from each example's 'label'; all three "
                "are integer (long) tensors",
            )
    return passed(f"padding, masks and labels match on {len(cases)} random batches (keys: input_ids, "
                  "attention_mask, labels)")  # fmt: skip


# ----------------------------------------------------------------------------------------------
# one training step
# ----------------------------------------------------------------------------------------------
class TinyClassifier(torch.nn.Module):
    """Mean of token embeddings -> linear layer; returns a transformers-style output with loss and logits."""

    def __init__(self, vocab: int = 60, dim: int = 8, num_labels: int = 3) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.head = torch.nn.Linear(dim, num_labels)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor | None = None
    ) -> Any:
        from transformers.modeling_outputs import SequenceClassifierOutput

        mask = attention_mask.unsqueeze(-1).float()
        pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1)
        logits = self.head(pooled)
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def _no_zero_grad(model, batch, optimizer, scheduler, max_grad_norm):  # type: ignore[no-untyped-def]
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()
    return loss.item()


def _no_clip(model, batch, optimizer, scheduler, max_grad_norm):  # type: ignore[no-untyped-def]
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad()
    return loss.item()


def _no_schedule(model, batch, optimizer, scheduler, max_grad_norm):  # type: ignore[no-untyped-def]
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def _schedule_first(model, batch, optimizer, scheduler, max_grad_norm):  # type: ignore[no-untyped-def]
    loss = model(**batch).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    scheduler.step()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()


def _clip_after_step(model, batch, optimizer, scheduler, max_grad_norm):  # type: ignore[no-untyped-def]
    loss = model(**batch).loss
    loss.backward()
    optimizer.step()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    scheduler.step()
    optimizer.zero_grad()
    return loss.item()


STEP_MISTAKES: dict[str, Callable[..., float]] = {
    "gradients add up across steps: call optimizer.zero_grad() once per step": _no_zero_grad,
    "the update used unclipped gradients: clip their global norm (clip_grad_norm_) after backward() and "
    "before optimizer.step() (after the step is too late: it already used the unclipped ones)": _no_clip,
    "the learning rate never changed: call scheduler.step() after optimizer.step()": _no_schedule,
    "call scheduler.step() after optimizer.step(), not before: otherwise the first step uses the wrong "
    "learning rate": _schedule_first,
}


def _steps_with(
    step_fn: Callable[..., Any], setup: tuple[Any, ...], batches: list[dict[str, Any]], norm: float
):
    """Run ``step_fn`` once per batch on the objects in ``setup``; return (losses, model, scheduler)."""
    model, optimizer, scheduler = setup
    losses = [step_fn(model, batch, optimizer, scheduler, norm) for batch in batches]
    return losses, model, scheduler


def _setup(seed: int) -> tuple[TinyClassifier, Any, Any]:
    torch.manual_seed(seed)
    model = TinyClassifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=2.0)  # plain SGD: clipping shows in every update
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1 + step))
    return model, optimizer, scheduler


def _random_batches(rng: random.Random, n: int) -> list[dict[str, torch.Tensor]]:
    batches = []
    for _ in range(n):
        examples = [
            {"input_ids": [rng.randrange(1, 60) for _ in range(rng.randint(2, 7))], "label": rng.randrange(3)}
            for _ in range(rng.randint(3, 6))
        ]
        batches.append(_ref.collate(examples, pad_id=0))
    return batches


@check("one training step")
def check_training_step(fn: Any) -> Any:
    """``fn(model, batch, optimizer, scheduler, max_grad_norm) -> float`` (the loss before the update)."""
    seed = fresh_seed()
    rng = random.Random(seed)
    batches = _random_batches(rng, 3)
    norm = 0.05  # small: clipping is active on every step
    expected_losses, expected_model, expected_scheduler = _steps_with(
        _ref.training_step, _setup(seed % 2**31), batches, norm
    )

    def learner_steps(batches):  # type: ignore[no-untyped-def]
        # built here, not passed in: call_learner deep-copies its arguments, which would detach the
        # scheduler from the optimizer it watches
        return _steps_with(fn, _setup(seed % 2**31), batches, norm)

    losses, model, scheduler = call_learner(learner_steps, batches)
    fail_if(
        compare_values(losses[0], expected_losses[0], name="returned loss"),
        "return the loss of the forward pass (before the update) as a Python float, not a tensor "
        "(.item() turns a one-element tensor into a float)",
    )
    params = dict(model.named_parameters())
    expected_params = dict(expected_model.named_parameters())

    def after_three(step_fn: Callable[..., Any]) -> Callable[[], dict[str, torch.Tensor]]:
        def run() -> dict[str, torch.Tensor]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch warns about the mistakes we reproduce on purpose
                return dict(_steps_with(step_fn, _setup(seed % 2**31), batches, norm)[1].named_parameters())

        return run

    message = compare_values(params, expected_params, name="weights after 3 steps")
    if message:
        advice = diagnose(params, {advice: after_three(mistake) for advice, mistake in STEP_MISTAKES.items()})
        fail_if(
            message,
            advice
            or "one step is: the loss of the batch, its gradients, clipping them, the update, the next "
            "learning rate, and clearing the gradients; check that each happens once and in that order",
        )
    fail_if(
        compare_values(scheduler.last_epoch, expected_scheduler.last_epoch, name="number of scheduler steps"),
        "call scheduler.step() exactly once per training step",
    )
    fail_if(compare_values(losses, expected_losses, name="losses of 3 steps"))
    return passed(
        "weights, losses and learning rates match the reference over 3 steps (SGD, clipping active)"
    )


# ----------------------------------------------------------------------------------------------
# macro-F1 by hand
# ----------------------------------------------------------------------------------------------
def _per_class(
    y_true: list[int], y_pred: list[int]
) -> tuple[list[float], list[float], list[float], list[int]]:
    """Precision, recall, F1 and support of every class seen in either list (0/0 counts as 0)."""
    classes = sorted(set(y_true) | set(y_pred))
    precision, recall, f1, support = [], [], [], []
    for c in classes:
        tp = sum(t == p == c for t, p in zip(y_true, y_pred))
        n_pred, n_true = y_pred.count(c), y_true.count(c)
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_true if n_true else 0.0
        precision.append(p)
        recall.append(r)
        f1.append(2 * p * r / (p + r) if p + r else 0.0)
        support.append(n_true)
    return precision, recall, f1, support


def _f1_mistakes(y_true: list[int], y_pred: list[int]) -> dict[str, Any]:
    precision, recall, f1, support = _per_class(y_true, y_pred)
    k = len(f1)
    macro_p, macro_r = sum(precision) / k, sum(recall) / k
    true_only = [f for f, s in zip(f1, support) if s > 0]
    return {
        "this is the micro average (pooled counts, equal to accuracy here): average the per-class F1 "
        "scores instead": sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true),
        "this is the support-weighted average; macro gives every class the same weight": sum(
            f * s for f, s in zip(f1, support)
        )
        / len(y_true),
        "compute F1 per class, then average; not the harmonic mean of the averaged precision and recall": (
            2 * macro_p * macro_r / (macro_p + macro_r) if macro_p + macro_r else 0.0
        ),
        "this is the macro precision; F1 combines precision and recall": macro_p,
        "this is the macro recall; F1 combines precision and recall": macro_r,
        "include every class that appears in y_true OR y_pred (a class that is only predicted has F1 0)": (
            sum(true_only) / len(true_only)
        ),
    }


@check(
    "macro-F1 by hand",
    references=[
        "sklearn.metrics.f1_score",
        "sklearn.metrics.precision_recall_fscore_support",
        "sklearn.metrics.classification_report",
        "sft_helpers.metrics.precision_recall_f1",
        "sft_helpers.metrics.classification_report",
        "sft_helpers.metrics.classification_metrics",
    ],
)
def check_macro_f1(fn: Any) -> Any:
    """``fn(y_true, y_pred) -> float``: the unweighted mean of per-class F1 over classes seen in either list."""
    f1_score = _ref.third_party("sklearn.metrics.f1_score")
    rng = random.Random(fresh_seed())
    cases = [([0, 0, 0, 0, 1], [0, 0, 0, 0, 0])]  # one class never predicted: its F1 is 0
    cases.append(([0, 1, 1, 2], [0, 1, 2, 3]))  # class 3 only predicted
    for _ in range(20):
        k, n = rng.randint(2, 5), rng.randint(5, 60)
        y_true = [min(int(rng.expovariate(1.0)), k - 1) for _ in range(n)]  # imbalanced classes
        y_pred = [t if rng.random() < 0.6 else rng.randrange(k) for t in y_true]
        cases.append((y_true, y_pred))
    for y_true, y_pred in cases:
        expected = float(f1_score(y_true, y_pred, average="macro", zero_division=0))
        got = call_learner(fn, list(y_true), list(y_pred))
        message = compare_values(got, expected, name="macro-F1", atol=1e-6, rtol=1e-6)
        if message:
            advice = diagnose(got, _f1_mistakes(y_true, y_pred), atol=1e-6, rtol=1e-6)
            fail_if(
                f"{message} for y_true={y_true}, y_pred={y_pred}",
                advice
                or "compute precision, recall and F1 per class (a division by 0 counts as 0), then take "
                "the unweighted mean over the classes",
            )
    return passed(
        f"your macro-F1 equals scikit-learn's on {len(cases)} label lists, imbalanced ones included"
    )
