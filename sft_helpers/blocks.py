"""The Transformer encoder block, built from scratch and loadable with real BERT weights (chapter 3).

``FeedForward`` (Linear, activation, Linear), ``EncoderLayer`` (self-attention and feed-forward,
each wrapped in a residual connection and LayerNorm, post-LN as in BERT or pre-LN as in GPT),
``Encoder`` (a stack of them), the functional ``layer_norm``/``feed_forward`` that the exercises
ask for, and parameter/FLOP accounting for the chapter's "where does the compute go" section.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from sft_helpers.attention import MultiHeadSelfAttention, padding_mask

__all__ = [
    "ACTIVATIONS",
    "layer_norm",
    "feed_forward",
    "FeedForward",
    "EncoderLayer",
    "Encoder",
    "encode_with_our_layers",
    "copy_bert_layer",
    "parameter_breakdown",
    "encoder_flops_per_token",
]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "gelu": F.gelu,  # exact (erf) GELU, BERT's "gelu"
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),  # GPT-2's approximation
    "relu": F.relu,  # the original Transformer's
    "silu": F.silu,
}


def _activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} is not known; use one of {', '.join(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Normalise each vector over its last dim to mean 0, variance 1, then scale and shift.

    ``(x - mean) / sqrt(var + eps) * weight + bias`` with the *biased* variance (divide by d),
    as ``nn.LayerNorm`` does. ``x`` is ``(..., d)``, ``weight`` and ``bias`` are ``(d,)``.
    """
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias  # (..., d)


def feed_forward(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    activation: str = "gelu",
) -> torch.Tensor:
    """The position-wise feed-forward network ``act(x W1^T + b1) W2^T + b2``.

    ``x`` is ``(..., d_model)``; ``w1`` is ``(d_ff, d_model)`` and ``w2`` ``(d_model, d_ff)`` in
    ``nn.Linear``'s (out, in) layout. Every position is transformed on its own.
    """
    hidden = _activation(activation)(x @ w1.T + b1)  # (..., d_ff)
    return hidden @ w2.T + b2  # (..., d_model)


class FeedForward(nn.Module):
    """``Linear(d_model, d_ff)``, activation, dropout, ``Linear(d_ff, d_model)``, applied per position."""

    def __init__(self, d_model: int, d_ff: int, activation: str = "gelu", dropout: float = 0.0) -> None:
        super().__init__()
        if d_model < 1 or d_ff < 1:
            raise ValueError(f"d_model and d_ff must be positive, got {d_model} and {d_ff}.")
        self.activation_name = activation
        self.activation = _activation(activation)
        self.linear1 = nn.Linear(d_model, d_ff)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))  # (..., d_model)


