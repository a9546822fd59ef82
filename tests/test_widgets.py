"""Widgets: the static path returns a Figure; the widget path builds without a front end and reacts."""

from __future__ import annotations

import base64

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from sft_helpers import widgets  # noqa: E402
from sft_helpers.models import load_pretrained  # noqa: E402


@pytest.fixture(scope="module")
def model_and_tokenizer():
    return load_pretrained("base", verbose=False)


@pytest.fixture(scope="module")
def table(model_and_tokenizer) -> torch.Tensor:
    return model_and_tokenizer[0].embeddings.word_embeddings.weight


def test_no_front_end_outside_a_kernel() -> None:
    assert widgets.front_end_available() is False


def test_nearest_neighbours_are_by_cosine_and_skip_the_word_itself(model_and_tokenizer, table) -> None:
    _, tokenizer = model_and_tokenizer
    found = widgets.nearest_neighbours(table, tokenizer, "king", k=5)
    assert len(found) == 5 and all(token != "king" for token, _ in found)
    scores = [s for _, s in found]
    assert scores == sorted(scores, reverse=True)
    king = table[tokenizer.convert_tokens_to_ids("king")]
    best = table[tokenizer.convert_tokens_to_ids(found[0][0])]
    assert torch.nn.functional.cosine_similarity(king, best, dim=0).item() == pytest.approx(
        scores[0], abs=1e-5
    )
    everything = torch.nn.functional.cosine_similarity(table, king[None], dim=1)
    everything[tokenizer.convert_tokens_to_ids("king")] = -1
    for i in tokenizer.all_special_ids:
        everything[i] = -1
    assert everything.max().item() == pytest.approx(scores[0], abs=1e-5)
    assert not any(t.startswith("[") for t, _ in widgets.nearest_neighbours(table, tokenizer, "the", k=30))


def test_word_vector_averages_subwords(model_and_tokenizer, table) -> None:
    _, tokenizer = model_and_tokenizer
    vector, tokens = widgets.word_vector(table, tokenizer, "xylophonist")
    assert len(tokens) > 1
    torch.testing.assert_close(vector, table[tokenizer.convert_tokens_to_ids(tokens)].mean(0))
    with pytest.raises(ValueError, match="word"):
        widgets.word_vector(table, tokenizer, "  ")


def test_bad_arguments_are_named(model_and_tokenizer, table) -> None:
    _, tokenizer = model_and_tokenizer
    with pytest.raises(ValueError, match="rows"):
        widgets.neighbours_explorer(table[:100], tokenizer, static=True)
    with pytest.raises(ValueError, match="k must"):
        widgets.neighbours_explorer(table, tokenizer, k=0, static=True)
    with pytest.raises(TypeError, match="static"):
        widgets.neighbours_explorer(table, tokenizer, static="yes")
    with pytest.raises(TypeError, match="words"):
        widgets.neighbours_explorer(table, tokenizer, words="cat dog", static=True)


def test_neighbours_static_returns_a_figure(model_and_tokenizer, table) -> None:
    _, tokenizer = model_and_tokenizer
    figure = widgets.neighbours_explorer(table, tokenizer, k=4, word="queen")
    assert isinstance(figure, Figure)
    bars, world = figure.axes[:2]
    assert len(bars.patches) == 4 and "queen" in bars.get_title()
    assert "queen" in [t.get_text() for t in world.texts]
    groups = [t.get_text() for t in world.get_legend().get_texts()]
    assert groups == list(widgets.DEFAULT_WORD_GROUPS)


def test_neighbours_widget_builds_and_reacts_without_a_front_end(model_and_tokenizer, table) -> None:
    _, tokenizer = model_and_tokenizer
    box = widgets.neighbours_explorer(table, tokenizer, words=["cat", "dog", "red", "blue"], static=False)
    assert isinstance(box, ipywidgets.VBox)
    image = box.figure_image
    assert isinstance(image, ipywidgets.Image) and bytes(image.value).startswith(b"\x89PNG")
    text = box.children[0].children[0]
    first = image.value
    text.value = "paris"
    assert image.value != first
    text.value = ""  # an empty word: a message, the last figure stays
    assert "non-empty" in box.children[1].value and image.value
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert base64.b64decode(bundle["image/png"]) == bytes(image.value)


def test_compute_attentions_switches_sdpa_to_eager_and_back(model_and_tokenizer) -> None:
    model, tokenizer = model_and_tokenizer
    model.train()
    before = model.config._attn_implementation
    computed = widgets.compute_attentions(model, tokenizer, ["the bank of the river", "hello"])
    assert model.config._attn_implementation == before and model.training
    model.eval()
    tokens, weights = computed[0]
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert weights.shape == (6, 12, len(tokens), len(tokens))
    torch.testing.assert_close(weights.sum(-1), torch.ones(6, 12, len(tokens)))
    with pytest.raises(ValueError, match="sentences"):
        widgets.compute_attentions(model, tokenizer, "a single string")


def test_attention_explorer_static_and_widget(model_and_tokenizer) -> None:
    model, tokenizer = model_and_tokenizer
    sentences = ["the cat sat", "a dog barked at the cat"]
    figure = widgets.attention_explorer(model, tokenizer, sentences, sentence=1, layer=5, head=11)
    assert isinstance(figure, Figure) and figure.axes[0].get_title() == "layer 5, head 11"
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()][1:3] == ["a", "dog"]
    box = widgets.attention_explorer(model, tokenizer, sentences, static=False)
    choice, sliders, image = box.children
    assert (sliders.children[0].max, sliders.children[1].max) == (5, 11)
    first = image.value
    choice.value = 1
    assert image.value != first and bytes(image.value).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="head"):
        widgets.attention_explorer(model, tokenizer, sentences, head=12, static=True)
