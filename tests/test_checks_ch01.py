"""Chapter 1 checks: the reference passes; a blank stub and plausible wrong answers fail, with advice."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from sft_helpers import checks
from sft_helpers.checks import ch01_embeddings as ch01
from sft_helpers.checks import references
from sft_helpers.checks.core import allow_reference


# ----------------------------------------------------------------------------------------------
# one_hot_embedding(ids, weight)
# ----------------------------------------------------------------------------------------------
def one_hot_solution(ids, weight):
    one_hot = (ids[..., None] == torch.arange(weight.shape[0])).to(weight.dtype)  # (..., vocab)
    return one_hot @ weight  # (..., dim)


def one_hot_stub(ids, weight):
    raise NotImplementedError("one_hot = F.one_hot(ids, weight.shape[0]) ...")


def one_hot_transposed(ids, weight):
    return F.one_hot(ids, weight.shape[1]).to(weight.dtype) @ weight.T


def one_hot_off_by_one(ids, weight):
    return weight[(ids - 1) % weight.shape[0]]


def one_hot_float32(ids, weight):
    return F.one_hot(ids, weight.shape[0]).float() @ weight.float()


def one_hot_sized_by_ids(ids, weight):
    return F.one_hot(ids).to(weight.dtype) @ weight  # one_hot sizes itself by ids.max() + 1


def one_hot_only_1d(ids, weight):
    return F.one_hot(ids.flatten(), weight.shape[0]).to(weight.dtype) @ weight


def one_hot_returns_one_hot(ids, weight):
    return F.one_hot(ids, weight.shape[0]).to(weight.dtype)


def one_hot_mutates(ids, weight):
    weight.mul_(2)  # a learner bug; the check must not let it change the check's own data
    return weight[ids]


HARD_CODED = torch.randn(5, 4)


def one_hot_hard_coded(ids, weight):
    return HARD_CODED


def test_reference_and_solution_pass() -> None:
    with allow_reference():
        assert checks.check_one_hot_embedding(references.one_hot_embedding).passed
    result = checks.check_one_hot_embedding(one_hot_solution)
    assert result.passed, str(result)
    assert checks.check_one_hot_embedding(lambda ids, weight: weight[ids]).passed


def test_reference_handed_in_is_refused() -> None:
    result = checks.check_one_hot_embedding(references.one_hot_embedding)
    assert not result.passed and "reference" in result.message


def test_stub_fails_as_not_implemented() -> None:
    result = checks.check_one_hot_embedding(one_hot_stub)
    assert not result.passed and "not implemented" in result.message


@pytest.mark.parametrize(
    "wrong, advice",
    [
        (one_hot_transposed, "num_classes=weight.shape[0]"),  # a shape error inside the learner's code
        (one_hot_off_by_one, "shifted by one"),
        (one_hot_float32, ".to(weight.dtype)"),
        (one_hot_sized_by_ids, "num_classes=weight.shape[0]"),
        (one_hot_only_1d, ""),
        (one_hot_returns_one_hot, ""),
        (one_hot_hard_coded, ""),
    ],
)
def test_wrong_versions_fail(wrong, advice) -> None:
    for _ in range(3):  # fresh inputs each time: never passes by luck
        result = checks.check_one_hot_embedding(wrong)
        assert not result.passed, wrong.__name__
        assert advice in result.message + result.hint


def test_transposed_weight_gets_its_advice_on_a_square_table() -> None:
    ids = torch.tensor([0, 3, 2])
    weight = torch.randn(5, 5)
    hint = ch01.diagnose(one_hot_transposed(ids, weight), ch01._one_hot_mistakes(ids, weight))
    assert "weight.T" in hint


def test_check_does_not_let_learner_mutation_leak_and_keeps_rng() -> None:
    state = torch.get_rng_state()
    result = checks.check_one_hot_embedding(one_hot_mutates)
    assert not result.passed  # the copy it mutated was doubled: values differ from weight[ids]
    assert torch.equal(state, torch.get_rng_state())


def test_learner_objects_are_not_modified() -> None:
    seen = []

    def spy(ids, weight):
        seen.append((ids, weight))
        return weight[ids]

    assert checks.check_one_hot_embedding(spy).passed
    ids, weight = seen[0]
    ids.zero_()  # changing what the learner received cannot affect the check: it got copies
    assert checks.check_one_hot_embedding(spy).passed


# ----------------------------------------------------------------------------------------------
# sinusoidal_positions(seq_len, d_model)
# ----------------------------------------------------------------------------------------------
def sinusoidal_solution(seq_len, d_model):
    position = torch.arange(seq_len, dtype=torch.float32)[:, None]  # (seq, 1)
    pair = torch.arange(0, d_model, 2, dtype=torch.float32)  # (ceil(d/2),)
    angle = position * torch.exp(-math.log(10000.0) * pair / d_model)  # (seq, ceil(d/2))
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : d_model // 2])
    return pe


def _table(seq_len, d_model, base=10000.0, start=0, swap=False, exponent_by_column=False, concat=False):
    """Plausible learner mistakes, written the way a learner would (float32)."""
    position = torch.arange(start, start + seq_len, dtype=torch.float32)[:, None]
    if exponent_by_column:
        angle = position / base ** (torch.arange(d_model, dtype=torch.float32) / d_model)
        pe = angle.clone()
        pe[:, 0::2], pe[:, 1::2] = angle[:, 0::2].sin(), angle[:, 1::2].cos()
        return pe
    angle = position / base ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    first, second = (torch.cos, torch.sin) if swap else (torch.sin, torch.cos)
    if concat:
        return torch.cat([first(angle), second(angle[:, : d_model // 2])], dim=1)
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2] = first(angle)
    pe[:, 1::2] = second(angle[:, : d_model // 2])
    return pe


def sinusoidal_stub(seq_len, d_model):
    raise NotImplementedError("angle = pos / 10000 ** (2i / d_model)")


def sinusoidal_even_only(seq_len, d_model):
    position = torch.arange(seq_len, dtype=torch.float32)[:, None]
    angle = position / 10000 ** (torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
    pe = torch.zeros(seq_len, d_model)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)  # fails for odd d_model: one column too many
    return pe


WRONG_SINUSOIDS = {
    "swapped": (lambda s, d: _table(s, d, swap=True), "swapped"),
    "base 1000": (lambda s, d: _table(s, d, base=1000.0), "base is 10000"),
    "positions from 1": (lambda s, d: _table(s, d, start=1), "start at 0"),
    "exponent by column": (lambda s, d: _table(s, d, exponent_by_column=True), "2i"),
    "concatenated": (lambda s, d: _table(s, d, concat=True), "interleaved"),
    "transposed": (lambda s, d: sinusoidal_solution(s, d).T, "transposed"),
    "multiplies": (lambda s, d: _table(s, d, base=1 / 10000.0), "divide"),
    "float64": (lambda s, d: sinusoidal_solution(s, d).double(), "float32"),
    "even widths only": (sinusoidal_even_only, "odd"),
    "hard-coded": (lambda s, d: sinusoidal_solution(16, 32), ""),
}


def test_sinusoidal_reference_and_solution_pass() -> None:
    with allow_reference():
        assert checks.check_sinusoidal_positions(references.sinusoidal_positions).passed
    for _ in range(3):
        result = checks.check_sinusoidal_positions(sinusoidal_solution)
        assert result.passed, str(result)


def test_sinusoidal_stub_fails() -> None:
    result = checks.check_sinusoidal_positions(sinusoidal_stub)
    assert not result.passed and "not implemented" in result.message
    assert "10000" in result.hint  # the hint from the marker is shown


@pytest.mark.parametrize("name", sorted(WRONG_SINUSOIDS))
def test_sinusoidal_wrong_versions_fail_with_advice(name) -> None:
    wrong, advice = WRONG_SINUSOIDS[name]
    for _ in range(3):
        result = checks.check_sinusoidal_positions(wrong)
        assert not result.passed, name
        assert advice in result.message + result.hint, str(result)


def test_reference_matches_the_paper_formula_entry_by_entry() -> None:
    seq_len, d_model = 9, 7
    pe = references.sinusoidal_positions(seq_len, d_model)
    assert pe.shape == (seq_len, d_model) and pe.dtype == torch.float32
    for pos in range(seq_len):
        for j in range(d_model):
            angle = pos / 10000 ** ((j - j % 2) / d_model)  # columns 2i and 2i+1 share 10000^(2i/d)
            want = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert pe[pos, j].item() == pytest.approx(want, abs=1e-6), (pos, j)


def test_checks_are_registered_and_never_raise() -> None:
    for check in (checks.check_one_hot_embedding, checks.check_sinusoidal_positions):
        for bad in (None, 3, "text", lambda *a: None, lambda *a: (_ for _ in ()).throw(ValueError("x"))):
            result = check(bad)
            assert result.passed is False and result.message
