"""Label alignment (align_labels, tokenize_and_align): examples, clear errors and properties."""

from __future__ import annotations

import functools
import os
from collections import Counter

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from sft_helpers.spans import decode_iob2, word_tags_from_subwords
from sft_helpers.tokenization import (
    IGNORE_INDEX,
    align_labels,
    b_to_i_map,
    iter_batches,
    label_names_of,
    tokenize_and_align,
)

# Derandomized when CI is set, so a CI failure reproduces exactly; local runs explore.
settings.register_profile("ner-ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("ner-dev", deadline=None)
PROFILE = settings.get_profile("ner-ci" if os.environ.get("CI") else "ner-dev")

LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
B_TO_I = b_to_i_map(LABELS)


# ----------------------------------------------------------------------------- examples
def test_first_subword_strategy_masks_specials_and_continuations():
    # [CLS] hello schwarz ##ene ##gger visited zurich [SEP]
    word_ids = [None, 0, 1, 1, 1, 2, 3, None]
    labels = [0, 1, 0, 5]  # O B-PER O B-LOC
    assert align_labels(word_ids, labels) == [-100, 0, 1, -100, -100, 0, 5, -100]
    assert align_labels(word_ids, labels, False) == align_labels(word_ids, labels)


def test_all_subwords_strategy_turns_b_into_i():
    word_ids = [None, 0, 1, 1, 1, 2, None]
    labels = [1, 2, 0]  # B-PER I-PER O: "Arnold Schwarzenegger came"
    assert align_labels(word_ids, labels, True, B_TO_I) == [-100, 1, 2, 2, 2, 0, -100]
    assert align_labels(word_ids, labels, True, label_names=LABELS) == [-100, 1, 2, 2, 2, 0, -100]
    b_word = align_labels([None, 0, 0, None], [3], label_all_subwords=True, label_names=LABELS)
    assert b_word == [-100, 3, 4, -100]


def test_ignored_word_and_untokenized_word():
    # word 1 produced no token (e.g. a zero-width character): its label has nowhere to go
    assert align_labels([None, 0, 2, 2, None], [1, 2, 0], True, B_TO_I) == [-100, 1, 0, 0, -100]
    assert align_labels([None, 0, 0, None], [IGNORE_INDEX], True, B_TO_I) == [-100, -100, -100, -100]


def test_b_to_i_map():
    assert b_to_i_map(LABELS) == {1: 2, 3: 4, 5: 6, 7: 8}
    with pytest.raises(ValueError, match="no 'I-LOC'"):
        b_to_i_map(["O", "B-LOC"])
    with pytest.raises(ValueError, match="twice"):
        b_to_i_map(["O", "O"])
    with pytest.raises(TypeError, match="label_names"):
        b_to_i_map("O B-PER I-PER")


@pytest.mark.parametrize(
    ("word_ids", "labels", "kwargs", "error", "match"),
    [
        ([None, 0, 1, 2, None], [0, 0], {}, ValueError, "word and label counts differ"),
        ([None, 0, 1, 0, None], [0, 0], {}, ValueError, "never go back"),
        ([None, -1, None], [0], {}, ValueError, "valid word ids"),
        ([None, "0", None], [0], {}, TypeError, "int or None"),
        ([None, 0, None], [9], {"num_labels": 9}, ValueError, "outside the label set"),
        ([None, 0, None], [9], {"label_names": LABELS}, ValueError, "outside the label set"),
        ([None, 0, None], [-3], {}, ValueError, "outside the label set"),
        ([None, 0, None], ["B-PER"], {}, TypeError, "int label id"),
        ([None, 0, 0, None], [1], {"label_all_subwords": True}, ValueError, "label_names"),
        ([None, 0, None], [1], {"label_all_subwords": "yes"}, TypeError, "True or False"),
        ("abc", [1], {}, TypeError, "word_ids must be a list"),
    ],
)
def test_clear_errors(word_ids, labels, kwargs, error, match):
    with pytest.raises(error, match=match):
        align_labels(word_ids, labels, **kwargs)


def test_iter_batches():
    assert list(iter_batches(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert list(iter_batches([], 3)) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(iter_batches([1], 0))


# ----------------------------------------------------------------------------- real tokenizer
@functools.cache
def bundled_tokenizer():
    from transformers import AutoTokenizer

    from sft_helpers.models import bundled_encoder_path

    return AutoTokenizer.from_pretrained(str(bundled_encoder_path()), local_files_only=True)


def _tiny_dataset():
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=LABELS))})
    return Dataset.from_dict(
        {
            "tokens": [["Arnold", "Schwarzenegger", "visited", "Zürich", "."], ["Kowalczykowski", "works"]],
            "ner_tags": [[1, 2, 0, 5, 0], [1, 0]],
        },
        features=features,
    )


