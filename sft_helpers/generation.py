"""Batched greedy generation from a chat model, with left padding.

A decoder writes its answer one token at a time after the prompt, so every prompt in a batch
must *end* at the same position: prompts are padded on the left (the attention mask hides the
pads, and transformers derives the positions from it). Prompts are sorted by length before
batching, so little padding is needed, and the answers are returned in the original order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["chat_prompt", "generate"]


def _autocast(device: torch.device, bf16: bool | None) -> contextlib.AbstractContextManager:
    from sft_helpers.runtime import resolve_bf16

    if not resolve_bf16(device, bf16):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def chat_prompt(tokenizer: Any, prompt: str) -> str:
    """The chat-template text of one user ``prompt`` followed by the assistant header."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )


@torch.no_grad()
def generate(
    model: torch.nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int = 64,
    batch_size: int = 8,
    chat: bool = True,
    bf16: bool | None = None,
) -> list[str]:
    """Greedy answers to ``prompts`` (decoded, special tokens dropped), in the order given.

    ``chat=True`` wraps each prompt in the chat template (user turn + assistant header); with
    ``chat=False`` the prompts are used as they are. Generation stops at the tokenizer's
    end-of-sequence token or after ``max_new_tokens`` tokens (a batch stops as soon as all of its
    answers have ended). ``bf16``: bf16 autocast, as in training; None means where the hardware
    computes bf16 natively (``runtime.resolve_bf16``), float32 elsewhere. Greedy answers in bf16
    can differ from float32 ones in a few tokens.
    """
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings; wrap a single prompt as [prompt].")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be a positive int, got {max_new_tokens!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    texts = [chat_prompt(tokenizer, p) if chat else p for p in prompts]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    answers: list[str] = [""] * len(texts)
    old_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in chosen], return_tensors="pt", padding=True, add_special_tokens=False
            ).to(device)  # input_ids, attention_mask: (batch, longest prompt), pads on the left
            with _autocast(device, bf16):
                output = model.generate(
                    **batch,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    pad_token_id=pad_id,
                    eos_token_id=tokenizer.eos_token_id,
                )  # (batch, prompt + new tokens)
            new_tokens = output[:, batch["input_ids"].shape[1] :]
            for i, ids in zip(chosen, new_tokens, strict=True):
                answers[i] = tokenizer.decode(ids, skip_special_tokens=True).strip()
    finally:
        tokenizer.padding_side = old_side
        if was_training:
            model.train()
    return answers
