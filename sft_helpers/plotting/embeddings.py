"""Plots of embeddings: 2-D PCA maps of vectors, position-encoding heat maps, similarity by layer.

Every function draws on ``ax`` (or on a new figure when ``ax`` is None) and returns the Axes,
so a notebook can combine panels with ``plt.subplots``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

__all__ = [
    "PCA2D",
    "plot_embeddings_2d",
    "plot_neighbours",
    "plot_position_encodings",
    "plot_similarity_across_layers",
]


def _as_matrix(values: object, name: str) -> np.ndarray:
    """A 2-D float64 numpy array from a tensor, array or nested list (``name`` for the error)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().to("cpu", torch.float64).numpy()
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name} must be a 2-D tensor or array of numbers, got {type(values).__name__}."
        ) from error
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, features), got shape {tuple(array.shape)}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return array


@dataclass
class PCA2D:
    """Principal component analysis down to 2 dimensions, computed with an SVD.

    ``fit`` centres the rows and keeps the two directions of largest variance; ``transform``
    projects any rows (for example a word typed later) onto the same map. Signs are fixed
    (largest loading positive) so the same data always gives the same picture.
    """

    mean: np.ndarray | None = None  # (features,) the centre of the fitted rows
    components: np.ndarray | None = None  # (2, features) the two principal directions
    explained_variance_ratio: np.ndarray | None = None  # (2,) share of variance on each axis

    def fit(self, vectors: object) -> PCA2D:
        """Fit on ``vectors`` (rows, features); needs at least 2 rows and 2 features."""
        x = _as_matrix(vectors, "vectors")
        if x.shape[0] < 2 or x.shape[1] < 2:
            raise ValueError(f"PCA to 2-D needs at least 2 rows and 2 features, got shape {x.shape}.")
        self.mean = x.mean(axis=0)
        centred = x - self.mean
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        components = vt[:2]  # (2, features): at least 2 rows and 2 features give 2 directions
        signs = np.sign(components[np.arange(2), np.abs(components).argmax(axis=1)])
        signs[signs == 0] = 1.0
        self.components = components * signs[:, None]
        variance = singular**2
        total = variance.sum()
        self.explained_variance_ratio = variance[:2] / total if total > 0 else np.zeros(2)
        return self

    def transform(self, vectors: object) -> np.ndarray:
        """Project rows onto the fitted plane: returns (rows, 2)."""
        if self.mean is None or self.components is None:
            raise RuntimeError("Call fit(vectors) before transform().")
        x = _as_matrix(vectors, "vectors")
        if x.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"vectors have {x.shape[1]} features but the PCA was fitted on {self.mean.shape[0]}."
            )
        return (x - self.mean) @ self.components.T

    def fit_transform(self, vectors: object) -> np.ndarray:
        """``fit`` then ``transform`` on the same rows."""
        return self.fit(vectors).transform(vectors)


def _new_ax(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_embeddings_2d(
    vectors: object,
    labels: Sequence[str],
    groups: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    pca: PCA2D | None = None,
    avoid_overlap: bool = True,
) -> Axes:
    """Scatter ``vectors`` (rows, dim) on their first two principal components, one label per point.

    ``groups`` (one name per row) colours the points and adds a legend. Pass a fitted ``pca`` to
    reuse a map (for example to place new words on it); otherwise one is fitted on ``vectors``.
    The axis labels say how much of the variance each component keeps. With ``avoid_overlap``
    (the default) each label tries a few places around its point and is left out when all of
    them would cover another label or point; a note in the corner says how many were left out,
    and ``ax.hidden_labels`` lists them (the points themselves are always drawn).
    """
    x = _as_matrix(vectors, "vectors")
    labels = [str(label) for label in labels]
    if len(labels) != x.shape[0]:
        raise ValueError(
            f"labels has {len(labels)} entries but vectors has {x.shape[0]} rows; give one per row."
        )
    if groups is not None:
        groups = [str(g) for g in groups]
        if len(groups) != x.shape[0]:
            raise ValueError(
                f"groups has {len(groups)} entries but vectors has {x.shape[0]} rows; give one per row."
            )
    if pca is None:
        pca = PCA2D().fit(x)
    coords = pca.transform(x)  # (rows, 2)
    ax = _new_ax(ax)
    if groups is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=18, color="C0")
    else:
        for i, group in enumerate(dict.fromkeys(groups)):  # first-seen order, stable colours
            rows = [r for r, g in enumerate(groups) if g == group]
            ax.scatter(coords[rows, 0], coords[rows, 1], s=18, color=f"C{i % 10}", label=group)
        ax.legend(fontsize=8, loc="best", framealpha=0.7)
    ratio = pca.explained_variance_ratio
    ax.set_xlabel(f"PC 1 ({ratio[0]:.0%} of variance)")
    ax.set_ylabel(f"PC 2 ({ratio[1]:.0%} of variance)")
    if title:
        ax.set_title(title)
    hidden = _place_labels(ax, coords, labels) if avoid_overlap else []
    if not avoid_overlap:
        for (px, py), text in zip(coords, labels):
            ax.annotate(text, (px, py), xytext=(3, 2), textcoords="offset points", fontsize=8)
    ax.hidden_labels = hidden  # type: ignore[attr-defined]
    if hidden:
        ax.text(
            0.99,
            0.01,
            f"{len(hidden)} overlapping labels left out",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
            color="0.4",
        )
    return ax