def test_tokenize_and_align_dataset_and_batch():
    tokenizer = bundled_tokenizer()
    data = _tiny_dataset()
    assert label_names_of(data) == LABELS
    first = tokenize_and_align(data, tokenizer)
    assert sorted(first.column_names) == ["attention_mask", "input_ids", "labels", "token_type_ids"]
    every = tokenize_and_align(data, tokenizer, label_all_subwords=True)
    for row in range(len(data)):
        enc = tokenizer(data[row]["tokens"], is_split_into_words=True)
        assert first[row]["input_ids"] == enc["input_ids"]
        assert first[row]["labels"] == align_labels(enc.word_ids(), data[row]["ner_tags"])
        assert every[row]["labels"] == align_labels(enc.word_ids(), data[row]["ner_tags"], True, B_TO_I)
    # "schwarzenegger" is split, so the strategies differ on it
    assert first[0]["labels"] != every[0]["labels"]
    assert 2 in every[1]["labels"][2:]  # continuation of B-PER "Kowalczykowski" is I-PER
    batch = tokenize_and_align(data[:2], tokenizer, max_length=4)
    assert [len(x) for x in batch["input_ids"]] == [4, 4]
    assert batch["labels"][0] == [-100, 1, 2, -100]


def test_tokenize_and_align_errors():
    tokenizer = bundled_tokenizer()
    with pytest.raises(ValueError, match="row 1: 2 words but 1 labels"):
        tokenize_and_align({"tokens": [["a"], ["b", "c"]], "ner_tags": [[0], [0]]}, tokenizer)
    with pytest.raises(TypeError, match="list of words"):
        tokenize_and_align({"tokens": ["a b"], "ner_tags": [[0, 0]]}, tokenizer)
    with pytest.raises(ValueError, match="no 'ner_tags' column"):
        tokenize_and_align({"tokens": [["a"]]}, tokenizer)
    with pytest.raises(ValueError, match="label_names"):
        tokenize_and_align({"tokens": [["Kowalczykowski"]], "ner_tags": [[1]]}, tokenizer, True)
    with pytest.raises(ValueError, match="outside the label set"):
        tokenize_and_align({"tokens": [["a"]], "ner_tags": [[12]]}, tokenizer, label_names=LABELS)
    with pytest.raises(ValueError, match="max_length"):
        tokenize_and_align({"tokens": [["a"]], "ner_tags": [[0]]}, tokenizer, max_length=1)

    class Slow:
        is_fast = False

    with pytest.raises(TypeError, match="fast"):
        tokenize_and_align({"tokens": [["a"]], "ner_tags": [[0]]}, Slow())


# ----------------------------------------------------------------------------- properties
tags = st.sampled_from(range(len(LABELS)))


@st.composite
def split_sentences(draw):
    """Word labels plus a word_ids list as a tokenizer would give: specials, 1-4 subwords per word."""
    labels = draw(st.lists(tags, min_size=1, max_size=12))
    pieces = draw(st.lists(st.integers(1, 4), min_size=len(labels), max_size=len(labels)))
    word_ids: list[int | None] = [None]
    for wid, n in enumerate(pieces):
        word_ids += [wid] * n
    word_ids += [None] + [None] * draw(st.integers(0, 3))  # [SEP] and padding
    return word_ids, labels


