"""Plots of embeddings: the PCA behind the 2-D map, and that every figure draws what it was given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sft_helpers import plotting  # noqa: E402
from sft_helpers.plotting.embeddings import PCA2D  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_pca_matches_sklearn_up_to_sign() -> None:
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 7)) @ rng.normal(size=(7, 7))
    ours = PCA2D().fit(x)
    theirs = PCA(n_components=2, svd_solver="full").fit(x)
    coords, reference = ours.transform(x), theirs.transform(x)
    for axis in range(2):
        sign = np.sign(coords[:, axis] @ reference[:, axis])
        np.testing.assert_allclose(coords[:, axis], sign * reference[:, axis], atol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_ratio, theirs.explained_variance_ratio_, atol=1e-12)


def test_pca_is_deterministic_and_accepts_tensors() -> None:
    x = torch.randn(12, 5, generator=torch.Generator().manual_seed(1))
    a, b = PCA2D().fit_transform(x), PCA2D().fit_transform(x.numpy().copy())
    np.testing.assert_array_equal(a, b)
    assert a.shape == (12, 2)
    with pytest.raises(RuntimeError, match="fit"):
        PCA2D().transform(x)
    with pytest.raises(ValueError, match="features"):
        PCA2D().fit(x).transform(torch.randn(2, 4))
    with pytest.raises(ValueError, match="2-D"):
        PCA2D().fit(torch.randn(5))


def test_plot_embeddings_2d_labels_groups_and_checks_lengths() -> None:
    vectors = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    labels = ["cat", "dog", "cow", "red", "blue", "green"]
    groups = ["animal"] * 3 + ["colour"] * 3
    ax = plotting.plot_embeddings_2d(vectors, labels, groups=groups, title="words", avoid_overlap=False)
    assert [t.get_text() for t in ax.texts] == labels and ax.hidden_labels == []
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["animal", "colour"]
    assert ax.get_title() == "words" and "variance" in ax.get_xlabel()
    offsets = np.vstack([c.get_offsets() for c in ax.collections])
    np.testing.assert_allclose(np.sort(offsets, axis=0), np.sort(PCA2D().fit_transform(vectors), axis=0))
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_embeddings_2d(vectors, labels[:-1])
    with pytest.raises(ValueError, match="groups"):
        plotting.plot_embeddings_2d(vectors, labels, groups=groups[:2])


def test_plot_embeddings_2d_leaves_out_labels_that_would_overlap() -> None:
    """Crowded points: the drawn labels never overlap each other; the rest are listed and counted."""
    gen = torch.Generator().manual_seed(1)
    crowded = torch.cat([0.01 * torch.randn(12, 5, generator=gen), 5 + torch.randn(4, 5, generator=gen)])
    labels = [f"word{i}" for i in range(16)]
    fig, ax = plt.subplots(figsize=(4, 3), dpi=72)
    ax = plotting.plot_embeddings_2d(crowded, labels, ax=ax)
    drawn = [t for t in ax.texts if t.get_text() in labels]
    assert ax.hidden_labels, "12 points in one spot cannot all be labelled"
    assert sorted([t.get_text() for t in drawn] + ax.hidden_labels) == sorted(labels)
    assert any(f"{len(ax.hidden_labels)} overlapping labels left out" in t.get_text() for t in ax.texts)
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in drawn]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)
    assert len(ax.collections[0].get_offsets()) == 16  # every point is still drawn
    plt.close(fig)


def test_plot_embeddings_2d_on_a_given_axes_and_fitted_map() -> None:
    fig, axes = plt.subplots(1, 2)
    base = torch.randn(5, 3, generator=torch.Generator().manual_seed(2))
    pca = PCA2D().fit(base)
    ax = plotting.plot_embeddings_2d(base[:2], ["a", "b"], ax=axes[1], pca=pca)
    assert ax is axes[1]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), pca.transform(base[:2]))


def test_plot_position_encodings_shows_the_matrix() -> None:
    matrix = torch.randn(10, 8, generator=torch.Generator().manual_seed(3))
    ax = plotting.plot_position_encodings(matrix, title="pe")
    np.testing.assert_allclose(ax.images[0].get_array(), matrix.numpy().astype(np.float64))
    assert ax.get_ylabel() == "position" and ax.get_title() == "pe"
    with pytest.raises(ValueError, match="2-D"):
        plotting.plot_position_encodings(torch.zeros(3))


def test_plot_position_encodings_colour_scale_ignores_a_few_outliers() -> None:
    matrix = torch.linspace(-1, 1, 400).reshape(20, 20)
    matrix[0, 0] = 50.0  # one outlier, as learned tables have
    ax = plotting.plot_position_encodings(matrix)
    low, high = ax.images[0].get_clim()
    assert low == -high and 0.9 < high < 2.0
    assert plotting.plot_position_encodings(torch.zeros(3, 4)).images[0].get_clim() == (-1.0, 1.0)


def test_plot_similarity_across_layers_one_line_per_series() -> None:
    series = {"bank": [0.9, 0.7, 0.5], "apple": [0.8, 0.6, 0.6]}
    ax = plotting.plot_similarity_across_layers(series)
    assert len(ax.lines) == 2
    np.testing.assert_allclose(ax.lines[0].get_ydata(), series["bank"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["emb", "1", "2"]
    with pytest.raises(ValueError, match="one value per layer"):
        plotting.plot_similarity_across_layers({"a": [1, 2], "b": [1]})
    with pytest.raises(ValueError, match="non-empty"):
        plotting.plot_similarity_across_layers({})


def test_plot_neighbours_bars_in_order() -> None:
    ax = plotting.plot_neighbours("king", [("queen", 0.8), ("prince", 0.6)])
    bars = sorted(ax.patches, key=lambda p: p.get_y(), reverse=True)  # top bar first
    assert [p.get_width() for p in bars] == pytest.approx([0.8, 0.6])
    labels = {tick.get_position()[1]: tick.get_text() for tick in ax.get_yticklabels()}
    assert [labels[p.get_y() + p.get_height() / 2] for p in bars] == ["queen", "prince"]
    with pytest.raises(ValueError, match="empty"):
        plotting.plot_neighbours("king", [])
