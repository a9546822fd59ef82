"""Exercise checks for chapter 3: functional LayerNorm, the position-wise feed-forward network and
the post-LN encoder layer (BERT's block) assembled from attention, the FFN and two LayerNorms.

Inputs are fresh each run: several shapes, float32 and float64, an ``eps`` large enough to
matter, a constant row (variance 0) and non-square weights, so common slips show up and get named.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from sft_helpers.checks import references as _ref
from sft_helpers.checks.core import (
    CheckFailed,
    LearnerError,
    call_learner,
    check,
    compare_tensors,
    compare_types,
    diagnose,
    fail_if,
    fresh_generator,
    passed,
)

__all__ = ["check_layer_norm", "check_feed_forward", "check_encoder_layer"]


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


@check("layer norm", references=[_ref.layer_norm, _ref.torch_layer_norm])
def check_layer_norm(fn: Callable[..., Any]) -> Any:
    """Check ``fn(x, weight, bias, eps)`` against ``F.layer_norm`` on 4 fresh cases."""
    gen = fresh_generator()
    cases = _layer_norm_cases(gen)
    for text, x, w, b, eps in cases:
        expected = _ref.torch_layer_norm(x, x.shape[-1:], w, b, eps)
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


@check("feed-forward network", references=[_ref.feed_forward, _ref.FeedForward])
def check_feed_forward(fn: Callable[..., Any]) -> Any:
    """Check ``fn(x, w1, b1, w2, b2)`` = ``gelu(x W1^T + b1) W2^T + b2`` on 3 fresh shapes."""
    gen = fresh_generator()
    cases = _ffn_cases(gen)
    for x, w1, b1, w2, b2 in cases:
        expected = _ref.feed_forward(x, w1, b1, w2, b2)
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


# ----------------------------------------------------------------------------------------------
# The post-LN encoder layer (BERT's block)
# ----------------------------------------------------------------------------------------------
def _random_reference_layer(
    gen: torch.Generator,
    d_model: int,
    n_heads: int,
    d_ff: int,
    dropout: float,
    eps: float,
    dtype: torch.dtype,
) -> _ref.EncoderLayer:
    """A post-LN ``EncoderLayer`` with fresh weights; the two LayerNorms get different scales and shifts."""
    ref = _ref.EncoderLayer(d_model, n_heads, d_ff, dropout=dropout, norm_first=False, layer_norm_eps=eps)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) / max(p.shape[-1], 1) ** 0.5)
        for norm in (ref.norm1, ref.norm2):
            norm.weight.copy_(1 + 0.5 * torch.randn(d_model, generator=gen))
            norm.bias.copy_(0.5 * torch.randn(d_model, generator=gen))
    return ref.to(dtype)


def _encoder_layer_mistakes(ref: _ref.EncoderLayer, x: torch.Tensor, mask: torch.Tensor | None) -> dict:
    """What common wrong assemblies of the post-LN block compute (evaluation mode, no dropout)."""
    attn, ffn, n1, n2 = ref.attention, ref.ffn, ref.norm1, ref.norm2

    def post_ln(first=n1, second=n2, use_mask=True, ffn_input="h", second_residual="h", res1=True, res2=True):
        a = attn(x, mask if use_mask else None)
        h = first(x + a if res1 else a)
        f = ffn(x if ffn_input == "x" else h)
        base = x if second_residual == "x" else h
        return second(base + f if res2 else f)

    def pre_ln():
        h = x + attn(n1(x), mask)
        return h + ffn(n2(h))

    return {
        "this is the pre-LN (GPT-style) layout: BERT is post-LN, each LayerNorm is applied to the "
        "residual SUM (input + sub-layer output), not to the sub-layer's input": pre_ln,
        "the feed-forward network must read the output of the first LayerNorm, not the layer's input x": (
            lambda: post_ln(ffn_input="x")
        ),
        "the second residual adds the FFN output to the FFN's own input (the first LayerNorm's output), "
        "not to the layer's input x": lambda: post_ln(second_residual="x"),
        "the attention sub-layer's residual connection is missing: add its output to its input "
        "before the first LayerNorm": lambda: post_ln(res1=False),
        "the feed-forward sub-layer's residual connection is missing: add its output to its input "
        "before the second LayerNorm": lambda: post_ln(res2=False),
        "norm1 belongs to the attention sub-layer and norm2 to the feed-forward one (their weights differ)": (
            lambda: post_ln(first=n2, second=n1)
        ),
        "the mask is not used: pass it on to self.attention, or real tokens attend to padding": (
            lambda: post_ln(use_mask=False)
        ),
        "the second LayerNorm is missing: the layer's output is LayerNorm(h + ffn(h))": (
            lambda: post_ln(second=nn.Identity())
        ),
        "the first LayerNorm is missing: normalise the attention residual sum before the FFN": (
            lambda: post_ln(first=nn.Identity())
        ),
    }


def _hf_bert_layer(gen: torch.Generator, d_model: int, n_heads: int, d_ff: int) -> nn.Module:
    """A transformers ``BertLayer`` with fresh weights (no dropout), or None when transformers is missing."""
    try:
        BertConfig = _ref.third_party("transformers.BertConfig")  # noqa: N806
        BertLayer = _ref.third_party("transformers.models.bert.modeling_bert.BertLayer")  # noqa: N806
    except ImportError:  # pragma: no cover - transformers is a dependency of the course
        return None
    config = BertConfig(
        hidden_size=d_model,
        num_attention_heads=n_heads,
        intermediate_size=d_ff,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        hidden_act="gelu",
    )
    config._attn_implementation = "eager"
    layer = BertLayer(config).eval()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) / max(p.shape[-1], 1) ** 0.5)
        for norm in (layer.attention.output.LayerNorm, layer.output.LayerNorm):
            norm.weight.copy_(1 + 0.5 * torch.randn(d_model, generator=gen))
    return layer


def _build_learner_layer(
    layer_class: Any,
    ref: _ref.EncoderLayer,
    d_model: int,
    n_heads: int,
    d_ff: int,
    dropout: float,
    eps: float,
) -> nn.Module:
    layer = call_learner(layer_class, d_model, n_heads, d_ff, dropout=dropout, layer_norm_eps=eps)
    fail_if(
        None
        if isinstance(layer, nn.Module)
        else f"{layer_class!r}(...) built {type(layer).__name__}, not an nn.Module",
        "pass the class itself (a subclass of nn.Module), e.g. check_encoder_layer(MyEncoderLayer)",
    )
    try:
        layer.load_state_dict(ref.state_dict())
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise CheckFailed(
            f"the reference weights could not be loaded into your layer ({first})",
            "keep the sub-modules the exercise's __init__ creates, with their names "
            "(attention, norm1, ffn, norm2, dropout1, dropout2); write only forward",
        ) from None
    return layer.to(ref.norm1.weight.dtype)


@check("post-LN encoder layer", references=[_ref.EncoderLayer, _ref.TorchTransformerEncoderLayer])
def check_encoder_layer(layer_class: Any) -> Any:
    """Check a post-LN encoder layer class against ``blocks.EncoderLayer`` and transformers' ``BertLayer``.

    ``layer_class(d_model, n_heads, d_ff, dropout=..., layer_norm_eps=...)`` must keep EncoderLayer's
    sub-modules (``attention``, ``norm1``, ``ffn``, ``norm2``, ``dropout1``, ``dropout2``) so weights
    can be copied in; ``forward(x, mask=None)`` is compared on fresh inputs with a padding mask, in
    float32 and float64, in training mode (dropout in the same places) and against a real BertLayer.
    """
    gen = fresh_generator()
    n_heads = int(torch.randint(2, 5, (1,), generator=gen))
    d_model = n_heads * int(torch.randint(3, 7, (1,), generator=gen))
    d_ff = 4 * d_model
    eps = 1e-12
    lengths = torch.tensor([6, int(torch.randint(2, 6, (1,), generator=gen)), 1])
    am = (torch.arange(6)[None, :] < lengths[:, None]).long()  # (3, 6) with padding
    real = am.bool()
    cases = [
        ("float32 with a padding mask", torch.float32, _ref.padding_mask(am)),
        ("float64 without a mask", torch.float64, None),
    ]
    for text, dtype, mask in cases:
        ref = _random_reference_layer(gen, d_model, n_heads, d_ff, 0.0, eps, dtype).eval()
        layer = _build_learner_layer(layer_class, ref, d_model, n_heads, d_ff, 0.0, eps).eval()
        x = torch.randn(3, 6, d_model, generator=gen, dtype=dtype)
        with torch.no_grad():
            expected = ref(x, mask)
            got = call_learner(layer, x, mask)
        where = f"on x of shape {tuple(x.shape)} ({text}, d_model={d_model}, {n_heads} heads)"
        if isinstance(got, torch.Tensor) and mask is not None and got.shape == expected.shape:
            got_cmp, expected_cmp = got[real], expected[real]  # padded rows are not read downstream
        else:
            got_cmp, expected_cmp = got, expected
        message = compare_tensors(got_cmp, expected_cmp, name="output", atol=1e-5, rtol=1e-4)
        if message:
            with torch.no_grad():
                mistakes = _encoder_layer_mistakes(ref, x, mask)
                variants = {
                    advice: (lambda f=f, masked=mask is not None: f()[real] if masked else f())
                    for advice, f in mistakes.items()
                }
                hint = diagnose(got_cmp, variants) if isinstance(got_cmp, torch.Tensor) else ""
            raise CheckFailed(
                f"{where}: {message}",
                hint or "post-LN: residual sum first, then LayerNorm, for attention and then for the FFN",
            )

    # training mode: dropout on each sub-layer's output before its residual sum, as in BERT
    ref = _random_reference_layer(gen, d_model, n_heads, d_ff, 0.3, eps, torch.float32).train()
    layer = _build_learner_layer(layer_class, ref, d_model, n_heads, d_ff, 0.3, eps).train()
    x = torch.randn(3, 6, d_model, generator=gen)
    mask = _ref.padding_mask(am)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    with torch.no_grad():
        torch.manual_seed(seed)
        expected = ref(x, mask)
        torch.manual_seed(seed)
        got = call_learner(layer, x, mask)
        without = copy.deepcopy(ref)
        without.dropout1, without.dropout2 = nn.Identity(), nn.Identity()
        torch.manual_seed(seed)
        no_sublayer_dropout = without(x, mask)
    fail_if(compare_types(got, torch.Tensor, name="training-mode output"))
    message = compare_tensors(got[real], expected[real], name="training-mode output", atol=1e-5, rtol=1e-4)
    if message:
        hint = (
            "in training mode the sub-layer outputs are not dropped out: apply self.dropout1 to the "
            "attention output and self.dropout2 to the FFN output, before each residual sum"
            if compare_tensors(got[real], no_sublayer_dropout[real]) is None
            else "dropout belongs on each sub-layer's output (dropout1 after attention, dropout2 after the "
            "FFN), before the residual sum and the LayerNorm, and nowhere else"
        )
        raise CheckFailed(
            f"with dropout=0.3 in training mode (same random seed as the reference): {message}", hint
        )

    # a real BERT layer from transformers, its weights copied in
    hf = _hf_bert_layer(gen, d_model, n_heads, d_ff)
    if hf is not None:
        ours = _ref.EncoderLayer.from_hf_bert_layer(hf).eval()
        layer = _build_learner_layer(
            layer_class, ours, d_model, n_heads, d_ff, 0.0, hf.output.LayerNorm.eps
        ).eval()
        x = torch.randn(3, 6, d_model, generator=gen)
        additive = (1.0 - am[:, None, None, :].float()) * torch.finfo(torch.float32).min  # (3, 1, 1, 6)
        with torch.no_grad():
            theirs = hf(x, attention_mask=additive)
            theirs = theirs[0] if isinstance(theirs, tuple) else theirs
            got = call_learner(layer, x, _ref.padding_mask(am))
        message = compare_tensors(got[real], theirs[real], name="output", atol=1e-5, rtol=1e-4)
        if message:
            raise CheckFailed(
                f"against transformers' BertLayer with the same weights (real positions): {message}",
                "BERT's layer is post-LN with LayerNorm eps taken from the layer; compare your forward "
                "with the layout in section 3",
            )
    return passed(
        f"your layer equals blocks.EncoderLayer (post-LN) in float32 with padding and in float64, "
        f"places dropout as BERT does in training mode, and reproduces transformers' BertLayer with "
        f"copied weights (d_model={d_model}, {n_heads} heads)"
    )
