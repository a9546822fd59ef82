"""IOB2 decoding and repair, character spans, redaction: examples, errors and properties."""

from __future__ import annotations

import functools
import os
from collections import Counter

import pytest
import torch
from hypothesis import event, given, settings
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from sft_helpers.spans import (
    decode_iob2,
    extract_entities,
    redact,
    repair_iob2,
    spans_from_subword_tags,
    split_tag,
    word_offsets,
    word_tags_from_subwords,
)
from sft_helpers.tokenization import align_labels, b_to_i_map

settings.register_profile("ner-ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("ner-dev", deadline=None)
PROFILE = settings.get_profile("ner-ci" if os.environ.get("CI") else "ner-dev")

LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]


# ----------------------------------------------------------------------------- examples
def test_decode_valid_and_repaired_sequences():
    assert decode_iob2(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4)]
    assert decode_iob2(["B-PER", "B-PER"]) == [("PER", 0, 1), ("PER", 1, 2)]
    assert decode_iob2([]) == []
    assert decode_iob2(["O", "O"]) == []
    # documented repair rule: a stray I-X starts a new X entity
    assert decode_iob2(["O", "I-PER", "I-PER"]) == [("PER", 1, 3)]
    assert decode_iob2(["B-PER", "I-ORG", "I-ORG"]) == [("PER", 0, 1), ("ORG", 1, 3)]
    assert repair_iob2(["I-LOC", "I-LOC", "O", "I-PER", "B-ORG", "I-PER"]) == [
        "B-LOC",
        "I-LOC",
        "O",
        "B-PER",
        "B-ORG",
        "B-PER",
    ]


@pytest.mark.parametrize(
    ("tags", "error", "match"),
    [
        (["B-PER", "X-PER"], ValueError, "position 1"),
        (["S-PER"], ValueError, "IOBES"),
        (["B-"], ValueError, "IOB2 tags"),
        (["b-per"], ValueError, "IOB2 tags"),
        ([1, 2], TypeError, "id2label"),
        ("B-PER", TypeError, "list of tag strings"),
    ],
)
def test_decode_errors(tags, error, match):
    with pytest.raises(error, match=match):
        decode_iob2(tags)


def test_split_tag():
    assert split_tag("B-MISC") == ("B", "MISC")
    assert split_tag("I-creative-work") == ("I", "creative-work")  # WNUT types contain dashes
    assert split_tag("O") == ("O", None)


def test_word_tags_and_offsets():
    word_ids = [None, 0, 1, 1, 2, None]
    assert word_tags_from_subwords(word_ids, ["O", "B-PER", "I-PER", "B-LOC", "O", "O"]) == [
        "B-PER",
        "I-PER",
        "O",
    ]
    assert word_tags_from_subwords([None, 0, 2, None], [0, 1, 2, 0], n_words=4, fill=0) == [1, 0, 2, 0]
    assert word_offsets(word_ids, [(0, 0), (0, 3), (4, 7), (7, 9), (10, 11), (0, 0)]) == {
        0: (0, 3),
        1: (4, 9),
        2: (10, 11),
    }
    with pytest.raises(ValueError, match="subword_tags has 2"):
        word_tags_from_subwords([None, 0, None], ["O", "O"])
    with pytest.raises(ValueError, match="two separate places"):
        word_tags_from_subwords([0, 1, 0], ["O", "O", "O"])