class EncoderLayer(nn.Module):
    """One Transformer encoder layer: self-attention and feed-forward, each with residual + LayerNorm.

    Post-LN (``norm_first=False``, BERT): ``x = norm1(x + attn(x)); x = norm2(x + ffn(x))``.
    Pre-LN (``norm_first=True``, GPT-2 and most recent models): ``x = x + attn(norm1(x));
    x = x + ffn(norm2(x))``. ``forward(x, mask)`` takes ``(batch, seq, d_model)`` and the boolean
    mask of ``MultiHeadSelfAttention`` (True = may attend) and returns ``(batch, seq, d_model)``.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.0,
        norm_first: bool = False,
        layer_norm_eps: float = 1e-12,
        activation: str = "gelu",
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.attention = MultiHeadSelfAttention(d_model, n_heads, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.ffn = FeedForward(d_model, d_ff, activation=activation, dropout=dropout)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)  # on the attention output, before the residual sum
        self.dropout2 = nn.Dropout(dropout)  # on the feed-forward output, before the residual sum

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.norm_first:
            x = x + self.dropout1(self.attention(self.norm1(x), mask))  # (batch, seq, d_model)
            return x + self.dropout2(self.ffn(self.norm2(x)))
        x = self.norm1(x + self.dropout1(self.attention(x, mask)))  # (batch, seq, d_model)
        return self.norm2(x + self.dropout2(self.ffn(x)))

    @classmethod
    def from_hf_bert_layer(cls, layer: nn.Module) -> EncoderLayer:
        """A post-LN ``EncoderLayer`` holding a copy of a transformers ``BertLayer``'s weights.

        Where BERT keeps each weight: ``attention.self.{query,key,value}`` and
        ``attention.output.dense`` (our ``attention``), ``attention.output.LayerNorm`` (``norm1``),
        ``intermediate.dense`` and ``output.dense`` (``ffn.linear1``/``linear2``), ``output.LayerNorm``
        (``norm2``).
        """
        needed = ("attention", "intermediate", "output")
        if not all(hasattr(layer, name) for name in needed):
            raise TypeError(
                f"expected a transformers BertLayer (model.encoder.layer[i]), got {type(layer).__name__}."
            )
        sa = layer.attention.self
        config = getattr(sa, "config", None)
        activation = getattr(config, "hidden_act", "gelu")
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(
                f"this BertLayer uses activation {activation!r}, which EncoderLayer does not know."
            )
        ours = cls(
            d_model=sa.query.in_features,
            n_heads=sa.num_attention_heads,
            d_ff=layer.intermediate.dense.out_features,
            dropout=float(layer.output.dropout.p),
            norm_first=False,
            layer_norm_eps=layer.output.LayerNorm.eps,
            activation=activation,
        )
        ours.attention = MultiHeadSelfAttention.from_hf_bert_attention(layer.attention)
        pairs = (
            (ours.norm1, layer.attention.output.LayerNorm),
            (ours.ffn.linear1, layer.intermediate.dense),
            (ours.ffn.linear2, layer.output.dense),
            (ours.norm2, layer.output.LayerNorm),
        )
        with torch.no_grad():
            for mine, theirs in pairs:
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
        ours.norm1.eps = layer.attention.output.LayerNorm.eps
        weight = sa.query.weight
        return ours.to(dtype=weight.dtype, device=weight.device).train(layer.training)

    @classmethod
    def from_torch_encoder_layer(cls, layer: nn.TransformerEncoderLayer) -> EncoderLayer:
        """An ``EncoderLayer`` with a copy of ``nn.TransformerEncoderLayer``'s weights (batch_first, gelu/relu)."""
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(f"expected nn.TransformerEncoderLayer, got {type(layer).__name__}.")
        act = layer.activation
        names = {F.gelu: "gelu", F.relu: "relu"}
        if act not in names:
            raise ValueError("only activation='gelu' or 'relu' layers can be copied.")
        ours = cls(
            d_model=layer.linear1.in_features,
            n_heads=layer.self_attn.num_heads,
            d_ff=layer.linear1.out_features,
            dropout=float(layer.dropout.p),
            norm_first=layer.norm_first,
            layer_norm_eps=layer.norm1.eps,
            activation=names[act],
        )
        ours.attention = MultiHeadSelfAttention.from_torch_multihead_attention(layer.self_attn)
        pairs = (
            (ours.norm1, layer.norm1),
            (ours.norm2, layer.norm2),
            (ours.ffn.linear1, layer.linear1),
            (ours.ffn.linear2, layer.linear2),
        )
        with torch.no_grad():
            for mine, theirs in pairs:
                mine.weight.copy_(theirs.weight)
                mine.bias.copy_(theirs.bias)
        return ours.to(dtype=layer.linear1.weight.dtype).train(layer.training)


class Encoder(nn.Module):
    """A stack of ``EncoderLayer``s; ``forward`` can also return every layer's output."""

    def __init__(self, layers: list[EncoderLayer]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, return_all: bool = False
    ) -> torch.Tensor | list[torch.Tensor]:
        """``(batch, seq, d_model)`` -> the last layer's output, or ``[x, layer1(x), ...]`` with ``return_all``."""
        states = [x]
        for layer in self.layers:
            states.append(layer(states[-1], mask))
        return states if return_all else states[-1]

    @classmethod
    def from_hf_bert(cls, model: nn.Module, layer_class: type[nn.Module] | None = None) -> Encoder:
        """Copy every layer of a transformers ``BertModel`` (``model.encoder.layer``).

        ``layer_class`` (default ``EncoderLayer``) is the class each copy is built from, e.g. a
        learner's own post-LN layer; see :func:`copy_bert_layer` for what it must accept.
        """
        encoder = getattr(model, "encoder", None) or getattr(getattr(model, "bert", None), "encoder", None)
        if encoder is None or not hasattr(encoder, "layer"):
            raise TypeError(
                f"expected a transformers BertModel (with .encoder.layer), got {type(model).__name__}."
            )
        return cls([copy_bert_layer(layer, layer_class) for layer in encoder.layer])