# (dx, dy) in points and the horizontal/vertical alignment of each place a label may go
_LABEL_PLACES = (
    ((3, 2), "left", "bottom"),
    ((3, -2), "left", "top"),
    ((-3, 2), "right", "bottom"),
    ((-3, -2), "right", "top"),
    ((0, 5), "center", "bottom"),
    ((0, -5), "center", "top"),
)


def _renderer(figure: object) -> object | None:
    for get in (getattr(figure.canvas, "get_renderer", None), getattr(figure, "_get_renderer", None)):
        if get is not None:
            try:
                return get()
            except Exception:  # a canvas without a renderer of its own
                continue
    return None


def _place_labels(ax: Axes, coords: np.ndarray, labels: Sequence[str]) -> list[str]:
    """Annotate each point at the first free place around it; return the labels that found none."""
    figure = ax.figure
    draw = getattr(figure, "draw_without_rendering", None)
    if draw is not None:
        draw()  # final axes position and limits (constrained layout, autoscaling)
    renderer = _renderer(figure)
    if renderer is None:  # cannot measure text: label everything as before
        for (px, py), text in zip(coords, labels):
            ax.annotate(text, (px, py), xytext=(3, 2), textcoords="offset points", fontsize=8)
        return []
    points = ax.transData.transform(coords)  # (rows, 2) in display pixels
    radius = 3.0 * figure.dpi / 72.0  # a marker of size 18 points^2 is about 4 points wide
    placed: list[object] = []
    hidden: list[str] = []
    for index, ((px, py), text) in enumerate(zip(coords, labels)):
        for offset, ha, va in _LABEL_PLACES:
            note = ax.annotate(
                text, (px, py), xytext=offset, textcoords="offset points", fontsize=8, ha=ha, va=va
            )
            box = note.get_window_extent(renderer).padded(1.0)
            others = np.delete(points, index, axis=0)
            covers_point = bool(
                np.any(
                    (others[:, 0] > box.x0 - radius)
                    & (others[:, 0] < box.x1 + radius)
                    & (others[:, 1] > box.y0 - radius)
                    & (others[:, 1] < box.y1 + radius)
                )
            )
            if not covers_point and not any(box.overlaps(b) for b in placed):
                placed.append(box)
                break
            note.remove()
        else:
            hidden.append(text)
    return hidden


def plot_position_encodings(matrix: object, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Heat map of a position-encoding matrix (positions, dim): one row per position.

    The colour scale is symmetric around 0 and ends at the 99.5th percentile of the absolute
    values, so a few outlying entries (learned tables have some) do not wash out the rest;
    clipped values show in the end colours (the colour bar's arrows say so).
    """
    x = _as_matrix(matrix, "matrix")
    ax = _new_ax(ax)
    largest = float(np.abs(x).max())
    limit = float(np.percentile(np.abs(x), 99.5)) or largest or 1.0
    image = ax.imshow(x, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="antialiased")
    ax.figure.colorbar(
        image, ax=ax, fraction=0.046, pad=0.02, extend="both" if largest > limit else "neither"
    )
    ax.set_xlabel("embedding dimension")
    ax.set_ylabel("position")
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax


def plot_similarity_across_layers(
    similarities: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    title: str | None = None,
    ylabel: str = "cosine similarity",
) -> Axes:
    """One line per named series of per-layer values; layer 0 is the embedding output.

    ``similarities`` maps a legend name (e.g. "bank: river vs money") to a value per layer.
    """
    if not isinstance(similarities, Mapping) or not similarities:
        raise ValueError("similarities must be a non-empty dict mapping a name to one value per layer.")
    ax = _new_ax(ax)
    n_layers = None
    for name, values in similarities.items():
        values = [float(v) for v in values]
        if n_layers is not None and len(values) != n_layers:
            raise ValueError(
                f"series {name!r} has {len(values)} values but an earlier one has {n_layers}; "
                "give every series one value per layer."
            )
        n_layers = len(values)
        ax.plot(range(n_layers), values, marker="o", ms=3, label=str(name))
    ax.set_xticks(range(n_layers))
    ax.set_xticklabels(["emb"] + [str(i) for i in range(1, n_layers)])
    ax.set_xlabel("layer (emb = embedding output)")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="best", framealpha=0.7)
    if title:
        ax.set_title(title)
    return ax


def plot_neighbours(
    word: str,
    neighbours: Sequence[tuple[str, float]],
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Horizontal bars of a word's nearest neighbours and their cosine similarity, best at the top."""
    if not neighbours:
        raise ValueError("neighbours is empty: pass a list of (token, cosine) pairs.")
    tokens = [str(t) for t, _ in neighbours]
    scores = [float(s) for _, s in neighbours]
    ax = _new_ax(ax)
    positions = np.arange(len(tokens))[::-1]
    ax.barh(positions, scores, color="C0")
    ax.set_yticks(positions)
    ax.set_yticklabels(tokens)
    ax.set_xlabel("cosine similarity")
    ax.set_xlim(min(0.0, min(scores)), 1.0)
    ax.set_title(title or f"nearest neighbours of {word!r}")
    return ax
