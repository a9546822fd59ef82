"""Exercise checks for chapter 2: scaled dot-product attention, splitting and merging heads,
and the whole multi-head self-attention layer assembled from them.

Each check runs the learner's function on fresh random inputs (several shapes, masks with
padding, causal and fully masked rows, float32 and float64), compares it with
``sft_helpers.attention`` and, when the answer is wrong, names the likely mistake.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

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

__all__ = [
    "check_scaled_dot_product_attention",
    "check_split_heads",
    "check_merge_heads",
    "check_multi_head_self_attention",
]


def _describe_case(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None, label: str) -> str:
    mask_text = "no mask" if mask is None else f"a {label} mask of shape {tuple(mask.shape)}"
    return f"with q of shape {tuple(q.shape)}, k and v of shape {tuple(k.shape)} ({q.dtype}) and {mask_text}"


def _sdpa_cases(gen: torch.Generator) -> list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, Any]]:
    """(label, q, k, v, mask) from easy to hard; sizes are drawn fresh so nothing can be memorised."""
    b, h = int(torch.randint(2, 4, (1,), generator=gen)), int(torch.randint(2, 4, (1,), generator=gen))
    sq, sk = int(torch.randint(3, 7, (1,), generator=gen)), int(torch.randint(7, 10, (1,), generator=gen))
    d, dv = int(torch.randint(8, 33, (1,), generator=gen)), int(torch.randint(2, 7, (1,), generator=gen))

    def rand(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        # scale 2 makes the softmax peaked enough that a missing or wrong scaling shows
        return 2 * torch.randn(*shape, generator=gen, dtype=dtype)

    cases: list[tuple[str, torch.Tensor, torch.Tensor, torch.Tensor, Any]] = []
    cases.append(("plain", rand(b, sq, d), rand(b, sk, d), rand(b, sk, dv), None))
    cases.append(("plain", rand(b, h, sq, d), rand(b, h, sk, d), rand(b, h, sk, dv), None))
    lengths = torch.randint(2, sk, (b,), generator=gen)
    lengths[0] = sk  # one sentence without padding
    am = (torch.arange(sk)[None, :] < lengths[:, None]).long()
    cases.append(("padding", rand(b, h, sq, d), rand(b, h, sk, d), rand(b, h, sk, dv), _ref.padding_mask(am)))
    cases.append(("causal", rand(b, h, sk, d), rand(b, h, sk, d), rand(b, h, sk, dv), _ref.causal_mask(sk)))
    full = torch.rand(b, 1, sq, sk, generator=gen) > 0.3
    full[0, 0, 1] = False  # query 1 of sentence 0 may attend to nothing
    full[-1, 0, 0] = False
    cases.append(
        (
            "random (with fully masked rows)",
            rand(b, h, sq, d, dtype=torch.float64),
            rand(b, h, sk, d, dtype=torch.float64),
            rand(b, h, sk, dv, dtype=torch.float64),
            full,
        )
    )
    return cases


def _wrong_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None,
    scale: float,
    axis: int = -1,
    invert: bool = False,
    zero_empty_rows: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention with one knob turned: the known mistakes the diagnosis compares with."""
    scores = q @ k.transpose(-2, -1) * scale
    if mask is not None:
        allowed = ~mask if invert else mask
        scores = scores.masked_fill(~allowed, -1e9)
    weights = torch.softmax(scores, dim=axis)
    if mask is not None and zero_empty_rows:
        weights = weights * (~mask if invert else mask)
    return weights @ v, weights


