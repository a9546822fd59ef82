"""The bundled data sets: schema, sizes, properties the course relies on, manifest, speed."""

from __future__ import annotations

import json
import shutil
import time

import pytest
from datasets import ClassLabel, DatasetDict, Value

from sft_helpers.data import bundled_dir, load_classification, load_ner, verify_bundled
from sft_helpers.data.bundled import MANIFEST, data_files
from sft_helpers.data.schema import CONLL2003_TAGS

SPLITS = ["train", "validation", "test"]
METADATA = ["negation", "contrast", "intensifier", "unseen_words", "noise"]


@pytest.fixture(scope="module")
def reviews() -> DatasetDict:
    return load_classification()


@pytest.fixture(scope="module")
def news() -> DatasetDict:
    return load_ner()


def test_classification_schema_and_sizes(reviews):
    assert list(reviews) == SPLITS
    assert [reviews[s].num_rows for s in SPLITS] == [3000, 500, 500]
    features = reviews["train"].features
    assert list(features) == ["text", "label", *METADATA]
    assert isinstance(features["label"], ClassLabel)
    assert features["label"].names == ["negative", "mixed", "positive"]
    assert all(features[m] == Value("bool") for m in METADATA)
    for split in SPLITS:
        counts = [list(reviews[split]["label"]).count(i) for i in range(3)]
        assert min(counts) > 0.2 * reviews[split].num_rows, (split, counts)  # roughly balanced


def test_classification_texts_unique_across_splits(reviews):
    texts = [t.lower() for s in SPLITS for t in reviews[s]["text"]]
    assert len(texts) == len(set(texts))


def test_classification_phenomena_present(reviews):
    train, test = reviews["train"], reviews["test"]
    assert not any(train["unseen_words"]), "training reviews use only the training vocabulary"
    for m in METADATA:
        share = sum(test[m]) / test.num_rows
        assert 0.05 < share < 0.6, (m, share)


def test_classification_rules_visible_in_examples(reviews):
    """Spot checks of the label rules on the generated text itself."""
    rows = reviews["train"].to_list()
    names = reviews["train"].features["label"].names
    pros_cons = [r for r in rows if r["text"].lower().startswith("pros:")]
    assert pros_cons and all(names[r["label"]] == "mixed" for r in pros_cons)
    recommend = [r for r in rows if r["text"].lower().endswith("i'd recommend it.")]
    assert recommend and all(names[r["label"]] == "positive" for r in recommend)


def test_ner_schema_and_sizes(news):
    assert list(news) == SPLITS
    assert [news[s].num_rows for s in SPLITS] == [3000, 500, 500]
    features = news["train"].features
    assert list(features) == ["tokens", "ner_tags"]
    assert features["ner_tags"].feature.names == list(CONLL2003_TAGS)
    for split in SPLITS:
        used = {t for row in news[split]["ner_tags"] for t in row}
        assert used == set(range(9)), split
        assert all(len(a) == len(b) > 0 for a, b in zip(news[split]["tokens"], news[split]["ner_tags"]))


def test_ner_is_valid_iob2(news):
    names = news["train"].features["ner_tags"].feature.names
    for split in SPLITS:
        for row in news[split]["ner_tags"]:
            previous = "O"
            for tag in (names[i] for i in row):
                assert not (tag.startswith("I-") and previous[2:] != tag[2:]), row
                previous = tag


def test_ner_test_entities_mostly_unseen():
    stats = json.loads((bundled_dir() / "ner" / "stats.json").read_text())
    assert stats["test_entity_strings_seen_in_train"] < 0.25
    assert stats["baselines"]["memorising"]["test"]["f1"] < 0.5


def test_classification_baseline_in_the_teaching_range():
    stats = json.loads((bundled_dir() / "classification" / "stats.json").read_text())
    accuracy = stats["baselines"]["bag_of_words"]["test"]["accuracy"]
    assert 0.65 <= accuracy <= 0.85
    assert stats["baselines"]["bag_of_words"]["test"]["accuracy_unseen_words"] < accuracy


def test_loading_is_fast_and_in_memory():
    load_classification(), load_ner()  # warm up imports
    start = time.perf_counter()
    reviews, news = load_classification(), load_ner()
    assert time.perf_counter() - start < 2.0
    assert all(reviews[s].cache_files == [] and news[s].cache_files == [] for s in SPLITS)


def test_verify_bundled_ok():
    assert verify_bundled() == []


def test_verify_bundled_detects_a_flipped_byte(tmp_path):
    copy = tmp_path / "bundled"
    shutil.copytree(bundled_dir(), copy)
    assert verify_bundled(copy) == []
    target = copy / "ner" / "test.txt"
    data = bytearray(target.read_bytes())
    data[100] ^= 0x01
    target.write_bytes(bytes(data))
    problems = verify_bundled(copy)
    assert any("test.txt" in p and "changed" in p for p in problems)
    assert any(p.startswith("Fix:") for p in problems)


def test_verify_bundled_detects_missing_files(tmp_path):
    copy = tmp_path / "bundled"
    shutil.copytree(bundled_dir(), copy)
    (copy / "classification" / "train.tsv").unlink()
    assert any("train.tsv is missing" in p for p in verify_bundled(copy))
    (copy / MANIFEST).unlink()
    assert any(MANIFEST in p and "missing" in p for p in verify_bundled(copy))


def test_manifest_covers_every_data_file():
    listed = [line.split("  ", 1)[1] for line in (bundled_dir() / MANIFEST).read_text().splitlines()]
    assert listed == data_files()