def _names(ids):
    return [LABELS[i] for i in ids]


def _check_alignment(word_ids, labels, counts: Counter) -> None:
    first = align_labels(word_ids, labels)
    every = align_labels(word_ids, labels, label_all_subwords=True, label_names=LABELS)
    assert len(first) == len(every) == len(word_ids)
    for wid, a, b in zip(word_ids, first, every, strict=True):
        if wid is None:
            assert a == b == IGNORE_INDEX
    # decoding the aligned labels with the first-subword rule gives back the word labels
    assert word_tags_from_subwords(word_ids, first) == labels
    assert word_tags_from_subwords(word_ids, every) == labels
    # first-subword: exactly one label per word; all-subwords: one label per token
    assert sum(x != IGNORE_INDEX for x in first) == len(labels)
    assert sum(x != IGNORE_INDEX for x in every) == sum(w is not None for w in word_ids)
    # all-subwords keeps the entities: decoded over tokens they cover the same words
    tokens = [(w, LABELS[t]) for w, t in zip(word_ids, every, strict=True) if w is not None]
    by_token = decode_iob2([t for _, t in tokens])
    as_words = [(k, tokens[s][0], tokens[e - 1][0] + 1) for k, s, e in by_token]
    assert as_words == decode_iob2(_names(labels))
    multi = len(word_ids) - word_ids.count(None) > len(labels)
    has_i_from_split = any(
        LABELS[b].startswith("I-") and LABELS[labels[w]].startswith("B-")
        for w, b in zip(word_ids, every, strict=True)
        if w is not None
    )
    event(f"multi-subword word: {multi}")
    event(f"continuation B- relabelled I-: {has_i_from_split}")
    counts["cases"] += 1
    counts["multi"] += multi
    counts["b_to_i"] += has_i_from_split
    counts["i_tags"] += any(LABELS[b].startswith("I-") for b in every if b != IGNORE_INDEX)


def test_alignment_round_trips_and_covers_split_words():
    counts: Counter = Counter()

    @settings(PROFILE, max_examples=400)
    @given(split_sentences())
    def run(sentence):
        _check_alignment(*sentence, counts)

    run()
    # the generator really exercises what matters: split words and B- -> I- relabelling
    assert counts["cases"] >= 300
    assert counts["multi"] >= 0.5 * counts["cases"], counts
    assert counts["b_to_i"] >= 0.2 * counts["cases"], counts
    assert counts["i_tags"] >= 0.4 * counts["cases"], counts


words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=14)


def test_alignment_with_the_real_tokenizer():
    """Random letter strings through the bundled WordPiece tokenizer: splits happen, labels survive."""
    tokenizer = bundled_tokenizer()
    counts: Counter = Counter()

    @settings(PROFILE, max_examples=150)
    @given(st.lists(st.tuples(words, tags), min_size=1, max_size=10))
    def run(pairs):
        sentence = [w for w, _ in pairs]
        labels = [t for _, t in pairs]
        enc = tokenizer(sentence, is_split_into_words=True)
        _check_alignment(enc.word_ids(), labels, counts)

    run()
    assert counts["multi"] >= 0.5 * counts["cases"], counts
    assert counts["b_to_i"] >= 0.1 * counts["cases"], counts


@settings(PROFILE, max_examples=300)
@given(
    st.lists(st.one_of(st.none(), st.integers(-3, 15)), max_size=12),
    st.lists(st.one_of(st.integers(-200, 20), st.just(IGNORE_INDEX)), max_size=8),
    st.booleans(),
)
def test_random_inputs_give_a_result_or_a_clear_error(word_ids, labels, every):
    """Malformed inputs raise ValueError/TypeError; whatever returns has the right length and values."""
    try:
        out = align_labels(word_ids, labels, every, label_names=LABELS)
    except (ValueError, TypeError) as error:
        assert str(error)
        event(f"error: {type(error).__name__}")
        return
    event("accepted")
    assert len(out) == len(word_ids)
    assert all(x == IGNORE_INDEX or 0 <= x < len(LABELS) for x in out)