def _mistakes(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None, which: int
) -> dict:
    d = q.shape[-1]
    s = 1 / math.sqrt(d)
    variants: dict[str, Callable[[], Any]] = {
        "did you forget to divide the scores by sqrt(d)?": lambda: _wrong_attention(q, k, v, mask, 1.0)[
            which
        ],
        "you divided by d; the scaling is 1/sqrt(d) (use math.sqrt(d) or d ** 0.5)": lambda: _wrong_attention(
            q, k, v, mask, 1 / d
        )[which],
        "the softmax must run over the keys, the last axis (dim=-1): each query's weights sum to 1": lambda: (
            _wrong_attention(q, k, v, mask, s, axis=-2)[which]
        ),
    }
    if mask is not None:
        variants[
            "the mask is ignored: set the scores where mask is False to a very negative number before the softmax"
        ] = lambda: _wrong_attention(q, k, v, None, s)[which]
        variants[
            "the mask looks inverted: True means 'may attend' here (F.scaled_dot_product_attention's "
            "convention), so fill the scores where the mask is False (use ~mask)"
        ] = lambda: _wrong_attention(q, k, v, mask, s, invert=True, zero_empty_rows=False)[which]
        variants[
            "the mask looks inverted: True means 'may attend', so fill where the mask is False (~mask)"
        ] = lambda: _wrong_attention(q, k, v, mask, s, invert=True)[which]
        variants[
            "a query that may attend to nothing must get zero weights and a zero output: after the softmax, "
            "multiply the weights by the mask (a fully masked row otherwise becomes uniform)"
        ] = lambda: _wrong_attention(q, k, v, mask, s, zero_empty_rows=False)[which]
    return variants


@check("scaled dot-product attention", references=[_ref.scaled_dot_product_attention])
def check_scaled_dot_product_attention(fn: Callable[..., Any]) -> Any:
    """Check ``fn(q, k, v, mask=None) -> (output, weights)`` on 5 fresh cases, masks included."""
    gen = fresh_generator()
    cases = _sdpa_cases(gen)
    for label, q, k, v, mask in cases:
        where = _describe_case(q, k, mask, label)
        expected_out, expected_w = _ref.scaled_dot_product_attention(q, k, v, mask)
        got = call_learner(fn, q, k, v) if mask is None else call_learner(fn, q, k, v, mask)
        fail_if(
            compare_types(got, (tuple, list), name="return value"),
            "return two tensors: `return output, weights`",
        )
        if len(got) != 2:
            raise CheckFailed(
                f"your function returned {len(got)} values; (output, weights) was expected",
                "return output, weights",
            )
        out, weights = got
        for name, value, expected, which in (
            ("weights", weights, expected_w, 1),
            ("output", out, expected_out, 0),
        ):
            message = compare_tensors(value, expected, name=name, atol=1e-5, rtol=1e-4)
            if message:
                hint = diagnose(value, _mistakes(q, k, v, mask, which))
                if not hint and "NaN" in message and isinstance(value, torch.Tensor):
                    # NaN rows from -inf everywhere; the rest may still reveal the mistake
                    hint = diagnose(value.nan_to_num(0.0), _mistakes(q, k, v, mask, which))
                if not hint and "shape" in message and name == "weights":
                    hint = (
                        f"the weights are (..., seq_q, seq_k) = {tuple(expected.shape)}: q @ k.transpose(-2, -1), "
                        "not q @ k or k @ q"
                    )
                if not hint and "NaN" in message:
                    hint = (
                        "a row with every score at -inf gives softmax 0/0 = NaN; fill masked scores with "
                        "torch.finfo(scores.dtype).min (or -1e9) and multiply the weights by the mask"
                    )
                if not hint and "dtype" in message:
                    hint = "keep the inputs' dtype: avoid creating float32 tensors for constants"
                raise CheckFailed(f"{where}: {message}", hint)
    return passed(
        f"output and weights match on {len(cases)} fresh cases: no mask, padding, causal and fully masked rows, "
        "float32 and float64"
    )


def _head_cases(gen: torch.Generator) -> list[tuple[int, int, int, int]]:
    """(batch, seq, n_heads, d_head) with every size different, so a swapped axis shows."""
    cases = [(2, 5, 3, 4), (3, 7, 4, 2), (1, 3, 2, 5)]
    batch, seq = int(torch.randint(2, 5, (1,), generator=gen)), int(torch.randint(6, 12, (1,), generator=gen))
    cases.append((batch, seq, int(torch.randint(2, 5, (1,), generator=gen)), 3))
    return cases


def _split_mistakes(x: torch.Tensor, heads: int) -> dict[str, torch.Tensor]:
    batch, seq, _ = x.shape
    return {
        "a view straight to (batch, n_heads, seq, d_head) mixes positions and heads: view as "
        "(batch, seq, n_heads, d_head) first, then transpose(1, 2)": x.reshape(batch, heads, seq, -1),
        "you split d_model as (d_head, n_heads); head h must get features h*d_head ... (h+1)*d_head - 1: "
        "view as (batch, seq, n_heads, d_head)": x.view(batch, seq, -1, heads).permute(0, 3, 1, 2),
        "the heads must come before the positions: transpose(1, 2) after the view": x.view(
            batch, seq, heads, -1
        ),
    }


