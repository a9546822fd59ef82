"""Scaled dot-product and multi-head self-attention, written from scratch (chapter 2).

Masks are boolean with True where attention is *allowed*: the convention of
``torch.nn.functional.scaled_dot_product_attention``. (``nn.MultiheadAttention`` uses the
opposite: True there means *blocked*.) A query whose every key is masked gets zero weights
and a zero output instead of NaN.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "scaled_dot_product_attention",
    "padding_mask",
    "causal_mask",
    "split_heads",
    "merge_heads",
    "MultiHeadSelfAttention",
]


def _check_mask(mask: torch.Tensor, scores_shape: torch.Size, what: str = "mask") -> None:
    """Raise a TypeError/ValueError unless ``mask`` is boolean and broadcastable to ``scores_shape``."""
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{what} must be a torch.Tensor of dtype torch.bool, got {type(mask).__name__}.")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"{what} must have dtype torch.bool (True = may attend), got {mask.dtype}. Convert a "
            "tokenizer's 0/1 attention_mask with padding_mask(attention_mask), or use mask.bool()."
        )
    expected = "(" + ", ".join(str(n) for n in scores_shape) + ")"
    try:
        broadcast = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        broadcast = None
    if broadcast != scores_shape:
        raise ValueError(
            f"{what} has shape {tuple(mask.shape)}, which does not broadcast to the attention scores' "
            f"shape {expected} = (..., seq_q, seq_k). A padding mask should be (batch, 1, 1, seq_k), "
            "a causal mask (seq_q, seq_k)."
        )


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    dropout_p: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T / sqrt(d)) v``; returns ``(output, weights)``.

    ``q`` is ``(..., seq_q, d)``, ``k`` is ``(..., seq_k, d)``, ``v`` is ``(..., seq_k, d_v)``;
    ``mask`` is boolean, broadcastable to ``(..., seq_q, seq_k)``, True where attention is allowed.
    ``output`` is ``(..., seq_q, d_v)`` and ``weights`` ``(..., seq_q, seq_k)`` (before dropout).
    ``dropout_p`` drops attention weights (use it only while training).
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}.")
        if t.ndim < 2:
            raise ValueError(
                f"{name} must have shape (..., seq, d) with at least 2 dims, got {tuple(t.shape)}."
            )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must share their last dimension d: q is {tuple(q.shape)}, k is {tuple(k.shape)}."
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions (dim -2): k is {tuple(k.shape)}, "
            f"v is {tuple(v.shape)}."
        )
    try:
        torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the leading (batch, head) dims of q, k and v must broadcast: q is {tuple(q.shape)}, k is "
            f"{tuple(k.shape)}, v is {tuple(v.shape)}; give them the same (..., seq, d) layout."
        ) from None
    d = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., seq_q, seq_k)
    if mask is not None:
        _check_mask(mask, scores.shape)
        # The most negative finite number, not -inf: a fully masked row then stays finite
        # (softmax of -inf everywhere is 0/0 = NaN); multiplying by the mask zeroes it below.
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)  # each row sums to 1 over seq_k
    if mask is not None:
        weights = weights * mask  # exact zeros where masked; all-zero rows when nothing is allowed
    dropped = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return dropped @ v, weights  # (..., seq_q, d_v), (..., seq_q, seq_k)


def padding_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """A tokenizer's 0/1 ``attention_mask`` of shape ``(batch, seq)`` -> boolean ``(batch, 1, 1, seq)``.

    The two singleton dims broadcast over heads and query positions: every query may look
    at the real tokens and at no padding.
    """
    if not isinstance(attention_mask, torch.Tensor):
        raise TypeError(
            f"attention_mask must be a torch.Tensor (use return_tensors='pt'), got {type(attention_mask).__name__}."
        )
    if attention_mask.ndim != 2:
        raise ValueError(
            f"attention_mask must have shape (batch, seq) as a tokenizer returns it, got {tuple(attention_mask.shape)}."
        )
    if attention_mask.dtype != torch.bool:
        if attention_mask.is_floating_point() or attention_mask.is_complex():
            raise TypeError(
                f"attention_mask must hold 0/1 integers or booleans, got dtype {attention_mask.dtype}."
            )
        if attention_mask.numel() and not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
            raise ValueError("attention_mask must hold only 0 (padding) and 1 (real token).")
    return attention_mask.bool()[:, None, None, :]


def causal_mask(seq_len: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``(seq_len, seq_len)`` lower-triangular mask: position i may attend to 0..i."""
    if not isinstance(seq_len, int) or isinstance(seq_len, bool) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive int, got {seq_len!r}.")
    return torch.ones(seq_len, seq_len, dtype=torch.bool, device=device).tril()


