"""Word-level NER prediction and the error analysis helpers."""

from __future__ import annotations

import pytest
import torch

from sft_helpers.ner_analysis import (
    entity_strings,
    error_breakdown,
    leak_rate,
    predict_word_tags,
    seen_unseen_recall,
    type_of,
)
from sft_helpers.spans import word_tags_from_subwords

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def test_error_breakdown_kinds():
    true = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-PER", "O", "O"], ["B-LOC", "O"]]
    pred = [["B-PER", "O", "O", "B-PER", "O", "B-PER", "O", "B-LOC"], ["B-LOC", "O"]]
    result = error_breakdown(true, pred)
    assert result["counts"] == {
        "correct": 2,
        "type error": 1,
        "boundary error": 1,
        "boundary and type": 0,
        "missed": 0,
        "spurious": 1,
    }
    assert result["examples"]["type error"] == [(0, ("LOC", 3, 4), ("PER", 3, 4))]
    both = error_breakdown([["B-PER", "I-PER"]], [["B-LOC", "O"]])["counts"]
    assert both["boundary and type"] == 1
    assert error_breakdown([["B-PER"]], [["O"]])["counts"]["missed"] == 1
    with pytest.raises(ValueError, match="sentence 0"):
        error_breakdown([["O"]], [["O", "O"]])


def test_seen_unseen_and_strings():
    train_words = [["Maria", "Costa", "went", "to", "Lisbon"]]
    train_tags = [["B-PER", "I-PER", "O", "O", "B-LOC"]]
    names = entity_strings(train_words, train_tags)
    assert names == {"Maria Costa", "Lisbon"}
    words = [["Maria", "Costa", "met", "Ana", "Reid"]]
    true = [["B-PER", "I-PER", "O", "B-PER", "I-PER"]]
    pred = [["B-PER", "I-PER", "O", "O", "O"]]
    assert seen_unseen_recall(words, true, pred, names) == {
        "seen": {"entities": 1, "recall": 1.0},
        "unseen": {"entities": 1, "recall": 0.0},
    }
    assert type_of("I-MISC") == "MISC" and type_of("O") == "O"


def test_predict_word_tags_matches_a_manual_first_subword_pass():
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
    model = BertForTokenClassification(config).eval()
    sentences = [
        ["Schwarzenegger", "visited", "Kowalczykowo"],
        ["a"],
        ["Maria", "Costa", "flew", "to", "Lisbon", "."],
    ]
    got = predict_word_tags(model, tokenizer, sentences, batch_size=2)
    for words, tags in zip(sentences, got, strict=True):
        enc = tokenizer(words, is_split_into_words=True, return_tensors="pt")
        with torch.no_grad():
            best = model(**enc).logits[0].argmax(-1).tolist()
        assert tags == word_tags_from_subwords(enc.word_ids(), [LABELS[i] for i in best])
        assert len(tags) == len(words)
    truncated = predict_word_tags(model, tokenizer, [["w"] * 10], max_length=5)
    assert truncated[0][3:] == ["O"] * 7
    with pytest.raises(TypeError, match="list of word strings"):
        predict_word_tags(model, tokenizer, ["a sentence"])


def test_leak_rate():
    true = [["B-PER", "I-PER", "O", "B-LOC", "B-ORG"]]
    assert leak_rate(true, [["B-PER", "I-PER", "O", "B-LOC", "O"]]) == {
        "entities": 2,
        "leaked": 0,
        "rate": 0.0,
    }
    # half a name found still leaks; a PER found as LOC is still hidden
    assert leak_rate(true, [["B-PER", "O", "O", "B-PER", "O"]]) == {"entities": 2, "leaked": 1, "rate": 0.5}
    assert leak_rate(true, [["O"] * 5], types=("ORG",))["rate"] == 1.0


def test_entities_html_escapes_and_marks():
    from sft_helpers.ner_display import entities_html, text_entities_html

    page = entities_html(["<b>", "Maria", "Costa"], ["O", "B-PER", "I-PER"])
    assert "&lt;b&gt;" in page and "Maria Costa<sup" in page and ">PER</sup>" in page
    page = text_entities_html("Hi Ana & co", [{"type": "PER", "start": 3, "end": 6, "score": 0.9}])
    assert "Ana<sup" in page and "PER 0.90" in page and "&amp;" in page
    with pytest.raises(ValueError, match="one tag per word"):
        entities_html(["a"], [])


