"""Exercise checks of chapter 7 (instruction SFT): the prompt label mask, the response-only loss,
and the number of parameters LoRA trains.

Each check builds fresh random inputs, compares the learner's answer with the reference
(``sft_helpers.instructions.mask_prompt_labels``, PyTorch's cross-entropy on shifted labels,
peft's own count on a model with the given layer shapes) and names the likely mistake.
"""

from __future__ import annotations

import random
from typing import Any

import torch
import torch.nn.functional as F

from sft_helpers.checks import references as _ref
from sft_helpers.checks.core import (
    call_learner,
    check,
    compare_tensors,
    compare_types,
    compare_values,
    diagnose,
    fail_if,
    fresh_generator,
    fresh_seed,
    passed,
)

__all__ = [
    "check_label_mask",
    "check_response_loss",
    "check_lora_parameter_count",
    "lora_count_with_peft",
    "reference_lora_parameter_count",
    "reference_response_loss",
]

PAD_ID = 2  # as in SmolLM2: the pad token is <|im_end|>, which also ends every response
EOS_ID = 2


# ----------------------------------------------------------------------------------------------
# label mask
# ----------------------------------------------------------------------------------------------
def _random_batch(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded chats: prompt, response ending in <|im_end|>, then pads that are also <|im_end|>."""
    batch = int(torch.randint(2, 6, (1,), generator=gen))
    prompt_lengths = torch.randint(2, 8, (batch,), generator=gen)
    response_lengths = torch.randint(2, 6, (batch,), generator=gen)
    total = prompt_lengths + response_lengths
    seq = int(total.max()) + int(torch.randint(0, 3, (1,), generator=gen))
    input_ids = torch.randint(3, 500, (batch, seq), generator=gen)
    attention_mask = torch.zeros(batch, seq, dtype=torch.long)
    for i in range(batch):
        input_ids[i, total[i] - 1] = EOS_ID  # the response's last token
        input_ids[i, total[i] :] = PAD_ID
        attention_mask[i, : total[i]] = 1
    return input_ids, prompt_lengths, attention_mask


def _wrong_masks(ids: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor) -> dict[str, Any]:
    pos = torch.arange(ids.shape[1])[None, :]
    in_prompt = pos < lengths[:, None]
    pad = mask == 0
    return {
        "the mask is the wrong way round: -100 goes on the PROMPT tokens, the response keeps its ids": (
            ids.masked_fill(~in_prompt | pad, _ref.IGNORE_INDEX)
        ),
        "padding (attention_mask == 0) must get -100 too, or the model learns to predict pad tokens": (
            ids.masked_fill(in_prompt, _ref.IGNORE_INDEX)
        ),
        "find padding from attention_mask, not from input_ids == pad id: the pad id is <|im_end|>, "
        "which also ends each response and must stay a label": (
            ids.masked_fill(in_prompt | (ids == PAD_ID), _ref.IGNORE_INDEX)
        ),
        "off by one: positions 0 .. prompt_length - 1 are the prompt (use pos < prompt_length)": (
            ids.masked_fill((pos <= lengths[:, None]) | pad, _ref.IGNORE_INDEX)
        ),
        "off by one: the last prompt token is at prompt_length - 1, so it must be masked too": (
            ids.masked_fill((pos < lengths[:, None] - 1) | pad, _ref.IGNORE_INDEX)
        ),
        "masking sets the label to -100; it does not zero the token id": ids.masked_fill(in_prompt | pad, 0),
    }


@check("label mask for response-only training", references=[_ref.mask_prompt_labels])
def check_label_mask(fn: Any) -> Any:
    """``fn(input_ids, prompt_lengths, attention_mask) -> labels`` with -100 on prompt and padding."""
    gen = fresh_generator()
    for trial in range(12):
        ids, lengths, mask = _random_batch(gen)
        expected = _ref.mask_prompt_labels(ids, lengths, mask)
        got = call_learner(fn, ids.clone(), lengths.clone(), mask.clone())
        fail_if(compare_types(got, torch.Tensor, name="labels"))
        if got.shape == expected.shape and got.dtype != expected.dtype and not got.is_floating_point():
            got = got.long()  # int32 is fine: the loss accepts any integer labels after .long()
        message = compare_tensors(got, expected, name="labels")
        if message:
            where = f" (trial {trial + 1}: prompt_lengths={lengths.tolist()}, attention_mask rows sum to {mask.sum(1).tolist()})"
            fail_if(
                message + where,
                diagnose(got, _wrong_masks(ids, lengths, mask))
                or "copy input_ids, then put -100 where position < prompt_length and where attention_mask is 0",
            )
    return passed("labels match on 12 random right-padded batches (pad id = end-of-turn id, as in SmolLM2)")


# The chapter's notebook feeds later cells with these references (checks.learner_or_reference).
reference_response_loss = _ref.response_loss
reference_lora_parameter_count = _ref.lora_parameter_count
lora_count_with_peft = _ref.lora_count_with_peft


# ----------------------------------------------------------------------------------------------
# response-only loss
# ----------------------------------------------------------------------------------------------
def _wrong_losses(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, Any]:
    vocab = logits.shape[-1]
    flat_logits, flat_labels = logits.reshape(-1, vocab), labels.reshape(-1)
    shifted_logits, shifted_labels = logits[:, :-1].reshape(-1, vocab), labels[:, 1:].reshape(-1)
    keep = shifted_labels != _ref.IGNORE_INDEX
    return {
        "shift: the logits at position t predict the token at t + 1, so compare logits[:, :-1] "
        "with labels[:, 1:]": lambda: F.cross_entropy(
            flat_logits, flat_labels, ignore_index=_ref.IGNORE_INDEX
        ),
        "shifted the wrong way: logits[:, :-1] go with labels[:, 1:], not logits[:, 1:] with labels[:, :-1]": (
            lambda: F.cross_entropy(
                logits[:, 1:].reshape(-1, vocab), labels[:, :-1].reshape(-1), ignore_index=_ref.IGNORE_INDEX
            )
        ),
        "average over the response tokens only (the -100 positions must not count in the mean)": lambda: (
            F.cross_entropy(shifted_logits[keep], shifted_labels[keep], reduction="sum")
            / shifted_labels.numel()
        ),
        "the loss is the MEAN over response tokens, not their sum": lambda: F.cross_entropy(
            shifted_logits, shifted_labels, ignore_index=_ref.IGNORE_INDEX, reduction="sum"
        ),
    }


@check("response-only next-token loss", references=[_ref.response_loss])
def check_response_loss(fn: Any) -> Any:
    """``fn(logits, labels) -> scalar``: the causal-LM loss over the non-(-100) labels."""
    gen = fresh_generator()
    for trial in range(8):
        ids, lengths, mask = _random_batch(gen)
        labels = _ref.mask_prompt_labels(ids, lengths, mask)
        vocab = 500
        logits = torch.randn(*ids.shape, vocab, generator=gen) * 2  # (batch, seq, vocab)
        expected = _ref.response_loss(logits, labels)
        got = call_learner(fn, logits.clone(), labels.clone())
        if isinstance(got, float | int) and not isinstance(got, bool):
            got = torch.tensor(float(got))
        fail_if(compare_types(got, torch.Tensor, name="loss"))
        message = compare_tensors(
            got.detach().float().reshape(()) if got.numel() == 1 else got, expected, "loss"
        )
        if message:
            fail_if(
                f"{message} (trial {trial + 1}, logits of shape {tuple(logits.shape)})",
                diagnose(
                    got.detach().float().reshape(-1)[0] if got.numel() else got, _wrong_losses(logits, labels)
                )
                or "shift by one (logits[:, :-1] vs labels[:, 1:]), flatten, then F.cross_entropy with "
                "ignore_index=-100",
            )
    return passed("matches the shifted cross-entropy with ignore_index=-100 on 8 random batches")


# ----------------------------------------------------------------------------------------------
# LoRA parameter count
# ----------------------------------------------------------------------------------------------
@check("LoRA trainable parameter count", references=[_ref.lora_parameter_count], timeout=30)
def check_lora_parameter_count(fn: Any) -> Any:
    """``fn(shapes, rank) -> int``: trainable parameters of LoRA on Linear weights of shapes (out, in)."""
    rng = random.Random(fresh_seed())
    cases = [([(576, 576), (192, 576), (1536, 576)], 8)]  # SmolLM2: q_proj, k_proj, gate_proj
    for _ in range(5):
        shapes = [(rng.choice([16, 24, 40, 64]), rng.choice([8, 32, 48])) for _ in range(rng.randint(2, 4))]
        cases.append((shapes, rng.choice([1, 2, 4, 8])))
    for shapes, rank in cases:
        expected = _ref.lora_count_with_peft(shapes, rank)
        got = call_learner(fn, [tuple(s) for s in shapes], rank)
        if hasattr(got, "item") and callable(got.item):
            got = got.item()
        fail_if(compare_types(got, int, name="count"))
        message = compare_values(got, expected, name="count", atol=0, rtol=0)
        if message:
            variants = {
                "each adapted weight W (out x in) gets A (rank x in) and B (out x rank): rank * (in + out), "
                "not rank * in * out": sum(rank * o * i for o, i in shapes),
                "that is the full fine-tuning count (out * in per layer); LoRA trains far fewer": sum(
                    o * i for o, i in shapes
                ),
                "count both matrices: A (rank x in) AND B (out x rank)": sum(rank * i for o, i in shapes),
                "count both matrices: B (out x rank) AND A (rank x in)": sum(rank * o for o, i in shapes),
                "sum over every adapted layer, not only the first": rank * sum(shapes[0]),
                "the count grows linearly with the rank, not with its square": sum(
                    rank * rank * (o + i) for o, i in shapes
                ),
            }
            fail_if(
                f"{message} for shapes={shapes}, rank={rank}",
                diagnose(got, variants)
                or "for each (out, in): rank * in for A plus out * rank for B; then sum",
            )
    return passed(f"matches peft's trainable parameter count on {len(cases)} sets of layer shapes and ranks")