def _merge_mistakes(x: torch.Tensor) -> dict[str, torch.Tensor]:
    batch, _, seq, _ = x.shape
    return {
        "a reshape without the transpose mixes heads and positions: x.transpose(1, 2) first "
        "(back to (batch, seq, n_heads, d_head)), then reshape": x.reshape(batch, seq, -1),
        "the heads are merged in the wrong order: the features of head h must be h*d_head ... "
        "(h+1)*d_head - 1, so transpose(1, 2) only, not permute(0, 2, 3, 1)": x.permute(0, 2, 3, 1).reshape(
            batch, seq, -1
        ),
    }


@check("split heads", references=[_ref.split_heads])
def check_split_heads(fn: Callable[..., Any]) -> Any:
    """Check ``fn(x, n_heads)``: (batch, seq, d_model) -> (batch, n_heads, seq, d_head)."""
    gen = fresh_generator()
    for batch, seq, heads, d_head in _head_cases(gen):
        x = torch.randn(batch, seq, heads * d_head, generator=gen)
        expected = _ref.split_heads(x, heads)
        got = call_learner(fn, x, heads)
        message = compare_tensors(got, expected, name="output", atol=0, rtol=0)
        if message:
            hint = diagnose(got, _split_mistakes(x, heads), atol=0, rtol=0)
            raise CheckFailed(f"with x of shape {tuple(x.shape)} and n_heads={heads}: {message}", hint)
    return passed("split_heads matches on 4 shapes: head h holds features h*d_head to (h+1)*d_head - 1")


@check("merge heads", references=[_ref.merge_heads])
def check_merge_heads(fn: Callable[..., Any]) -> Any:
    """Check ``fn(x)``: (batch, n_heads, seq, d_head) -> (batch, seq, n_heads * d_head), split_heads' inverse."""
    gen = fresh_generator()
    for batch, seq, heads, d_head in _head_cases(gen):
        x = torch.randn(batch, heads, seq, d_head, generator=gen)
        expected = _ref.merge_heads(x)
        try:
            got = call_learner(fn, x)
        except LearnerError as error:
            if "view" in error.result.message:
                error.result.hint = (
                    "after a transpose the tensor is not contiguous in memory: use .reshape(...) "
                    "(or .contiguous().view(...))"
                )
            raise
        message = compare_tensors(got, expected, name="output", atol=0, rtol=0)
        if message:
            hint = diagnose(got, _merge_mistakes(x), atol=0, rtol=0)
            raise CheckFailed(f"with x of shape {tuple(x.shape)}: {message}", hint)
    return passed("merge_heads matches on 4 shapes and undoes split_heads")


# ----------------------------------------------------------------------------------------------
# The whole layer
# ----------------------------------------------------------------------------------------------
_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "out_proj")


def _random_torch_mha(
    d_model: int, n_heads: int, gen: torch.Generator, dtype: torch.dtype
) -> nn.MultiheadAttention:
    """``nn.MultiheadAttention`` with fresh random weights and biases (not torch's zero biases)."""
    mha = _ref.TorchMultiheadAttention(d_model, n_heads, batch_first=True, dtype=dtype).eval()
    with torch.no_grad():
        for p in mha.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=dtype) / math.sqrt(d_model))
    return mha


def _copy_torch_weights(layer: nn.Module, mha: nn.MultiheadAttention) -> None:
    d = mha.embed_dim
    with torch.no_grad():
        for i, name in enumerate(_PROJECTIONS[:3]):
            proj = getattr(layer, name)
            proj.weight.copy_(mha.in_proj_weight[i * d : (i + 1) * d])
            proj.bias.copy_(mha.in_proj_bias[i * d : (i + 1) * d])
        layer.out_proj.weight.copy_(mha.out_proj.weight)
        layer.out_proj.bias.copy_(mha.out_proj.bias)


