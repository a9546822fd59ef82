"""Plots for training: learning curves, confusion matrices, token-length histograms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["plot_history", "plot_confusion_matrix", "plot_length_histogram"]


def _axes(ax: Any, ncols: int = 1, figsize: tuple[float, float] | None = None) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, axes = plt.subplots(1, ncols, figsize=figsize)
    return fig, axes


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Moving average over ``window`` steps (shorter at the start), to see the trend in a noisy loss."""
    if window <= 1 or len(values) < 2:
        return values
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values, dtype=np.float64)
    for i in range(len(values)):
        lo = max(0, i + 1 - window)
        out[i] = (cumsum[i + 1] - cumsum[lo]) / (i + 1 - lo)
    return out


def plot_history(
    history: Mapping[str, Sequence[Mapping[str, float]]], metric: str | None = None, smooth: int | None = None
) -> Any:
    """Left: training loss per step (raw and smoothed) and evaluation loss; right: ``metric`` per evaluation.

    ``history`` is ``TrainResult.history``: ``{"train": [{step, loss, ...}], "eval": [{step, loss, ...}]}``.
    Returns the matplotlib figure.
    """
    if not isinstance(history, Mapping) or "train" not in history:
        raise ValueError(
            "history must be TrainResult.history: a dict with 'train' (and 'eval') lists of rows."
        )
    train_rows, eval_rows = list(history["train"]), list(history.get("eval", []))
    if not train_rows:
        raise ValueError("history['train'] is empty: nothing was trained, so there is nothing to plot.")
    show_metric = metric is not None and metric != "loss" and bool(eval_rows)
    if show_metric and metric not in eval_rows[0]:
        raise ValueError(
            f"metric={metric!r} is not in the evaluation rows; choose one of {sorted(eval_rows[0])}."
        )
    fig, axes = _axes(None, ncols=2 if show_metric else 1)
    ax_loss = axes[0] if show_metric else axes
    steps = np.array([row["step"] for row in train_rows])
    losses = np.array([row["loss"] for row in train_rows], dtype=np.float64)
    window = smooth or max(1, len(losses) // 20)
    ax_loss.plot(steps, losses, color="tab:blue", alpha=0.25, lw=1, label="train (per step)")
    ax_loss.plot(steps, _smooth(losses, window), color="tab:blue", lw=1.5, label=f"train (mean of {window})")
    if eval_rows:
        ax_loss.plot(
            [r["step"] for r in eval_rows],
            [r["loss"] for r in eval_rows],
            "o-",
            color="tab:orange",
            label="validation",
        )
    ax_loss.set(xlabel="optimizer step", ylabel="loss", title="Loss")
    ax_loss.legend(fontsize=8)
    if show_metric:
        ax_metric = axes[1]
        ax_metric.plot(
            [r["step"] for r in eval_rows], [r[metric] for r in eval_rows], "o-", color="tab:green"
        )
        ax_metric.set(xlabel="optimizer step", ylabel=metric, title=f"Validation {metric}")
    return fig


def plot_confusion_matrix(
    cm: Any, labels: Sequence[str], ax: Any = None, normalize: bool = False, title: str = "Confusion matrix"
) -> Any:
    """Heat map of a confusion matrix (rows: true label, columns: predicted), counts written in cells.

    ``normalize=True`` divides each row by its total, so a cell reads "fraction of this true class".
    Returns the axes.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (n_labels, n_labels) matrix, got shape {cm.shape}.")
    if len(labels) != cm.shape[0]:
        raise ValueError(f"labels has {len(labels)} names but cm is {cm.shape[0]}x{cm.shape[0]}.")
    values = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    _, ax = _axes(ax, figsize=(1.2 + 0.9 * len(labels), 1.0 + 0.8 * len(labels)))
    image = ax.imshow(values, cmap="Blues", vmin=0)
    ax.grid(False)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    threshold = values.max() / 2 if values.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            text = f"{values[i, j]:.2f}" if normalize else str(int(cm[i, j]))
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=9,
                color="white" if values[i, j] > threshold else "black",
            )
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_length_histogram(
    lengths: Sequence[int], max_length: int | None = None, ax: Any = None, bins: int = 30
) -> Any:
    """Histogram of token counts per example, with the truncation length (if any) marked.

    Returns the axes.
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or len(lengths) == 0:
        raise ValueError("lengths must be a non-empty 1-D sequence of token counts.")
    _, ax = _axes(ax)
    ax.hist(lengths, bins=bins, color="tab:blue", alpha=0.8)
    ax.axvline(np.median(lengths), color="black", ls="--", lw=1, label=f"median {np.median(lengths):.0f}")
    if max_length is not None:
        ax.axvline(max_length, color="tab:red", lw=1.5, label=f"max_length {max_length}")
    ax.set(xlabel="tokens per example (special tokens included)", ylabel="examples", title="Length in tokens")
    ax.legend(fontsize=8)
    return ax
