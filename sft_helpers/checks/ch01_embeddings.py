"""Exercise checks for chapter 1 (embeddings): the one-hot lookup and sinusoidal position encodings.

Each check calls the learner's function on fresh random sizes and ids (never the notebook's
example), compares with the reference in ``sft_helpers.checks.references``, and names the likely mistake when the answer
matches a known wrong variant.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from sft_helpers.checks import references as _ref
from sft_helpers.checks.core import (
    CheckResult,
    LearnerError,
    call_learner,
    check,
    compare_tensors,
    diagnose,
    fail_if,
    fresh_generator,
    passed,
)

__all__ = ["check_one_hot_embedding", "check_sinusoidal_positions"]


# ----------------------------------------------------------------------------------------------
# The checks
# ----------------------------------------------------------------------------------------------
def _one_hot_cases(gen: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(description, ids, weight) for several shapes and dtypes, sizes drawn fresh each run."""

    def size(low: int, high: int) -> int:
        return int(torch.randint(low, high + 1, (1,), generator=gen))

    cases = []
    vocab, dim = size(11, 40), size(3, 9)
    ids = torch.randint(0, vocab, (size(3, 7),), generator=gen)
    ids[0], ids[-1] = 0, vocab - 1  # the first and last rows of the table (off-by-one shows here)
    cases.append(("1-D ids (seq,)", ids, torch.randn(vocab, dim, generator=gen)))
    vocab, dim = size(20, 60), size(4, 12)
    ids = torch.randint(0, vocab, (size(2, 4), size(3, 6)), generator=gen)
    ids[0, 0] = vocab - 1
    cases.append(("a batch of ids (batch, seq)", ids, torch.randn(vocab, dim, generator=gen)))
    vocab = size(8, 16)
    # ids below vocab - 1 only: a one-hot sized by the largest id instead of the vocabulary fails here
    ids = torch.randint(0, vocab - 1, (size(2, 3), size(2, 4)), generator=gen)
    cases.append(("float64 weight", ids, torch.randn(vocab, size(3, 6), generator=gen, dtype=torch.float64)))
    square = size(6, 10)
    ids = torch.randint(0, square, (size(4, 8),), generator=gen)
    cases.append(("a square table (vocab == dim)", ids, torch.randn(square, square, generator=gen)))
    return cases


_DTYPE_HINT = "convert the one-hot with .to(weight.dtype) (not .float()), so a float64 table gives float64"


def _one_hot_mistakes(ids: torch.Tensor, weight: torch.Tensor) -> dict[str, object]:
    """Advice -> what that mistake returns (computed lazily by ``diagnose``)."""
    vocab = weight.shape[0]
    return {
        "did you multiply by weight.T? weight is (vocab, dim): one_hot (..., vocab) @ weight": lambda: (
            F.one_hot(ids, vocab).to(weight.dtype) @ weight.T
        ),
        "the rows are shifted by one: the one-hot vector of id i has its 1 at index i, and id 0 is row 0": (
            lambda: weight[(ids + 1).clamp(max=vocab - 1)]
        ),
        "the rows are shifted by one: id i is row i, not row i - 1": lambda: weight[(ids - 1) % vocab],
        "you returned the one-hot matrix: multiply it by weight": lambda: F.one_hot(ids, vocab).to(
            weight.dtype
        ),
        "you summed over the sequence: keep one vector per id": lambda: weight[ids].sum(-2),
    }


@check("one-hot embedding lookup", references=[_ref.one_hot_embedding])
def check_one_hot_embedding(one_hot_embedding) -> CheckResult:
    """``one_hot_embedding(ids, weight)`` must equal ``weight[ids]`` for ids of any shape and any float dtype."""
    cases = _one_hot_cases(fresh_generator())
    for description, ids, weight in cases:
        try:
            got = call_learner(one_hot_embedding, ids, weight)
        except LearnerError as error:
            text = error.result.message.split("\n")[0].lower()  # the error, not the quoted line
            if weight.dtype == torch.float64 and ("dtype" in text or "double" in text):
                error.result.hint = _DTYPE_HINT
            elif any(word in text for word in ("shape", "size", "num_classes", "index")):
                error.result.hint = (
                    f"for {description} the ids have shape {tuple(ids.shape)} and weight {tuple(weight.shape)}; "
                    "size the one-hot with num_classes=weight.shape[0] and multiply (..., vocab) @ (vocab, dim)"
                )
            raise
        expected = weight[ids]  # (..., dim): the lookup the one-hot product must reproduce
        hint = diagnose(got, _one_hot_mistakes(ids, weight))
        if not hint and isinstance(got, torch.Tensor) and got.shape[-1:] != expected.shape[-1:]:
            hint = (
                f"the last axis must be the embedding size dim={weight.shape[1]}; size the one-hot "
                f"with the table's vocab = weight.shape[0] = {weight.shape[0]}, not a fixed number"
            )
        if not hint and isinstance(got, torch.Tensor) and got.dtype != expected.dtype:
            hint = (
                "convert the one-hot with .to(weight.dtype) (not .float()), so a float64 table gives float64"
            )
        fail_if(compare_tensors(got, expected, name=f"output for {description}"), hint=hint)
    return passed(
        f"equals the table lookup weight[ids] on {len(cases)} fresh cases "
        "(1-D and batched ids, float32 and float64, the first and last rows)"
    )


