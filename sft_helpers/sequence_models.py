"""A GRU against self-attention on what decides between them (chapter 2, section 9).

Wall-clock time on a small CPU is *not* what made attention replace recurrent networks: a
small ``nn.GRU`` runs its time loop in optimised C++ and is cheap. What favours attention is
measured here:

* :func:`count_sequential_ops`: how many operations run one after another (a recurrence
  needs ``n`` dependent steps; one attention layer a fixed number, whatever ``n``);
* :func:`thread_speedup`: how much of the work parallel hardware can take (time with one
  thread over time with all threads);
* :func:`gradient_reach`: the gradient of the output at the last position with respect to
  the first input (the path a training signal travels);
* :func:`train_recall` on :func:`recall_first_batch`: a long-range recall task (output the
  first token after ``n - 1`` distractors) that a briefly trained GRU fails and one
  attention layer solves.

Every function is seeded and sized for a CPU: seconds, not minutes.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from sft_helpers import attention

__all__ = [
    "recall_first_batch",
    "GRURecall",
    "AttentionRecall",
    "train_recall",
    "evaluate_recall",
    "gradient_reach",
    "count_sequential_ops",
    "gru_step_by_step",
    "time_ms",
    "thread_speedup",
]


# ----------------------------------------------------------------------------------------------
# The long-range recall task
# ----------------------------------------------------------------------------------------------
def recall_first_batch(
    batch: int, seq_len: int, vocab: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tokens ``(batch, seq_len)`` in ``[0, vocab)``; the target is each row's first token.

    The model must read the whole sequence and answer at the last position: the information
    it needs sits ``seq_len - 1`` positions back, behind random distractors.
    """
    if seq_len < 2 or vocab < 2 or batch < 1:
        raise ValueError(f"need batch >= 1, seq_len >= 2 and vocab >= 2, got {batch}, {seq_len}, {vocab}.")
    tokens = torch.randint(0, vocab, (batch, seq_len), generator=generator)
    return tokens, tokens[:, 0].clone()