# ------------------------------------------------------------------ tokenize_and_align(align=...)
# Chapter 5 tokenizes its data with the learner's own alignment (exercise 1); these tests cover
# the additive ``align`` keyword of sft_helpers.tokenization.tokenize_and_align.
NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


@pytest.fixture(scope="module")
def bert_tokenizer():
    from transformers import AutoTokenizer

    from sft_helpers.models import bundled_encoder_path

    return AutoTokenizer.from_pretrained(str(bundled_encoder_path()), local_files_only=True)


def _learner_style_align(word_ids, word_labels, label_all_subwords=False, b_to_i=None):
    out, previous = [], None
    for wid in word_ids:
        if wid is None:
            out.append(-100)
        elif wid != previous:
            out.append(word_labels[wid])
        elif label_all_subwords:
            out.append(b_to_i.get(word_labels[wid], word_labels[wid]))
        else:
            out.append(-100)
        previous = wid
    return out


@pytest.mark.parametrize("every", [False, True])
def test_tokenize_and_align_with_a_custom_align_matches_the_default(bert_tokenizer, every):
    import datasets

    from sft_helpers.tokenization import tokenize_and_align

    features = datasets.Features(
        {
            "tokens": datasets.Sequence(datasets.Value("string")),
            "ner_tags": datasets.Sequence(datasets.ClassLabel(names=NER_LABELS)),
        }
    )
    rows = datasets.Dataset.from_dict(
        {
            "tokens": [["Ingrid", "Lindqvist", "joined", "Halcyon"], ["Tampere", "Rovers", "won", "."]],
            "ner_tags": [[1, 2, 0, 3], [3, 4, 0, 0]],
        },
        features=features,
    )
    calls = []

    def spy(word_ids, word_labels, label_all_subwords=False, b_to_i=None):
        calls.append(label_all_subwords)
        return _learner_style_align(word_ids, word_labels, label_all_subwords, b_to_i)

    mine = tokenize_and_align(rows, bert_tokenizer, every, align=spy)
    reference = tokenize_and_align(rows, bert_tokenizer, every)
    assert mine["labels"] == reference["labels"]
    assert calls and set(calls) == {every}  # the custom function did the work, with the strategy asked for


def test_tokenize_and_align_rejects_a_wrong_custom_align(bert_tokenizer):
    from sft_helpers.tokenization import tokenize_and_align

    batch = {"tokens": [["Ingrid", "Lindqvist"]], "ner_tags": [[1, 2]]}
    with pytest.raises(ValueError, match="one label per token"):
        tokenize_and_align(batch, bert_tokenizer, align=lambda w, labels, every, b_to_i: labels)
    with pytest.raises(TypeError, match="align must be a function"):
        tokenize_and_align(batch, bert_tokenizer, align="first")
    with pytest.raises(ValueError, match="label_names"):
        tokenize_and_align(batch, bert_tokenizer, True, align=_learner_style_align)
    out = tokenize_and_align(batch, bert_tokenizer, True, label_names=NER_LABELS, align=_learner_style_align)
    assert out["labels"][0][0] == -100 and out["labels"][0][-1] == -100


# ------------------------------------------------------------------ chapter 5's error categories
from sft_helpers.ner_analysis import (  # noqa: E402
    ERROR_CATEGORIES,
    capitalised_spans,
    casing_of,
    error_categories,
    recall_by_familiarity,
    scores_by_group,
    untyped,
)


