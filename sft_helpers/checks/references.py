"""Every reference the exercise checks compare with, in one place, held privately.

The chapter checks import this module as ``_ref`` and compute expected values only from it,
never through a public name such as ``sft_helpers.attention.scaled_dot_product_attention``: a
notebook cell that rebinds that name (``attention.scaled_dot_product_attention = my_fn``) does not
change what ``_ref.scaled_dot_product_attention`` is. The objects are bound here when
``sft_helpers.checks`` is imported, and :mod:`sft_helpers.checks.integrity` notices a rebinding
of the public names (or of these) and turns the next check red.

Three kinds:

* the library's implementations (the course's own ``attention``, ``blocks``, ... modules);
* the torch functions and classes expected values are computed with;
* references written for the checks only (``one_hot_embedding``, ``collate``, ``response_loss``,
  ...), defined below;

plus third-party references imported on first use (scikit-learn, seqeval, peft, transformers)
through :func:`third_party`, which refuses an object that notebook code has put in their place.
"""

from __future__ import annotations

import copy
import importlib
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from sft_helpers import attention as _attention
from sft_helpers import blocks as _blocks
from sft_helpers import experiments as _experiments
from sft_helpers import instructions as _instructions
from sft_helpers import qa as _qa
from sft_helpers import spans as _spans
from sft_helpers import teaching_loop as _teaching_loop
from sft_helpers import tokenization as _tokenization
from sft_helpers.checks import integrity

# ----------------------------------------------------------------------------------------------
# The library's implementations, captured at import
# ----------------------------------------------------------------------------------------------
scaled_dot_product_attention = _attention.scaled_dot_product_attention
split_heads = _attention.split_heads
merge_heads = _attention.merge_heads
padding_mask = _attention.padding_mask
causal_mask = _attention.causal_mask
MultiHeadSelfAttention = _attention.MultiHeadSelfAttention

layer_norm = _blocks.layer_norm
feed_forward = _blocks.feed_forward
FeedForward = _blocks.FeedForward
EncoderLayer = _blocks.EncoderLayer

flip_labels = _experiments.flip_labels
pick_best_config = _experiments.pick_best_config
grid = _experiments.grid
LoRALinear = _experiments.LoRALinear
add_lora = _experiments.add_lora
inject_lora = _experiments.inject_lora
count_parameters = _experiments.count_parameters

align_labels = _tokenization.align_labels
b_to_i_map = _tokenization.b_to_i_map
IGNORE_INDEX = _tokenization.IGNORE_INDEX

decode_iob2 = _spans.decode_iob2
repair_iob2 = _spans.repair_iob2

mask_prompt_labels = _instructions.mask_prompt_labels

char_to_token_span = _qa.char_to_token_span
best_span = _qa.best_span

library_training_step = _teaching_loop.training_step

# ----------------------------------------------------------------------------------------------
# torch, captured at import
# ----------------------------------------------------------------------------------------------
torch_layer_norm = F.layer_norm
cross_entropy = F.cross_entropy
one_hot = F.one_hot
multi_head_attention_forward = F.multi_head_attention_forward
TorchMultiheadAttention = nn.MultiheadAttention
TorchTransformerEncoderLayer = nn.TransformerEncoderLayer


# ----------------------------------------------------------------------------------------------
# Third-party references, imported on first use
# ----------------------------------------------------------------------------------------------
def third_party(dotted: str) -> Any:
    """``module.attr`` imported now and added to the snapshot; refused when notebook code replaced it."""
    module_name, _, attr = dotted.rpartition(".")
    try:
        return integrity.snapshot_of(dotted)
    except KeyError:
        pass
    value = getattr(importlib.import_module(module_name), attr)
    if integrity.from_notebook(value):
        name = getattr(value, "__qualname__", type(value).__name__)
        raise integrity.Rebound([f"{dotted} (now {name}, defined in the notebook)"])
    integrity.watch(dotted, value)
    return value