class GRURecall(nn.Module):
    """Embedding -> ``nn.GRU`` -> a linear read-out of the last hidden state."""

    def __init__(self, vocab: int, d_model: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.gru = nn.GRU(d_model, d_model, batch_first=True)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(self.embed(tokens))  # (batch, seq, d_model)
        return self.head(out[:, -1])  # (batch, vocab): the answer at the last position


class AttentionRecall(nn.Module):
    """Token + learned position embedding -> one self-attention layer (residual) -> read-out at the last position.

    ``attention_cls(d_model, n_heads)`` builds the attention layer, so the learner's own
    ``MultiHeadSelfAttention`` can be plugged in (``forward(x, mask=None)`` -> same shape).
    """

    def __init__(
        self,
        vocab: int,
        d_model: int,
        max_len: int,
        n_heads: int = 4,
        attention_cls: Callable[[int, int], nn.Module] = attention.MultiHeadSelfAttention,
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.position = nn.Embedding(max_len, d_model)
        self.attn = attention_cls(d_model, n_heads)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.embed(tokens) + self.position(positions)  # (batch, seq, d_model)
        x = x + self.attn(x)  # every position may look at every other, in one step
        return self.head(self.norm(x[:, -1]))  # (batch, vocab)


@torch.no_grad()
def evaluate_recall(model: nn.Module, seq_len: int, vocab: int, n: int = 1024, seed: int = 12345) -> float:
    """Accuracy of ``model`` on ``n`` fresh recall sequences (a fixed seed, so models share them)."""
    gen = torch.Generator().manual_seed(seed)
    tokens, targets = recall_first_batch(n, seq_len, vocab, gen)
    was_training = model.training
    model.eval()
    accuracy = (model(tokens).argmax(-1) == targets).float().mean().item()
    model.train(was_training)
    return accuracy


def train_recall(
    model: nn.Module,
    seq_len: int,
    vocab: int,
    steps: int,
    batch: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    eval_every: int = 0,
) -> dict[str, Any]:
    """Train ``model`` on fresh recall batches with Adam; return losses, accuracies and seconds.

    ``{"loss": [per step], "eval_steps": [...], "eval_accuracy": [...], "accuracy": final,
    "seconds": wall clock}``; gradients are clipped to norm 1 (a recurrent net's can explode).
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}.")
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses, eval_steps, eval_accuracy = [], [], []
    start = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        tokens, targets = recall_first_batch(batch, seq_len, vocab, gen)
        loss = F.cross_entropy(model(tokens), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if eval_every and (step % eval_every == 0 or step == steps):
            eval_steps.append(step)
            eval_accuracy.append(evaluate_recall(model, seq_len, vocab, n=256))
    seconds = time.perf_counter() - start
    return {
        "loss": losses,
        "eval_steps": eval_steps,
        "eval_accuracy": eval_accuracy,
        "accuracy": evaluate_recall(model, seq_len, vocab),
        "seconds": seconds,
    }


# ----------------------------------------------------------------------------------------------
# Gradient path length
# ----------------------------------------------------------------------------------------------
def gradient_reach(
    layer: nn.Module,
    seq_len: int,
    d_model: int,
    batch: int = 16,
    seed: int = 0,
) -> float:
    """Mean norm of d(output at the last position) / d(input at the first position).

    ``layer`` maps ``(batch, seq, d_model)`` to ``(batch, seq, d_model)`` (an ``nn.GRU``'s
    tuple output is unpacked); a float64 copy of it is used, so gradients of 1e-100 stay
    visible instead of rounding to 0. The output at the last position is projected on a fixed
    random unit vector, so the number is the length of one row of the Jacobian: how strongly
    the first token can still move (and, in training, be moved by) what the last position outputs.
    """
    layer = copy.deepcopy(layer).double()
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, seq_len, d_model, generator=gen, dtype=torch.float64, requires_grad=True)
    direction = torch.randn(d_model, generator=gen, dtype=torch.float64)
    direction = direction / direction.norm()
    out = layer(x)
    out = out[0] if isinstance(out, tuple) else out
    y = out[:, -1]  # (batch, d_model)
    (grad,) = torch.autograd.grad((y @ direction).sum(), x)
    return grad[:, 0].norm(dim=-1).mean().item()


# ----------------------------------------------------------------------------------------------
# Sequential steps and parallel hardware
# ----------------------------------------------------------------------------------------------
class _CountCalls(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Any = None) -> Any:
        self.count += 1
        return func(*args, **(kwargs or {}))


def count_sequential_ops(fn: Callable[[], Any]) -> int:
    """How many torch operations ``fn()`` calls (each waits for the one before in this code)."""
    with torch.no_grad(), _CountCalls() as counter:
        fn()
    return counter.count


def gru_step_by_step(cell: nn.GRUCell, x: torch.Tensor) -> torch.Tensor:
    """Run ``cell`` over ``x`` (batch, seq, d) one position at a time; returns the last state.

    The loop a recurrent network cannot avoid: step ``t`` needs the state of step ``t - 1``.
    """
    h = torch.zeros(x.shape[0], cell.hidden_size, dtype=x.dtype)
    for t in range(x.shape[1]):
        h = cell(x[:, t], h)
    return h


def time_ms(fn: Callable[[], Any], repeats: int = 5) -> float:
    """Fastest wall-clock milliseconds of ``fn()`` over ``repeats`` calls, after one warm-up call.

    The minimum is the least disturbed by other programs sharing the CPU.
    """
    fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return min(times)


def thread_speedup(
    fn: Callable[[], Any], threads: int | None = None, repeats: int = 5
) -> tuple[float, float, float]:
    """``(ms with 1 thread, ms with `threads`, speed-up)``: how much of ``fn``'s work runs in parallel.

    ``threads`` defaults to torch's current thread count; the setting is restored afterwards.
    A speed-up near ``threads`` means the work splits well over cores; near 1, that it does not.
    """
    before = torch.get_num_threads()
    threads = before if threads is None else threads
    try:
        torch.set_num_threads(1)
        one = time_ms(fn, repeats)
        torch.set_num_threads(threads)
        many = time_ms(fn, repeats)
    finally:
        torch.set_num_threads(before)
    return one, many, one / many if many > 0 else math.nan