def split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """``(batch, seq, d_model)`` -> ``(batch, n_heads, seq, d_head)`` with ``d_head = d_model // n_heads``."""
    if x.ndim != 3:
        raise ValueError(f"x must have shape (batch, seq, d_model), got {tuple(x.shape)}.")
    batch, seq, d_model = x.shape
    if not isinstance(n_heads, int) or n_heads < 1 or d_model % n_heads:
        raise ValueError(f"n_heads={n_heads!r} must be a positive int dividing d_model={d_model}.")
    # Feature j of head h is feature h * d_head + j of the model: view, then bring heads forward.
    return x.view(batch, seq, n_heads, d_model // n_heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(batch, n_heads, seq, d_head)`` -> ``(batch, seq, n_heads * d_head)``, the inverse of split_heads."""
    if x.ndim != 4:
        raise ValueError(f"x must have shape (batch, n_heads, seq, d_head), got {tuple(x.shape)}.")
    batch, n_heads, seq, d_head = x.shape
    return x.transpose(1, 2).reshape(batch, seq, n_heads * d_head)


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention: project to Q, K, V, split heads, attend, merge, project out.

    ``forward(x, mask)`` takes ``x`` of shape ``(batch, seq, d_model)`` and a boolean mask
    broadcastable to ``(batch, n_heads, seq, seq)`` (True = may attend), and returns
    ``(batch, seq, d_model)``. The last attention weights, ``(batch, n_heads, seq, seq)``,
    stay in ``self.last_attention`` (detached) for plots.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        if not isinstance(d_model, int) or not isinstance(n_heads, int) or d_model < 1 or n_heads < 1:
            raise ValueError(f"d_model and n_heads must be positive ints, got {d_model!r} and {n_heads!r}.")
        if d_model % n_heads:
            raise ValueError(
                f"d_model={d_model} must be divisible by n_heads={n_heads} (each head gets d_model/n_heads)."
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (batch, seq, d_model={self.d_model}), got {tuple(x.shape)}.")
        batch, seq, _ = x.shape
        if (
            mask is not None
            and isinstance(mask, torch.Tensor)
            and mask.ndim == 2
            and mask.shape != (seq, seq)
        ):
            raise ValueError(
                f"a 2-D mask must be (seq, seq) = ({seq}, {seq}), got {tuple(mask.shape)}. For a tokenizer's "
                "(batch, seq) attention_mask, pass padding_mask(attention_mask) of shape (batch, 1, 1, seq)."
            )
        q = split_heads(self.q_proj(x), self.n_heads)  # (batch, heads, seq, d_head)
        k = split_heads(self.k_proj(x), self.n_heads)  # (batch, heads, seq, d_head)
        v = split_heads(self.v_proj(x), self.n_heads)  # (batch, heads, seq, d_head)
        p = self.dropout if self.training else 0.0
        out, weights = scaled_dot_product_attention(
            q, k, v, mask, dropout_p=p
        )  # out: (batch, heads, seq, d_head)
        self.last_attention = weights.detach()  # (batch, heads, seq, seq)
        return self.out_proj(merge_heads(out))  # (batch, seq, d_model)

    @torch.no_grad()
    def load_projections(
        self, q: nn.Linear, k: nn.Linear, v: nn.Linear, out: nn.Linear
    ) -> MultiHeadSelfAttention:
        """Copy the weights and biases of four ``nn.Linear(d_model, d_model)`` into this module."""
        for ours, theirs in ((self.q_proj, q), (self.k_proj, k), (self.v_proj, v), (self.out_proj, out)):
            if ours.weight.shape != theirs.weight.shape:
                raise ValueError(
                    f"cannot copy a Linear of weight shape {tuple(theirs.weight.shape)} into one of "
                    f"{tuple(ours.weight.shape)}: d_model differs."
                )
            ours.weight.copy_(theirs.weight)
            if ours.bias is not None:
                if theirs.bias is None:
                    raise ValueError(
                        "the source Linear has no bias; build MultiHeadSelfAttention(bias=False)."
                    )
                ours.bias.copy_(theirs.bias)
        return self

    @classmethod
    def from_hf_bert_attention(cls, attention: nn.Module) -> MultiHeadSelfAttention:
        """Build one from a transformers ``BertAttention`` (``layer.attention``), weights copied.

        BERT keeps Q/K/V in ``attention.self.{query,key,value}`` and the output projection in
        ``attention.output.dense`` (followed there by dropout, the residual and LayerNorm, which
        live in ``blocks.EncoderLayer`` here).
        """
        if not (hasattr(attention, "self") and hasattr(attention, "output")):
            raise TypeError(
                f"expected a transformers BertAttention (model.encoder.layer[i].attention), got {type(attention).__name__}."
            )
        sa = attention.self
        d_model, n_heads = sa.query.in_features, sa.num_attention_heads
        p = float(getattr(sa.dropout, "p", 0.0))
        module = cls(d_model, n_heads, dropout=p)
        module.load_projections(sa.query, sa.key, sa.value, attention.output.dense)
        return module.to(dtype=sa.query.weight.dtype, device=sa.query.weight.device)

    @classmethod
    def from_torch_multihead_attention(cls, mha: nn.MultiheadAttention) -> MultiHeadSelfAttention:
        """Build one from ``torch.nn.MultiheadAttention`` (its packed ``in_proj_weight`` split in three)."""
        if not isinstance(mha, nn.MultiheadAttention) or mha.in_proj_weight is None:
            raise TypeError(
                "expected an nn.MultiheadAttention with equal q/k/v sizes (packed in_proj_weight)."
            )
        d = mha.embed_dim
        module = cls(d, mha.num_heads, dropout=mha.dropout, bias=mha.in_proj_bias is not None)
        with torch.no_grad():
            for i, proj in enumerate((module.q_proj, module.k_proj, module.v_proj)):
                proj.weight.copy_(mha.in_proj_weight[i * d : (i + 1) * d])
                if proj.bias is not None:
                    proj.bias.copy_(mha.in_proj_bias[i * d : (i + 1) * d])
            module.out_proj.weight.copy_(mha.out_proj.weight)
            if module.out_proj.bias is not None:
                module.out_proj.bias.copy_(mha.out_proj.bias)
        return module.to(dtype=mha.in_proj_weight.dtype, device=mha.in_proj_weight.device)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_heads={self.n_heads}, d_head={self.d_head}, dropout={self.dropout}"
