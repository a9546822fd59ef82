"""Interactive explorers for the notebooks, each with a static matplotlib figure to fall back on.

``neighbours_explorer`` (type a word: its nearest neighbours by cosine and its place on a 2-D
map) and ``attention_explorer`` (pick a sentence, layer and head: the attention heat map).

``static`` chooses what you get:

* ``True``: a matplotlib ``Figure`` for the current choice (works anywhere, e.g. in scripts).
* ``False``: an ipywidgets box. Building it needs no front end; only seeing it does.
* ``None`` (default): the widget box inside a Jupyter kernel, else the static figure. The box
  also carries a PNG of its current figure in its display data, so where no widget front end
  is attached (papermill, nbval, a notebook viewed on the web) the figure shows instead.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from matplotlib.figure import Figure

from sft_helpers.plotting import DPI, PCA2D, plot_attention, plot_embeddings_2d, plot_neighbours

__all__ = [
    "DEFAULT_WORD_GROUPS",
    "attention_explorer",
    "compute_attentions",
    "front_end_available",
    "nearest_neighbours",
    "neighbours_explorer",
    "word_vector",
]

DEFAULT_WORD_GROUPS: dict[str, list[str]] = {
    "animals": ["cat", "dog", "horse", "cow", "bird", "fish"],
    "colours": ["red", "green", "blue", "yellow", "black", "white"],
    "numbers": ["one", "two", "three", "four", "five", "six"],
    "countries": ["france", "germany", "italy", "spain", "japan", "china"],
    "verbs": ["run", "walk", "eat", "drink", "sleep", "swim"],
}


# ----------------------------------------------------------------------------------------------
# Static or widget
# ----------------------------------------------------------------------------------------------
def front_end_available() -> bool:
    """True inside a Jupyter kernel with ipywidgets installed (a front end may show widgets there)."""
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _use_static(static: bool | None) -> bool:
    if static is None:
        return not front_end_available()
    if not isinstance(static, bool):
        raise TypeError(f"static must be True, False or None (choose automatically), got {static!r}.")
    if not static:
        try:
            import ipywidgets  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "static=False needs ipywidgets: install it with  python -m pip install ipywidgets  "
                "or pass static=True for a plain figure."
            ) from error
    return static


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


@functools.cache
def _explorer_box_class() -> type:
    """A VBox whose display data also holds a PNG of its figure: viewers without widgets show that."""
    import ipywidgets as widgets

    class ExplorerBox(widgets.VBox):
        def __init__(self, children: list[Any], image: Any) -> None:
            super().__init__(children)
            self.figure_image = image  # the widgets.Image whose PNG is the fallback

        def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
            data = super()._repr_mimebundle_(**kwargs)
            if data is not None and self.figure_image.value:
                data["image/png"] = base64.b64encode(self.figure_image.value).decode("ascii")
            return data

    return ExplorerBox


def _explorer_box(children: list[Any], image: Any) -> Any:
    return _explorer_box_class()(children, image)


# ----------------------------------------------------------------------------------------------
# Neighbours
# ----------------------------------------------------------------------------------------------
def _check_matrix(embedding_matrix: Any, tokenizer: Any) -> torch.Tensor:
    if not isinstance(embedding_matrix, torch.Tensor) or embedding_matrix.dim() != 2:
        raise ValueError(
            "embedding_matrix must be a (vocab, dim) tensor, e.g. model.embeddings.word_embeddings.weight; "
            f"got {getattr(embedding_matrix, 'shape', type(embedding_matrix).__name__)}."
        )
    if embedding_matrix.shape[0] != len(tokenizer):
        raise ValueError(
            f"embedding_matrix has {embedding_matrix.shape[0]} rows but the tokenizer has {len(tokenizer)} "
            "tokens: pass the matrix and tokenizer of the same model."
        )
    return embedding_matrix.detach().to("cpu", torch.float32)


def word_vector(embedding_matrix: torch.Tensor, tokenizer: Any, word: str) -> tuple[torch.Tensor, list[str]]:
    """The static vector of ``word`` (dim,) and its subword tokens; several subwords are averaged."""
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"word must be a non-empty string, got {word!r}.")
    matrix = _check_matrix(embedding_matrix, tokenizer)
    tokens = tokenizer.tokenize(word.strip())
    ids = tokenizer.convert_tokens_to_ids(tokens)
    return matrix[ids].mean(dim=0), tokens  # (dim,): the mean of its subwords' rows


def _skipped_ids(tokenizer: Any) -> list[int]:
    """Special tokens and BERT's never-trained ``[unusedN]`` slots: not useful as neighbours."""
    skipped = set(tokenizer.all_special_ids)
    skipped.update(i for token, i in tokenizer.get_vocab().items() if token.startswith("[unused"))
    return sorted(skipped)