def test_spans_from_subword_tags_example():
    text = "Ms Kowalczyk flew to  New York."
    # words: Ms, Kowalczyk (3 pieces), flew, to, New, York, .
    offsets = [
        (0, 0),
        (0, 2),
        (3, 6),
        (6, 9),
        (9, 12),
        (13, 17),
        (18, 20),
        (22, 25),
        (26, 30),
        (30, 31),
        (0, 0),
    ]
    word_ids = [None, 0, 1, 1, 1, 2, 3, 4, 5, 6, None]
    tags = ["O", "O", "B-PER", "O", "B-LOC", "O", "O", "B-LOC", "I-LOC", "O", "O"]  # junk on continuations
    scores = [1.0, 1.0, 0.9, 0.1, 0.1, 1.0, 1.0, 0.8, 0.6, 1.0, 1.0]
    spans = spans_from_subword_tags(text, word_ids, offsets, tags, scores)
    assert [(s["type"], s["text"], s["start"], s["end"]) for s in spans] == [
        ("PER", "Kowalczyk", 3, 12),
        ("LOC", "New York", 22, 30),
    ]
    assert spans[0]["score"] == pytest.approx(0.9)
    assert spans[1]["score"] == pytest.approx(0.7)
    assert redact(text, spans) == "Ms [PER] flew to  [LOC]."
    assert redact(text, spans, types=("LOC",), placeholder="<{type}>") == "Ms Kowalczyk flew to  <LOC>."
    assert redact(text, spans, types=None) == "Ms [PER] flew to  [LOC]."
    assert redact(text, []) == text


def test_redact_errors():
    with pytest.raises(ValueError, match="overlap"):
        redact("abcdef", [{"type": "PER", "start": 0, "end": 3}, {"type": "LOC", "start": 2, "end": 4}])
    with pytest.raises(ValueError, match="not inside the text"):
        redact("abc", [{"type": "PER", "start": 1, "end": 9}])
    with pytest.raises(ValueError, match="'type', 'start' and 'end'"):
        redact("abc", [("PER", 0, 1)])
    with pytest.raises(TypeError, match="collection of type names"):
        redact("abc", [], types="PER")


# ----------------------------------------------------------------------------- properties
tag_names = st.sampled_from(LABELS)


def test_decoding_matches_seqeval_default_mode():
    """The repair rule is conlleval's, which seqeval's default (non-strict) mode implements."""
    counts: Counter = Counter()

    @settings(PROFILE, max_examples=500)
    @given(st.lists(tag_names, max_size=15))
    def run(tags):
        mine = decode_iob2(tags)
        theirs = [(k, s, e + 1) for k, s, e in get_entities(list(tags))]  # seqeval: inclusive end
        assert mine == theirs
        repaired = repair_iob2(tags)
        assert decode_iob2(repaired) == mine
        assert repair_iob2(repaired) == repaired  # repair is idempotent
        stray = repaired != list(tags)
        event(f"needed repair: {stray}")
        counts["cases"] += 1
        counts["stray"] += stray

    run()
    assert counts["stray"] >= 0.3 * counts["cases"], counts


@st.composite
def texts_with_words(draw):
    """A text made of words joined by random whitespace, each word cut into 1-4 subwords, with tags."""
    n = draw(st.integers(1, 10))
    text, offsets, word_ids, spans = "", [(0, 0)], [None], []
    for wid in range(n):
        if wid:
            text += draw(st.sampled_from([" ", "  ", "\t", "\n", " \n "]))
        word = draw(st.text(alphabet="abcdefXYZéß-'0", min_size=1, max_size=9))
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(word) - 1)), max_size=3)) - {len(word)})
        start = len(text)
        bounds = [0, *cuts, len(word)]
        for a, b in zip(bounds, bounds[1:], strict=False):
            offsets.append((start + a, start + b))
            word_ids.append(wid)
        text += word
        spans.append((start, len(text)))
    offsets.append((0, 0))
    word_ids.append(None)
    word_tags = draw(st.lists(tag_names, min_size=n, max_size=n))
    return text, offsets, word_ids, spans, word_tags