def _mhsa_mistakes(ref: _ref.MultiHeadSelfAttention, x: torch.Tensor, mask: torch.Tensor | None) -> dict:
    """What the usual slips produce, computed from the reference's weights (lazily)."""
    heads = ref.n_heads

    def run(
        heads_: int = heads,
        use_mask: bool = True,
        out: bool = True,
        swap_kv: bool = False,
        scale_model: bool = False,
        q_for_all: bool = False,
    ) -> torch.Tensor:
        k_proj = ref.v_proj if swap_kv else (ref.q_proj if q_for_all else ref.k_proj)
        v_proj = ref.k_proj if swap_kv else (ref.q_proj if q_for_all else ref.v_proj)
        q = _ref.split_heads(ref.q_proj(x), heads_)
        k = _ref.split_heads(k_proj(x), heads_)
        v = _ref.split_heads(v_proj(x), heads_)
        if scale_model:  # scores scaled by sqrt(d_model) instead of sqrt(d_head)
            q = q * math.sqrt(ref.d_head) / math.sqrt(ref.d_model)
        merged = _ref.merge_heads(_ref.scaled_dot_product_attention(q, k, v, mask if use_mask else None)[0])
        return ref.out_proj(merged) if out else merged

    variants = {
        "the output projection is missing: after merging the heads, apply out_proj (W_O)": lambda: run(
            out=False
        ),
        "this is one wide head: split the projected queries, keys and values into n_heads heads before "
        "attending, and merge them afterwards": lambda: run(heads_=1),
        "the scores are scaled by sqrt(d_model); each head attends in d_head = d_model / n_heads "
        "dimensions, so the scale is 1/sqrt(d_head)": lambda: run(scale_model=True),
        "keys and values look swapped: keys come from k_proj, values from v_proj": lambda: run(swap_kv=True),
        "queries, keys and values must each have their own projection (q_proj, k_proj, v_proj)": lambda: run(
            q_for_all=True
        ),
    }
    if mask is not None:
        variants["the mask is not used: pass it on to the attention of every head"] = lambda: run(
            use_mask=False
        )
    return variants


def _learner_forward(layer: nn.Module, x: torch.Tensor, mask: torch.Tensor | None) -> Any:
    return call_learner(lambda t, m: layer(t) if m is None else layer(t, m), x, mask)