# ----------------------------------------------------------------------------------------------
# Chapter 1: embeddings
# ----------------------------------------------------------------------------------------------
def one_hot_embedding(ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``one_hot(ids) @ weight``: ids of any shape (...), weight (vocab, dim) -> (..., dim)."""
    hot = one_hot(ids, num_classes=weight.shape[0]).to(weight.dtype)  # (..., vocab)
    return hot @ weight  # (..., dim)


def sinusoid_table(
    seq_len: int, d_model: int, base: float = 10000.0, first_position: int = 0, cos_first: bool = False
) -> torch.Tensor:
    """Interleaved sin/cos table (seq_len, d_model) in float64; the options build the wrong variants."""
    position = torch.arange(first_position, first_position + seq_len, dtype=torch.float64)[
        :, None
    ]  # (seq, 1)
    pair = torch.arange(0, d_model, 2, dtype=torch.float64)  # (ceil(d/2),) the 2i of each sin/cos pair
    angle = position / base ** (pair / d_model)  # (seq, ceil(d/2))
    first, second = (torch.cos, torch.sin) if cos_first else (torch.sin, torch.cos)
    table = torch.zeros(seq_len, d_model, dtype=torch.float64)
    table[:, 0::2] = first(angle)
    table[:, 1::2] = second(angle[:, : d_model // 2])
    return table


def sinusoidal_positions(seq_len: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(same): (seq_len, d_model) float32."""
    return sinusoid_table(seq_len, d_model).to(torch.float32)


# ----------------------------------------------------------------------------------------------
# Chapter 4: classification
# ----------------------------------------------------------------------------------------------
def collate(examples: list[dict[str, Any]], pad_id: int, left: bool = False) -> dict[str, torch.Tensor]:
    """Pad every ``input_ids`` to the longest in the batch (right side), mask 1 on real tokens."""
    width = max(len(e["input_ids"]) for e in examples)
    ids, mask = [], []
    for e in examples:
        pad = width - len(e["input_ids"])
        real = list(e["input_ids"])
        ids.append([pad_id] * pad + real if left else real + [pad_id] * pad)
        mask.append([0] * pad + [1] * len(real) if left else [1] * len(real) + [0] * pad)
    return {
        "input_ids": torch.tensor(ids, dtype=torch.long),
        "attention_mask": torch.tensor(mask, dtype=torch.long),
        "labels": torch.tensor([e["label"] for e in examples], dtype=torch.long),
    }


def training_step(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    optimizer: Any,
    scheduler: Any,
    max_grad_norm: float,
) -> float:
    """forward -> loss -> backward -> clip -> optimizer step -> scheduler step -> zero_grad."""
    return library_training_step(model, batch, optimizer, scheduler, max_grad_norm)


# ----------------------------------------------------------------------------------------------
# Chapter 6: LoRA through peft
# ----------------------------------------------------------------------------------------------
def peft_lora_layer(base: torch.nn.Linear, r: int, alpha: float) -> torch.nn.Module:
    """peft's LoRA layer around a copy of ``base`` (dropout 0)."""
    lora_config = third_party("peft.LoraConfig")
    get_peft_model = third_party("peft.get_peft_model")

    class Holder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = copy.deepcopy(base)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x)

    config = lora_config(r=r, lora_alpha=alpha, target_modules=["lin"], lora_dropout=0.0)
    return get_peft_model(Holder(), config)


# ----------------------------------------------------------------------------------------------
# Chapter 7: instruction tuning
# ----------------------------------------------------------------------------------------------
def response_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of next-token predictions over positions whose label is not -100."""
    vocab = logits.shape[-1]
    return cross_entropy(
        logits[:, :-1].reshape(-1, vocab).float(), labels[:, 1:].reshape(-1), ignore_index=IGNORE_INDEX
    )


def lora_parameter_count(shapes: Sequence[tuple[int, int]], rank: int) -> int:
    """Trainable parameters of LoRA on layers with weight shapes (out, in): A is (rank, in),
    B is (out, rank), so rank * (in + out) per layer (what peft creates; see the check)."""
    return sum(rank * (d_in + d_out) for d_out, d_in in shapes)


def lora_count_with_peft(shapes: Sequence[tuple[int, int]], rank: int) -> int:
    """What peft trains when LoRA of ``rank`` wraps bias-free Linear layers of weight shapes (out, in)."""
    lora_config = third_party("peft.LoraConfig")
    get_peft_model = third_party("peft.get_peft_model")

    layers = torch.nn.ModuleDict(
        {f"layer{i}": torch.nn.Linear(d_in, d_out, bias=False) for i, (d_out, d_in) in enumerate(shapes)}
    )

    class Stack(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = layers

    model = get_peft_model(
        Stack(), lora_config(r=rank, lora_alpha=2 * rank, target_modules=list(layers.keys()))
    )
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [name for name in dir() if not name.startswith("_") and name not in {"annotations", "math"}]
del math