def test_spans_map_back_to_the_exact_text():
    counts: Counter = Counter()

    @settings(PROFILE, max_examples=400)
    @given(texts_with_words(), st.booleans(), st.data())
    def run(sample, every, data):
        text, offsets, word_ids, spans, word_tags = sample
        ids = [LABELS.index(t) for t in word_tags]
        aligned = align_labels(word_ids, ids, every, b_to_i_map(LABELS))
        # the model's continuation predictions are ignored under the first-subword rule: put junk there
        subword_tags = [LABELS[a] if a != -100 else data.draw(tag_names) for a in aligned]
        scores = [0.5] * len(subword_tags)
        found = spans_from_subword_tags(text, word_ids, offsets, subword_tags, scores)
        expected = decode_iob2(word_tags)
        assert [e["type"] for e in found] == [k for k, _, _ in expected]
        for entity, (_, first, last) in zip(found, expected, strict=True):
            assert (entity["start"], entity["end"]) == (spans[first][0], spans[last - 1][1])
            assert entity["text"] == text[entity["start"] : entity["end"]]
            assert entity["text"].startswith(text[spans[first][0] : spans[first][1]])
            assert entity["score"] == pytest.approx(0.5)
        multi = len(offsets) - 2 > len(spans)
        event(f"multi-subword word: {multi}")
        counts["cases"] += 1
        counts["multi"] += multi
        counts["multiword_entity"] += any(last - first > 1 for _, first, last in expected)
        # redaction removes exactly the chosen spans and keeps the rest of the text
        redacted = redact(text, found, types=None, placeholder="")
        assert len(redacted) == len(text) - sum(e["end"] - e["start"] for e in found)

    run()
    assert counts["multi"] >= 0.5 * counts["cases"], counts
    assert counts["multiword_entity"] >= 0.2 * counts["cases"], counts


@settings(PROFILE, max_examples=300)
@given(st.lists(st.one_of(tag_names, st.text(max_size=6), st.integers(), st.none()), max_size=8))
def test_random_tags_give_entities_or_a_clear_error(tags):
    try:
        entities = decode_iob2(tags)
    except (ValueError, TypeError) as error:
        assert str(error)
        event(f"error: {type(error).__name__}")
        return
    event("accepted")
    covered = [i for _, s, e in entities for i in range(s, e)]
    assert covered == sorted(set(covered))  # entities do not overlap, in order
    assert all(tags[i] != "O" for i in covered)
    assert sum(t != "O" for t in tags) == len(covered)


# ----------------------------------------------------------------------------- with a model
@functools.cache
def tiny_tagger():
    """The bundled tokenizer with a small random BERT whose head predicts these labels."""
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from sft_helpers.models import bundled_encoder_path

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_encoder_path()), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
    )
    torch.manual_seed(0)
    return BertForTokenClassification(config).eval(), tokenizer


def test_extract_entities_agrees_with_a_manual_pass():
    model, tokenizer = tiny_tagger()
    text = "Angela Merkel met Emmanuel Macron in Zürich, Switzerland."
    entities = extract_entities(text, model, tokenizer)
    enc = tokenizer(text, return_offsets_mapping=True)
    with torch.no_grad():
        probs = model(input_ids=torch.tensor([enc["input_ids"]])).logits[0].softmax(-1)
    tags = [LABELS[i] for i in probs.argmax(-1).tolist()]
    expected = spans_from_subword_tags(
        text, enc.word_ids(), enc["offset_mapping"], tags, probs.max(-1).values.tolist()
    )
    assert entities == expected
    for e in entities:
        assert e["text"] == text[e["start"] : e["end"]] and 0 < e["score"] <= 1
    assert extract_entities("", model, tokenizer) == []


def test_extract_entities_errors_and_truncation():
    model, tokenizer = tiny_tagger()
    with pytest.raises(TypeError, match="once per text"):
        extract_entities(["a text"], model, tokenizer)
    with pytest.warns(UserWarning, match="only the first 8"):
        extract_entities("one two three four five six seven eight nine ten", model, tokenizer, max_length=8)
    broken = type("M", (), {"config": type("C", (), {"id2label": {0: "LABEL_0"}})()})()
    with pytest.raises(ValueError, match="IOB2"):
        extract_entities("text", broken, tokenizer)