@check(
    "multi-head self-attention",
    references=[_ref.MultiHeadSelfAttention, _ref.TorchMultiheadAttention, _ref.multi_head_attention_forward],
)
def check_multi_head_self_attention(cls: Callable[..., Any]) -> Any:
    """``cls(d_model, n_heads)`` with ``q_proj``/``k_proj``/``v_proj``/``out_proj``; same as ``nn.MultiheadAttention``.

    Copies the weights of a random ``nn.MultiheadAttention`` into the learner's projections and
    compares outputs and per-head weights (``last_attention``) without a mask, with padding and
    with a causal mask, in float32 and float64; a fully padded sentence must give out_proj's
    bias (zero attention output), not NaN; gradients must reach all four projections.
    """
    gen = fresh_generator()
    sizes = [(12, 3), (16, 4), (int(torch.randint(2, 5, (1,), generator=gen)) * 6, 6)]
    for d_model, n_heads in sizes:
        where_layer = f"{cls.__name__ if hasattr(cls, '__name__') else 'your class'}({d_model}, {n_heads})"
        layer = call_learner(cls, d_model, n_heads)
        fail_if(
            compare_types(layer, nn.Module, name="object"),
            "the class must subclass nn.Module and call super().__init__() first in __init__",
        )
        for name in _PROJECTIONS:
            proj = getattr(layer, name, None)
            if not isinstance(proj, nn.Linear):
                raise CheckFailed(
                    f"{where_layer} has no nn.Linear attribute {name!r}",
                    "keep the four projections as attributes q_proj, k_proj, v_proj and out_proj, each "
                    "nn.Linear(d_model, d_model): the chapter copies pretrained weights into them by name",
                )
            if (proj.in_features, proj.out_features) != (d_model, d_model) or proj.bias is None:
                raise CheckFailed(
                    f"{where_layer}.{name} is nn.Linear({proj.in_features}, {proj.out_features}, "
                    f"bias={proj.bias is not None}); nn.Linear({d_model}, {d_model}) with a bias was expected",
                    "every projection maps d_model to d_model (the heads are slices of it, not extra width)",
                )
        n_params = sum(p.numel() for p in layer.parameters())
        fail_if(
            f"{where_layer} has {n_params} parameters, but the four projections hold "
            f"{4 * (d_model * d_model + d_model)}"
            if n_params != 4 * (d_model * d_model + d_model)
            else None,
            "the heads share the four projections: no per-head layers, no extra parameters",
        )
        layer.eval()
        for dtype in (torch.float32, torch.float64):
            layer = layer.to(dtype)
            mha = _random_torch_mha(d_model, n_heads, gen, dtype)
            _copy_torch_weights(layer, mha)
            ref = _ref.MultiHeadSelfAttention.from_torch_multihead_attention(mha).eval()
            batch, seq = 3, int(torch.randint(5, 9, (1,), generator=gen))
            x = torch.randn(batch, seq, d_model, generator=gen, dtype=dtype)
            lengths = torch.tensor([seq, seq - 2, 2])
            am = (torch.arange(seq)[None, :] < lengths[:, None]).long()
            cases = [
                ("no mask", None, {}),
                ("a padding mask", _ref.padding_mask(am), {"key_padding_mask": ~am.bool()}),
                ("a causal mask", _ref.causal_mask(seq), {"attn_mask": ~_ref.causal_mask(seq)}),
            ]
            for label, mask, torch_kwargs in cases:
                where = f"{where_layer} on x of shape {tuple(x.shape)} ({dtype}) with {label}"
                with torch.no_grad():
                    expected, expected_w = mha(x, x, x, average_attn_weights=False, **torch_kwargs)
                    got = _learner_forward(layer, x, mask)
                if isinstance(got, (tuple, list)):
                    raise CheckFailed(
                        f"{where}: forward returned a {type(got).__name__}; one tensor (batch, seq, d_model) "
                        "was expected",
                        "return only the output; keep the attention weights in self.last_attention",
                    )
                message = compare_tensors(got, expected, name="output", atol=1e-5, rtol=1e-4)
                if message:
                    with torch.no_grad():
                        hint = diagnose(got, _mhsa_mistakes(ref, x, mask))
                    raise CheckFailed(
                        f"{where}: {message} (nn.MultiheadAttention with the same weights)", hint
                    )
                weights = getattr(layer, "last_attention", None)
                fail_if(
                    None
                    if isinstance(weights, torch.Tensor)
                    else f"{where}: self.last_attention is {type(weights).__name__}, not the attention weights",
                    "keep the weights of the last forward pass: self.last_attention = weights.detach(), "
                    "of shape (batch, n_heads, seq, seq); the chapter plots them",
                )
                fail_if(
                    compare_tensors(weights, expected_w, name="last_attention"),
                    "last_attention holds one (seq, seq) map per head: (batch, n_heads, seq, seq), the "
                    "softmax weights of the attention call, not averaged over heads",
                )
            # a sentence that is all padding: zero attention output, so out_proj's bias, never NaN
            empty = _ref.padding_mask(torch.tensor([[1] * seq, [0] * seq]))
            x2 = x[:2]
            with torch.no_grad():
                got = _learner_forward(layer, x2, empty)
                want = ref(x2, empty)
            fail_if(
                compare_tensors(got, want, name="output with a fully padded sentence"),
                "a query with nothing to attend to must give zero weights (your attention function handles "
                "that); do not add -inf masks of your own",
            )
        # gradients reach every projection
        layer = layer.float().train()
        layer.zero_grad(set_to_none=True)
        x = torch.randn(2, 5, d_model, generator=gen)
        out = _learner_forward(layer, x, None)
        (out**2).sum().backward()
        missing = [n for n in _PROJECTIONS if getattr(layer, n).weight.grad is None]
        fail_if(
            f"{where_layer}: no gradient reached {missing}" if missing else None,
            "use every projection in forward and do not detach the tensors (detach only what you store "
            "in last_attention)",
        )
    return passed(
        f"same outputs and per-head weights as nn.MultiheadAttention with copied weights on {len(sizes)} sizes "
        "(3 to 6 heads), without a mask, with padding and causal masks, float32 and float64; a fully padded "
        "sentence gives no NaN; gradients reach all four projections"
    )
