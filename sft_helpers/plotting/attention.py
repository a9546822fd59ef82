"""Plots for chapters 2 and 3: attention heat maps, softmax saturation, timings, parameter counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

__all__ = ["plot_attention", "plot_softmax_saturation", "plot_timings", "plot_parameter_breakdown"]


def _as_matrix(weights: torch.Tensor | np.ndarray) -> np.ndarray:
    array = (
        weights.detach().float().cpu().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights)
    )
    if array.ndim != 2:
        raise ValueError(
            f"weights must be one (seq_q, seq_k) matrix, got shape {array.shape}: pick a sentence and a head "
            "first, e.g. weights[0, head]."
        )
    return array


def plot_attention(
    weights: torch.Tensor | np.ndarray,
    tokens_q: Sequence[str],
    tokens_k: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Heat map of a ``(seq_q, seq_k)`` attention matrix: row i shows where query token i looks.

    ``tokens_k`` defaults to ``tokens_q`` (self-attention). Returns the Axes.
    """
    matrix = _as_matrix(weights)
    tokens_k = list(tokens_q) if tokens_k is None else list(tokens_k)
    if matrix.shape != (len(tokens_q), len(tokens_k)):
        raise ValueError(
            f"weights has shape {matrix.shape} but there are {len(tokens_q)} query and {len(tokens_k)} key "
            "tokens; pass the tokens of the same (unpadded) sentence."
        )
    if ax is None:
        size = min(6.0, 1.5 + 0.28 * max(len(tokens_q), len(tokens_k)))
        _, ax = plt.subplots(figsize=(size + 0.8, size))
    image = ax.imshow(matrix, cmap="viridis", vmin=0.0, vmax=max(float(matrix.max()), 1e-9), aspect="auto")
    ax.set_xticks(range(len(tokens_k)), tokens_k, rotation=90, fontsize=8)
    ax.set_yticks(range(len(tokens_q)), tokens_q, fontsize=8)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    ax.grid(False)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        ax.set_title(title)
    return ax


def plot_softmax_saturation(
    dims: Sequence[int],
    unscaled: Sequence[float],
    scaled: Sequence[float],
    ax: Axes | None = None,
    ylabel: str = "mean largest softmax weight",
) -> Axes:
    """Line plot of a softmax statistic against the dimension d, with and without 1/sqrt(d)."""
    if not (len(dims) == len(unscaled) == len(scaled)):
        raise ValueError("dims, unscaled and scaled must have the same length.")
    if ax is None:
        _, ax = plt.subplots()
    ax.plot(dims, unscaled, "o-", label="q·k (no scaling)")
    ax.plot(dims, scaled, "s-", label="q·k / sqrt(d)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("dimension d of q and k")
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax


def plot_timings(
    lengths: Sequence[int],
    timings: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "milliseconds per forward pass",
) -> Axes:
    """Log-log lines of time against sequence length, one per method in ``timings``."""
    if ax is None:
        _, ax = plt.subplots()
    for name, values in timings.items():
        if len(values) != len(lengths):
            raise ValueError(f"timings[{name!r}] has {len(values)} values for {len(lengths)} lengths.")
        ax.plot(lengths, values, "o-", label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length")
    ax.set_ylabel(ylabel)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def plot_parameter_breakdown(
    counts: Mapping[str, int], ax: Axes | None = None, title: str | None = None
) -> Axes:
    """Horizontal bars of parameter counts by part, labelled with millions and share of the total."""
    if not counts:
        raise ValueError("counts is empty: pass {'part name': number of parameters, ...}.")
    total = sum(counts.values())
    if ax is None:
        _, ax = plt.subplots()
    names = list(counts)
    values = [counts[n] / 1e6 for n in names]
    bars = ax.barh(names, values)
    ax.invert_yaxis()
    for bar, name in zip(bars, names, strict=True):
        share = counts[name] / total if total else 0.0
        ax.annotate(
            f" {counts[name] / 1e6:.2f}M ({share:.0%})",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            fontsize=8,
        )
    ax.set_xlabel("parameters (millions)")
    ax.set_xlim(0, max(values) * 1.35 if max(values) > 0 else 1)
    if title:
        ax.set_title(title)
    return ax
