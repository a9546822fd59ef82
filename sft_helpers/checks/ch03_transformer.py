"""Exercise checks for chapter 3: functional LayerNorm and the position-wise feed-forward network.

Inputs are fresh each run: several shapes, float32 and float64, an ``eps`` large enough to
matter, a constant row (variance 0) and non-square weights, so common slips show up and get named.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.nn import functional as F

from sft_helpers import blocks
from sft_helpers.checks.core import (
    CheckFailed,
    LearnerError,
    call_learner,
    check,
    compare_tensors,
    diagnose,
    fresh_generator,
    passed,
)

__all__ = ["check_layer_norm", "check_feed_forward"]


def _layer_norm_cases(
    gen: torch.Generator,
) -> list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, float]]:
    """(description, x, weight, bias, eps)."""
    d1, d2 = int(torch.randint(5, 12, (1,), generator=gen)), int(torch.randint(12, 40, (1,), generator=gen))

    def params(d: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        return 1 + 0.5 * torch.randn(d, generator=gen, dtype=dtype), torch.randn(
            d, generator=gen, dtype=dtype
        )

    cases = []
    x = 3 * torch.randn(4, d1, generator=gen) + 5  # far from mean 0 / variance 1
    cases.append(("x of shape {} with eps=1e-5", x, *params(d1, torch.float32), 1e-5))
    x = torch.randn(2, 3, d2, generator=gen, dtype=torch.float64) * 2 - 1
    cases.append(("x of shape {} (float64) with eps=1e-12", x, *params(d2, torch.float64), 1e-12))
    x = 0.3 * torch.randn(3, d1, generator=gen)  # small variance: a large eps changes the result
    cases.append(("x of shape {} with a large eps=0.5", x, *params(d1, torch.float32), 0.5))
    x = torch.randn(3, d2, generator=gen)
    x[1] = 2.5  # a constant row: variance 0, only eps prevents 0/0
    cases.append(
        ("x of shape {} whose row 1 is constant (variance 0), eps=1e-5", x, *params(d2, torch.float32), 1e-5)
    )
    return cases


def _layer_norm_mistakes(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float) -> dict[str, Any]:
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    return {
        "LayerNorm uses the biased variance (divide by d): x.var(dim=-1, unbiased=False), "
        "not torch.var's default": lambda: (x - mean) / torch.sqrt(x.var(-1, keepdim=True) + eps) * w + b,
        "eps goes inside the square root: (x - mean) / sqrt(var + eps)": lambda: (
            (x - mean) / (torch.sqrt(var) + eps) * w + b
        ),
        "normalise over the last dimension (dim=-1, keepdim=True), the features of one position": lambda: (
            (x - x.mean(0, keepdim=True)) / torch.sqrt(x.var(0, keepdim=True, unbiased=False) + eps) * w + b
        ),
        "eps is missing: divide by sqrt(var + eps), which also keeps a constant row finite": lambda: (
            (x - mean) / torch.sqrt(var) * w + b
        ),
        "scale by weight and shift by bias after normalising": lambda: (x - mean) / torch.sqrt(var + eps),
        "the order is normalise, then * weight, then + bias": lambda: (
            (x - mean) / torch.sqrt(var + eps) * b + w
        ),
        "subtract the mean before dividing": lambda: x / torch.sqrt(var + eps) * w + b,
    }


@check("layer norm", references=[blocks.layer_norm, F.layer_norm])
def check_layer_norm(fn: Callable[..., Any]) -> Any:
    """Check ``fn(x, weight, bias, eps)`` against ``F.layer_norm`` on 4 fresh cases."""
    gen = fresh_generator()
    cases = _layer_norm_cases(gen)
    for text, x, w, b, eps in cases:
        expected = F.layer_norm(x, x.shape[-1:], w, b, eps)
        got = call_learner(fn, x, w, b, eps)
        message = compare_tensors(got, expected, name="output", atol=1e-5, rtol=1e-4)
        if message:
            hint = diagnose(got, _layer_norm_mistakes(x, w, b, eps))
            if not hint and ("NaN" in message or "inf" in message):
                hint = "a constant row has variance 0: add eps inside the square root, sqrt(var + eps)"
            raise CheckFailed(f"with {text.format(tuple(x.shape))}: {message}", hint)
    return passed(f"layer_norm matches F.layer_norm on {len(cases)} fresh cases, a constant row included")


def _ffn_cases(gen: torch.Generator) -> list[tuple[torch.Tensor, ...]]:
    """(x, w1, b1, w2, b2) with d_ff != d_model so a missing transpose shows as a shape error."""
    cases = []
    for shape, dtype in (((5,), torch.float32), ((2, 4), torch.float32), ((3, 2, 5), torch.float64)):
        d_model = int(torch.randint(4, 12, (1,), generator=gen))
        d_ff = 4 * d_model
        x = torch.randn(*shape, d_model, generator=gen, dtype=dtype)
        w1 = torch.randn(d_ff, d_model, generator=gen, dtype=dtype) / d_model**0.5
        b1 = torch.randn(d_ff, generator=gen, dtype=dtype)
        w2 = torch.randn(d_model, d_ff, generator=gen, dtype=dtype) / d_ff**0.5
        b2 = torch.randn(d_model, generator=gen, dtype=dtype)
        cases.append((x, w1, b1, w2, b2))
    return cases


def _ffn_mistakes(
    x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor
) -> dict:
    return {
        "use GELU (F.gelu), not ReLU": lambda: F.relu(x @ w1.T + b1) @ w2.T + b2,
        "BERT's GELU is the exact one, F.gelu(h); the tanh approximation differs slightly": lambda: (
            F.gelu(x @ w1.T + b1, approximate="tanh") @ w2.T + b2
        ),
        "the activation goes between the two linear maps, not after the second": lambda: F.gelu(
            (x @ w1.T + b1) @ w2.T + b2
        ),
        "did you forget the activation? Without it the two linear maps collapse into one": lambda: (
            (x @ w1.T + b1) @ w2.T + b2
        ),
        "a bias is missing: x @ w1.T + b1, then ... @ w2.T + b2": lambda: F.gelu(x @ w1.T) @ w2.T,
        "the second bias b2 is missing": lambda: F.gelu(x @ w1.T + b1) @ w2.T,
        "the first bias b1 is missing": lambda: F.gelu(x @ w1.T) @ w2.T + b2,
    }


@check("feed-forward network", references=[blocks.feed_forward, blocks.FeedForward])
def check_feed_forward(fn: Callable[..., Any]) -> Any:
    """Check ``fn(x, w1, b1, w2, b2)`` = ``gelu(x W1^T + b1) W2^T + b2`` on 3 fresh shapes."""
    gen = fresh_generator()
    cases = _ffn_cases(gen)
    for x, w1, b1, w2, b2 in cases:
        expected = blocks.feed_forward(x, w1, b1, w2, b2)
        try:
            got = call_learner(fn, x, w1, b1, w2, b2)
        except LearnerError as error:
            if "cannot be multiplied" in error.result.message or "size of tensor" in error.result.message:
                error.result.hint = (
                    f"w1 is (d_ff, d_model) = {tuple(w1.shape)} in nn.Linear's (out, in) layout: "
                    "compute x @ w1.T + b1 (and ... @ w2.T + b2), or F.linear(x, w1, b1)"
                )
            raise
        message = compare_tensors(got, expected, name="output", atol=1e-5, rtol=1e-4)
        if message:
            hint = diagnose(got, _ffn_mistakes(x, w1, b1, w2, b2))
            if not hint and "shape" in message:
                hint = "w1 is (d_ff, d_model) in nn.Linear's (out, in) layout: multiply by w1.T (and w2.T)"
            where = (
                f"with x of shape {tuple(x.shape)}, w1 {tuple(w1.shape)}, w2 {tuple(w2.shape)} ({x.dtype})"
            )
            raise CheckFailed(f"{where}: {message}", hint)
    return passed(
        f"feed_forward matches on {len(cases)} fresh shapes (d_ff = 4 d_model), float32 and float64"
    )