def copy_bert_layer(layer: nn.Module, layer_class: type[nn.Module] | None = None) -> nn.Module:
    """A copy of a transformers ``BertLayer`` as an instance of ``layer_class`` (default ``EncoderLayer``).

    ``layer_class(d_model, n_heads, d_ff, dropout=..., layer_norm_eps=...)`` must build a module
    with ``EncoderLayer``'s sub-modules and names (``attention``, ``norm1``, ``ffn``, ``norm2``,
    ``dropout1``, ``dropout2``): the weights are copied with ``load_state_dict`` from
    ``EncoderLayer.from_hf_bert_layer(layer)``, and the feed-forward activation is taken from it.
    """
    reference = EncoderLayer.from_hf_bert_layer(layer)
    if layer_class is None or layer_class is EncoderLayer:
        return reference
    ours = layer_class(
        reference.attention.d_model,
        reference.attention.n_heads,
        reference.ffn.linear1.out_features,
        dropout=float(reference.dropout1.p),
        layer_norm_eps=reference.norm2.eps,
    )
    try:
        ours.load_state_dict(reference.state_dict())
    except RuntimeError as error:
        raise TypeError(
            f"{getattr(layer_class, '__name__', layer_class)} does not have EncoderLayer's sub-modules "
            "(attention, norm1, ffn, norm2), so BERT's weights cannot be copied into it: "
            f"{str(error).splitlines()[0]}"
        ) from error
    ffn = getattr(ours, "ffn", None)
    if isinstance(ffn, FeedForward):
        ffn.activation, ffn.activation_name = reference.ffn.activation, reference.ffn.activation_name
    for mine, theirs in (
        (getattr(ours, "norm1", None), reference.norm1),
        (getattr(ours, "norm2", None), reference.norm2),
    ):
        if isinstance(mine, nn.LayerNorm):
            mine.eps = theirs.eps
    weight = reference.norm1.weight
    return ours.to(dtype=weight.dtype, device=weight.device).train(layer.training)


@torch.no_grad()
def encode_with_our_layers(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    layer_class: type[nn.Module] | None = None,
) -> list[torch.Tensor]:
    """Run a BertModel's own embeddings, then our copies of its layers: ``[embeddings, layer 1, ..., layer N]``.

    Compare the list with ``model(..., output_hidden_states=True).hidden_states``. ``layer_class``
    (default ``EncoderLayer``) builds the copies, e.g. the chapter exercise's own layer.
    """
    bert = model if hasattr(model, "embeddings") else getattr(model, "bert", model)
    was_training = bert.training
    bert.eval()
    try:
        x = bert.embeddings(input_ids=input_ids)  # (batch, seq, d_model)
        encoder = Encoder.from_hf_bert(bert, layer_class=layer_class).eval()
        return encoder(x, padding_mask(attention_mask), return_all=True)
    finally:
        bert.train(was_training)


def parameter_breakdown(model: nn.Module) -> dict[str, int]:
    """Parameters of a BertModel by part: embeddings, attention (Q/K/V/out), feed-forward, LayerNorms, pooler."""
    parts = {"embeddings": 0, "attention": 0, "feed-forward": 0, "layer norms": 0, "pooler": 0, "other": 0}
    for name, p in model.named_parameters():
        if any(part.lower().startswith(("layernorm", "norm")) for part in name.split(".")):
            parts["layer norms"] += p.numel()
        elif "embeddings" in name:
            parts["embeddings"] += p.numel()
        elif ".attention." in name:
            parts["attention"] += p.numel()
        elif ".intermediate." in name or ".output.dense" in name:
            parts["feed-forward"] += p.numel()
        elif "pooler" in name:
            parts["pooler"] += p.numel()
        else:
            parts["other"] += p.numel()
    return {k: v for k, v in parts.items() if v}


def encoder_flops_per_token(d_model: int, d_ff: int, n_layers: int, seq_len: int) -> dict[str, int]:
    """Forward-pass FLOPs per token of an encoder stack (a multiply-add counts as 2 FLOPs).

    Per layer: Q, K, V and output projections ``4 * 2 * d^2``; the feed-forward ``2 * 2 * d * d_ff``;
    scores ``q k^T`` and ``weights v`` ``2 * 2 * seq * d`` (these grow with the sequence). Softmax,
    LayerNorm, GELU and biases are a few FLOPs per element and left out.
    """
    projections = 8 * d_model * d_model
    ffn = 4 * d_model * d_ff
    attention = 4 * seq_len * d_model
    return {
        "projections": n_layers * projections,
        "feed-forward": n_layers * ffn,
        "attention scores": n_layers * attention,
        "total": n_layers * (projections + ffn + attention),
    }