def nearest_neighbours(
    embedding_matrix: torch.Tensor, tokenizer: Any, word: str, k: int = 8
) -> list[tuple[str, float]]:
    """The ``k`` vocabulary tokens whose rows have the highest cosine similarity with ``word``'s vector.

    The word's own token(s), special tokens and unused slots are left out.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}.")
    matrix = _check_matrix(embedding_matrix, tokenizer)
    query, tokens = word_vector(matrix, tokenizer, word)
    cosine = torch.nn.functional.normalize(matrix, dim=1) @ torch.nn.functional.normalize(
        query, dim=0
    )  # (vocab,)
    cosine[_skipped_ids(tokenizer) + tokenizer.convert_tokens_to_ids(tokens)] = -2.0  # below any cosine
    scores, ids = cosine.topk(min(k, matrix.shape[0]))
    return [
        (tokenizer.convert_ids_to_tokens(i), s) for i, s in zip(ids.tolist(), scores.tolist()) if s > -2.0
    ]


def _groups(words: Sequence[str] | Mapping[str, Sequence[str]] | None) -> tuple[list[str], list[str] | None]:
    if words is None:
        words = DEFAULT_WORD_GROUPS
    if isinstance(words, Mapping):
        labels = [w for group in words.values() for w in group]
        groups = [name for name, group in words.items() for _ in group]
        return labels, groups
    if isinstance(words, str) or not all(isinstance(w, str) for w in words):
        raise TypeError("words must be a list of words or a dict {group name: [words]}.")
    return list(words), None


def _neighbours_figure(
    matrix: torch.Tensor, tokenizer: Any, word: str, labels: list[str], groups: list[str] | None, k: int
) -> Figure:
    vectors = torch.stack([word_vector(matrix, tokenizer, w)[0] for w in labels])  # (n_words, dim)
    pca = PCA2D().fit(vectors)
    query, tokens = word_vector(matrix, tokenizer, word)
    figure = Figure(figsize=(9.6, 3.8), dpi=DPI, layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1, 1.6])
    split = "" if len(tokens) == 1 else f" ({len(tokens)} subwords {' '.join(tokens)}: mean)"
    plot_neighbours(word, nearest_neighbours(matrix, tokenizer, word, k), ax=left, title=f"{word!r}{split}")
    plot_embeddings_2d(
        vectors, labels, groups=groups, ax=right, pca=pca, title="2-D PCA map of the word table"
    )
    x, y = pca.transform(query[None])[0]
    right.scatter([x], [y], marker="*", s=160, color="black", zorder=3)
    right.annotate(word, (x, y), xytext=(4, -10), textcoords="offset points", fontsize=9, fontweight="bold")
    return figure


def neighbours_explorer(
    embedding_matrix: torch.Tensor,
    tokenizer: Any,
    words: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    k: int = 8,
    word: str = "king",
    static: bool | None = None,
) -> Any:
    """Type a word: see its ``k`` nearest neighbours by cosine and where it lands on a 2-D PCA map of ``words``.

    ``embedding_matrix`` is a (vocab, dim) table such as ``model.embeddings.word_embeddings.weight``;
    ``words`` is a list or a dict ``{group: [words]}`` for coloured groups (default: a few groups).
    Returns a ``Figure`` for ``word`` when static, else an ipywidgets box (see the module docstring).
    """
    matrix = _check_matrix(embedding_matrix, tokenizer)
    labels, groups = _groups(words)
    if len(labels) < 2:
        raise ValueError("words needs at least 2 words to draw a 2-D map.")
    nearest_neighbours(matrix, tokenizer, word, k)  # validates word and k before anything is drawn
    if _use_static(static):
        return _neighbours_figure(matrix, tokenizer, word, labels, groups, k)

    import ipywidgets as widgets

    text = widgets.Text(value=word, description="word", continuous_update=False)
    count = widgets.IntSlider(value=k, min=1, max=30, description="neighbours", continuous_update=False)
    image = widgets.Image(format="png")
    status = widgets.HTML()

    def redraw(_: Any = None) -> None:
        try:
            image.value = _png(_neighbours_figure(matrix, tokenizer, text.value, labels, groups, count.value))
            status.value = ""
        except ValueError as error:  # e.g. an empty word: say so and keep the last figure
            status.value = f"<span style='color:#c62828'>{error}</span>"

    text.observe(redraw, names="value")
    count.observe(redraw, names="value")
    redraw()
    return _explorer_box([widgets.HBox([text, count]), status, image], image)


# ----------------------------------------------------------------------------------------------
# Attention
# ----------------------------------------------------------------------------------------------
@torch.no_grad()
def compute_attentions(
    model: torch.nn.Module, tokenizer: Any, sentences: Sequence[str]
) -> list[tuple[list[str], torch.Tensor]]:
    """For each sentence, its tokens and attention weights (layers, heads, seq, seq), in eval mode.

    A model loaded with the fast ``sdpa`` attention returns no weights; it is switched to
    ``eager`` for the call and switched back afterwards.
    """
    if isinstance(sentences, str) or not sentences or not all(isinstance(s, str) and s for s in sentences):
        raise ValueError("sentences must be a non-empty list of non-empty strings.")
    was_training = model.training
    config = getattr(model, "config", None)
    original = getattr(config, "_attn_implementation", None)
    switch = original not in (None, "eager") and hasattr(model, "set_attn_implementation")
    device = next(model.parameters()).device
    results = []
    try:
        model.eval()
        if switch:
            model.set_attn_implementation("eager")
        for sentence in sentences:
            batch = tokenizer(sentence, return_tensors="pt").to(device)
            attentions = model(**batch, output_attentions=True).attentions
            if not attentions or any(a is None for a in attentions):
                raise ValueError(
                    "the model returned no attention weights: load it with attn_implementation='eager' "
                    "(or call model.set_attn_implementation('eager')) and try again."
                )
            weights = torch.stack([a[0] for a in attentions]).float().cpu()  # (layers, heads, seq, seq)
            results.append((tokenizer.convert_ids_to_tokens(batch["input_ids"][0]), weights))
    finally:
        if switch:
            model.set_attn_implementation(original)
        model.train(was_training)
    return results


def _attention_figure(tokens: list[str], weights: torch.Tensor, layer: int, head: int) -> Figure:
    size = min(6.0, 2.0 + 0.28 * len(tokens))
    figure = Figure(figsize=(size + 1.0, size), dpi=DPI, layout="constrained")
    plot_attention(weights[layer, head], tokens, ax=figure.subplots(), title=f"layer {layer}, head {head}")
    return figure


def attention_explorer(
    model: torch.nn.Module,
    tokenizer: Any,
    sentences: Sequence[str],
    sentence: int = 0,
    layer: int = 0,
    head: int = 0,
    static: bool | None = None,
) -> Any:
    """Pick a sentence, a layer and a head: see where each token looks (a heat map).

    Layers and heads count from 0. Returns a ``Figure`` for the given choice when static, else
    an ipywidgets box (see the module docstring).
    """
    computed = compute_attentions(model, tokenizer, sentences)
    n_layers, n_heads = computed[0][1].shape[:2]
    for name, value, limit in (
        ("sentence", sentence, len(computed)),
        ("layer", layer, n_layers),
        ("head", head, n_heads),
    ):
        if not isinstance(value, int) or not 0 <= value < limit:
            raise ValueError(f"{name} must be an int in [0, {limit}), got {value!r}.")
    if _use_static(static):
        tokens, weights = computed[sentence]
        return _attention_figure(tokens, weights, layer, head)

    import ipywidgets as widgets

    choice = widgets.Dropdown(
        options=[(s, i) for i, s in enumerate(sentences)], value=sentence, description="sentence"
    )
    layer_slider = widgets.IntSlider(value=layer, min=0, max=n_layers - 1, description="layer")
    head_slider = widgets.IntSlider(value=head, min=0, max=n_heads - 1, description="head")
    image = widgets.Image(format="png")

    def redraw(_: Any = None) -> None:
        tokens, weights = computed[choice.value]
        image.value = _png(_attention_figure(tokens, weights, layer_slider.value, head_slider.value))

    for control in (choice, layer_slider, head_slider):
        control.observe(redraw, names="value")
    redraw()
    return _explorer_box([choice, widgets.HBox([layer_slider, head_slider]), image], image)