def _sinusoidal_mistakes(seq_len: int, d_model: int) -> dict[str, object]:
    """Advice -> what that mistake returns (computed lazily by ``diagnose``)."""

    def variant(**options) -> torch.Tensor:
        return _ref.sinusoid_table(seq_len, d_model, **options).to(torch.float32)

    def concatenated() -> torch.Tensor:  # all sines, then all cosines (tensor2tensor's layout)
        table = _ref.sinusoid_table(seq_len, d_model)
        return torch.cat([table[:, 0::2], table[:, 1::2]], dim=1).to(torch.float32)

    def column_index_exponent() -> torch.Tensor:  # 10000^(j/d) with the column j instead of 2i
        position = torch.arange(seq_len, dtype=torch.float64)[:, None]
        angle = position / 10000.0 ** (torch.arange(d_model, dtype=torch.float64) / d_model)
        table = angle.clone()
        table[:, 0::2], table[:, 1::2] = angle[:, 0::2].sin(), angle[:, 1::2].cos()
        return table.to(torch.float32)

    return {
        "sin and cos are swapped: even columns (2i) are sines, odd columns (2i+1) cosines": lambda: variant(
            cos_first=True
        ),
        "the frequency base is 10000: angle = pos / 10000 ** (2i / d_model)": lambda: variant(base=1000.0),
        "positions start at 0 (torch.arange(seq_len)), not at 1": lambda: variant(first_position=1),
        "the exponent uses 2i (the even column index of the pair), not the column index j; "
        "columns 2i and 2i+1 share one frequency": column_index_exponent,
        "sines and cosines are interleaved (column 0 sin, column 1 cos, ...), not concatenated": concatenated,
        "rows are positions and columns dimensions: your table is transposed": lambda: variant().T,
        "the angle is pos / 10000 ** (2i / d): divide by the power, do not multiply": lambda: variant(
            base=1 / 10000.0
        ),
    }


def _first_rows(mistake: object, rows: int) -> object:
    """A lazy mistake restricted to its first ``rows`` rows."""
    return lambda: (mistake() if callable(mistake) else mistake)[:rows]


@check("sinusoidal position encodings", references=[_ref.sinusoidal_positions])
def check_sinusoidal_positions(sinusoidal_positions) -> CheckResult:
    """``sinusoidal_positions(seq_len, d_model)`` -> (seq_len, d_model) float32, interleaved sin/cos, base 10000."""
    gen = fresh_generator()

    def size(low: int, high: int) -> int:
        return int(torch.randint(low, high + 1, (1,), generator=gen))

    cases = [
        (size(5, 40), 2 * size(2, 16)),  # an even width, the usual case
        (size(41, 120), 2 * size(8, 32)),  # longer and wider: the low frequencies matter
        (1, 2 * size(1, 4)),  # a single position
        (size(3, 12), 2 * size(1, 8) + 1),  # an odd width: the last column is a sine
    ]
    for seq_len, d_model in cases:
        odd_hint = (
            f"d_model={d_model} is odd: there are {math.ceil(d_model / 2)} sine columns but only "
            f"{d_model // 2} cosine columns; slice the angles, e.g. angle[:, : d_model // 2] for the cosines"
        )
        try:
            got = call_learner(sinusoidal_positions, seq_len, d_model)
        except LearnerError as error:
            if d_model % 2 and "not implemented" not in error.result.message:
                error.result.hint = odd_hint
            raise
        expected = _ref.sinusoidal_positions(seq_len, d_model)  # (seq_len, d_model)
        mistakes = _sinusoidal_mistakes(seq_len, d_model)
        hint = diagnose(got, mistakes, atol=1e-4)
        if not hint and isinstance(got, torch.Tensor) and got.shape == expected.shape:
            # Huge angles (a power multiplied instead of divided) lose float32 precision: compare
            # the first positions only, with a looser tolerance.
            first = min(seq_len, 4)
            hint = diagnose(got[:first], {a: _first_rows(m, first) for a, m in mistakes.items()}, atol=1e-2)
        if not hint and isinstance(got, torch.Tensor) and got.dtype != torch.float32:
            hint = "build the table in float32 (torch.arange(..., dtype=torch.float32)) like the embeddings it is added to"
        if not hint and d_model % 2 and isinstance(got, torch.Tensor) and got.shape != expected.shape:
            hint = odd_hint
        fail_if(
            compare_tensors(got, expected, name=f"table for seq_len={seq_len}, d_model={d_model}", atol=1e-4),
            hint=hint,
        )
    return passed(
        f"matches the reference for {len(cases)} fresh sizes, including a single position and an odd d_model"
    )
