"""Baselines: majority class, bag-of-words logistic regression, memorising tagger."""

from __future__ import annotations

import pytest
from seqeval.metrics import f1_score
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from sft_helpers.baselines import bag_of_words, majority_class, memorising_tagger, repair_iob2

TEXTS = ["good phone", "great screen", "bad battery", "awful case", "good case", "bad phone"]
LABELS = ["pos", "pos", "neg", "neg", "pos", "neg"]


def test_majority_class():
    result = majority_class(["a", "b", "b"], ["b", "a", "b", "b"])
    assert result == {"label": "b", "accuracy": 0.75}
    with pytest.raises(ValueError, match="non-empty"):
        majority_class([], ["a"])


def test_bag_of_words_learns_word_polarity():
    result = bag_of_words(TEXTS, LABELS, ["great battery", "awful screen"], ["pos", "neg"])
    assert result["predictions"] == ["pos", "neg"]
    assert result["accuracy"] == 1.0 and result["macro_f1"] == 1.0


def test_bag_of_words_matches_a_plain_scikit_learn_pipeline():
    test = ["good battery", "bad screen", "phone case"]
    vectorizer = CountVectorizer(token_pattern=r"(?u)\b\w[\w'-]*\b")
    model = LogisticRegression(solver="newton-cg").fit(vectorizer.fit_transform(TEXTS), LABELS)
    expected = model.predict(vectorizer.transform(test)).tolist()
    assert bag_of_words(TEXTS, LABELS, test, ["pos", "neg", "pos"])["predictions"] == expected


def test_bag_of_words_cannot_see_word_order():
    """The reason the course needs attention: same words, different order, same prediction."""
    result = bag_of_words(TEXTS, LABELS, ["good but bad", "bad but good"], ["neg", "pos"])
    assert result["predictions"][0] == result["predictions"][1]
    assert result["accuracy"] == 0.5


def test_bag_of_words_checks_lengths():
    with pytest.raises(ValueError, match="train_texts has 6 items but train_labels has 2"):
        bag_of_words(TEXTS, LABELS[:2], TEXTS, LABELS)
    with pytest.raises(ValueError, match="test_texts is empty"):
        bag_of_words(TEXTS, LABELS, [], [])


def test_memorising_tagger():
    train_tokens = [["Ana", "lives", "in", "Lisbon"], ["Lisbon", "is", "big"]]
    train_tags = [["B-PER", "O", "O", "B-LOC"], ["B-LOC", "O", "O"]]
    same = memorising_tagger(train_tokens, train_tags, train_tokens, train_tags)
    assert same["f1"] == 1.0
    new = memorising_tagger(
        train_tokens, train_tags, [["Rui", "lives", "in", "Porto"]], [["B-PER", "O", "O", "B-LOC"]]
    )
    assert new["predictions"] == [["O", "O", "O", "O"]]
    assert new["f1"] == 0.0
    mixed = memorising_tagger(train_tokens, train_tags, [["Ana", "in", "Porto"]], [["B-PER", "O", "B-LOC"]])
    gold = [["B-PER", "O", "B-LOC"]]
    assert mixed["f1"] == pytest.approx(f1_score(gold, mixed["predictions"])) == pytest.approx(2 / 3)


def test_memorising_tagger_repairs_split_entities():
    # "York" alone was I-LOC in training; alone it must become a valid B-LOC.
    out = memorising_tagger([["New", "York"]], [["B-LOC", "I-LOC"]], [["York", "is"]], [["B-LOC", "O"]])
    assert out["predictions"] == [["B-LOC", "O"]]


def test_memorising_tagger_checks_lengths():
    with pytest.raises(ValueError, match="train sentence 0 has 2 tokens but 1 tags"):
        memorising_tagger([["a", "b"]], [["O"]], [["a"]], [["O"]])


def test_repair_iob2():
    assert repair_iob2(["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]) == [
        "B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG"
    ]  # fmt: skip