def test_error_categories_split_type_errors_by_pair():
    words = [
        ["Porto", "beat", "Lisbon", "in", "Lisbon"],
        ["Jordan", "met", "Ana", "Reid", "at", "Bank", "of", "Oslo"],
    ]
    true = [
        ["B-ORG", "O", "B-ORG", "O", "B-LOC"],
        ["B-PER", "O", "B-PER", "I-PER", "O", "B-ORG", "I-ORG", "I-ORG"],
    ]
    pred = [
        ["B-LOC", "O", "B-ORG", "B-ORG", "B-LOC"],
        ["B-LOC", "O", "B-PER", "O", "O", "B-ORG", "I-ORG", "O"],
    ]
    result = error_categories(words, true, pred)
    assert list(result["counts"]) == list(ERROR_CATEGORIES)
    assert result["counts"]["type ORG/LOC"] == 1  # Porto, the club, tagged as the city
    assert result["counts"]["type PER/LOC"] == 1  # Jordan
    assert result["counts"]["boundary"] == 2  # "Ana" for "Ana Reid", "Bank of" for "Bank of Oslo"
    assert result["counts"]["spurious"] == 1  # "in"
    assert result["correct"] == 2 and result["entities"] == 6
    example = result["examples"]["type ORG/LOC"][0]
    assert example == {"sentence": 0, "text": "Porto beat Lisbon in Lisbon", "true": "ORG 'Porto'",
                       "predicted": "LOC 'Porto'"}  # fmt: skip
    assert result["examples"]["spurious"][0]["true"] == "nothing"
    misc = error_categories([["Open"]], [["B-MISC"]], [["B-ORG"]])["counts"]
    assert misc["type MISC/other"] == 1
    missed = error_categories([["a", "Lima"]], [["O", "B-LOC"]], [["O", "O"]])
    assert missed["counts"]["missed"] == 1 and missed["examples"]["missed"][0]["predicted"] == "nothing"
    with pytest.raises(ValueError, match="tokens has 1 sentences"):
        error_categories([["a"]], [["O"], ["O"]], [["O"], ["O"]])


def test_casing_and_scores_by_group():
    assert casing_of(["SOCCER", "-", "PORTO", "BEAT", "LYON", "2-1"]) == "upper"
    assert casing_of(["porto", "beat", "lyon", "."]) == "lower"
    assert casing_of(["Porto", "beat", "Lyon", "."]) == "mixed"
    true = [["B-LOC", "O"], ["B-PER", "O"], ["B-ORG", "O"]]
    pred = [["B-LOC", "O"], ["O", "O"], ["B-ORG", "O"]]
    groups = scores_by_group(true, pred, ["a", "b", "a"])
    assert list(groups) == ["a", "b"]
    assert groups["a"]["f1"] == 1.0 and groups["a"]["sentences"] == 2 and groups["a"]["entities"] == 2
    assert groups["b"]["f1"] == 0.0 and groups["b"]["recall"] == 0.0
    with pytest.raises(ValueError, match="groups has 2 names"):
        scores_by_group(true, pred, ["a", "b"])


def test_capitalised_spans_and_untyped():
    words = ["The", "Bank", "of", "Lisbon", "hired", "Ana", "Reid", "."]
    assert capitalised_spans(words) == ["O", "B-ENT", "I-ENT", "I-ENT", "O", "B-ENT", "I-ENT", "O"]
    assert capitalised_spans(["Maria", "Costa", "said"]) == ["B-ENT", "I-ENT", "O"]
    assert capitalised_spans([w.lower() for w in words]) == ["O"] * len(words)  # nothing left to see
    assert untyped(["B-PER", "I-PER", "O", "B-LOC"]) == ["B-ENT", "I-ENT", "O", "B-ENT"]


def test_recall_by_familiarity():
    train_words = [["Porto", "beat", "Lyon"], ["in", "Porto"], ["Reuters", "said"]]
    train_tags = [["B-ORG", "O", "B-ORG"], ["O", "B-LOC"], ["B-ORG", "O"]]
    words = [["Reuters", "saw", "Porto", "and", "Kigali"]]
    true = [["B-ORG", "O", "B-ORG", "O", "B-LOC"]]
    pred = [["B-ORG", "O", "B-LOC", "O", "O"]]
    got = recall_by_familiarity(words, true, pred, train_words, train_tags)
    assert got == {
        "seen, one type": {"entities": 1, "recall": 1.0},
        "seen, several types": {"entities": 1, "recall": 0.0},
        "unseen": {"entities": 1, "recall": 0.0},
    }


def test_sentence_metadata_lines_up_with_the_bundled_split():
    from sft_helpers.data import load_ner, news

    meta = news.sentence_metadata("test")
    assert [m["tokens"] for m in meta] == load_ner()["test"]["tokens"]
    assert 0.2 < sum(m["held_out"] for m in meta) / len(meta) < 0.8
    with pytest.raises(ValueError, match="split must be one of"):
        news.sentence_metadata("dev")
