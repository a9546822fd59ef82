"""The pieces of chapter 4's hand-written training loop: one optimizer step, and a validation report.

Chapter 4 trains its classifier with a loop of about twenty lines that the learner can read
whole (the library's ``sft_helpers.training.train`` adds checkpoints, resume, early stopping,
gradient accumulation, distributed training and input checks around the same step). Two
pieces live here so that they are tested:

* ``training_step``: the reference for the chapter's exercise (forward, backward, clip, step,
  schedule, zero the gradients), used when the learner's version has not passed its check;
* ``confidence_report``: what one validation pass says beyond accuracy: the mean loss, how
  much of it comes from wrong predictions, and how confident the model is when it is right
  and when it is wrong. A validation loss can rise while accuracy rises: a few mistakes made
  with growing confidence cost more and more loss (``-log p`` of the true class grows without
  bound as ``p`` goes to 0) while the number of mistakes falls.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["training_step", "confidence_report"]


def training_step(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    max_grad_norm: float,
) -> float:
    """One optimizer step on one batch; returns the batch's loss (before the update) as a float."""
    model.train()
    loss = model(**batch).loss  # mean cross-entropy of the batch (the model computes it from "labels")
    loss.backward()  # fills every parameter's .grad
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)  # between backward and step
    optimizer.step()
    scheduler.step()  # the learning rate of the next step
    optimizer.zero_grad()  # or the next backward() adds to these gradients
    return loss.item()


def confidence_report(logits: Any, labels: Any) -> dict[str, float]:
    """Loss, accuracy and confidence of classification ``logits`` ``(n, classes)`` against ``labels`` ``(n,)``.

    Returns ``loss`` (mean cross-entropy, what the model's loss would be), ``accuracy``,
    ``macro_f1``, ``confidence`` (mean probability of the predicted class), ``wrong`` (number
    of mistakes), ``loss_right`` / ``loss_wrong`` (mean loss over right / wrong predictions,
    0 when there are none), ``loss_share_wrong`` (fraction of the summed loss that comes from
    the mistakes) and ``confidence_wrong`` (mean confidence of the mistakes, 0 without any).
    """
    from sft_helpers.metrics import precision_recall_f1

    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels)
    if logits.ndim != 2 or labels.ndim != 1 or len(logits) != len(labels) or len(labels) == 0:
        raise ValueError(
            f"expected logits (n, classes) and labels (n,) with n > 0, got {logits.shape} and {labels.shape}."
        )
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log-softmax, stable
    probs = np.exp(log_probs)
    predicted = probs.argmax(axis=1)
    losses = -log_probs[np.arange(len(labels)), labels]  # -log p(true class), one per example
    wrong = predicted != labels
    confidence = probs.max(axis=1)
    total = float(losses.sum())
    return {
        "loss": float(losses.mean()),
        "accuracy": float(1.0 - wrong.mean()),
        "macro_f1": float(precision_recall_f1(labels, predicted, average="macro")["f1"]),
        "confidence": float(confidence.mean()),
        "wrong": int(wrong.sum()),
        "loss_right": float(losses[~wrong].mean()) if (~wrong).any() else 0.0,
        "loss_wrong": float(losses[wrong].mean()) if wrong.any() else 0.0,
        "loss_share_wrong": float(losses[wrong].sum() / total) if total > 0 else 0.0,
        "confidence_wrong": float(confidence[wrong].mean()) if wrong.any() else 0.0,
    }
