"""The bundled QA data set (generator, files, card) and load_qa on bundled data, SQuAD files and folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sft_helpers.data import DataFormatError, bundled, bundled_dir, generate, load_qa, qa, verify_bundled
from sft_helpers.data.hub import HubUnavailableError

QA_DIR = bundled_dir() / "qa"


@pytest.fixture(scope="module")
def rows():
    return qa.generate(generate.SEED)


def test_generator_is_deterministic_and_matches_the_committed_files(rows, tmp_path: Path) -> None:
    assert qa.generate(generate.SEED) == rows
    assert qa.generate(generate.SEED + 1) != rows
    written = generate.write_qa(tmp_path)
    for split in bundled.SPLITS:
        ours = (tmp_path / "qa" / f"{split}.json").read_bytes()
        assert ours == (QA_DIR / f"{split}.json").read_bytes(), f"regenerate: qa/{split}.json differs"
    assert written == rows
    assert [f for f in bundled.data_files() if f.startswith("qa/")] == [f"qa/{s}.json" for s in bundled.SPLITS]
    assert verify_bundled() == [] or all("qa/" not in p for p in verify_bundled())


def test_sizes_share_of_unanswerable_and_spans(rows) -> None:
    for split, size in qa.SIZES.items():
        assert len(rows[split]) == size
        share = sum(not r["answers"]["text"] for r in rows[split]) / size
        assert 0.25 <= share <= 0.4, (split, share)
        assert len({r["id"] for r in rows[split]}) == size
        for r in rows[split]:
            for text, start in zip(r["answers"]["text"], r["answers"]["answer_start"]):
                assert r["context"][start : start + len(text)] == text
    assert min(qa.SIZES.values()) >= 300 and qa.SIZES["train"] >= 2000


def test_reading_is_needed(rows) -> None:
    """Answers not always in the first sentence, long paragraphs, distractors of the same kind."""
    answered = [r for r in rows["train"] if r["answers"]["text"]]
    later = sum("." in r["context"][: r["answers"]["answer_start"][0]] for r in answered) / len(answered)
    assert later > 0.5
    long = sum(len(r["context"].split()) > 90 for r in rows["train"]) / len(rows["train"])
    assert long > 0.1
    # unanswerable questions whose paragraph holds a same-kind fact of another entity
    sibling = [r for r in rows["train"] if not r["answers"]["text"] and ("sister" in r["question"] or "brother" in r["question"])]
    assert sibling
    # test names are mostly new
    train_titles = {r["title"] for r in rows["train"]}
    test_people = [r for r in rows["test"] if r["kind"] == "biography"]
    assert sum(r["title"] in train_titles for r in test_people) / len(test_people) < 0.2


def test_card_and_stats_are_committed() -> None:
    card = (QA_DIR / "README.md").read_text(encoding="utf-8")
    st = json.loads((QA_DIR / "stats.json").read_text(encoding="utf-8"))
    assert "SQuAD 2.0" in card and f"{st['baseline']['test']['f1']:.1f}" in card
    assert st["sizes"] == qa.SIZES
    assert st["long_pairs"]["train"] > 0.05  # some pairs need more than one 128-token window


def test_load_qa_bundled_has_the_squad_v2_schema() -> None:
    dd = load_qa()
    assert list(dd) == ["train", "validation", "test"]
    assert dd["train"].column_names == ["id", "title", "context", "question", "answers"]
    feature = dd["train"].features["answers"]
    assert set(feature) == {"text", "answer_start"}
    row = next(r for r in dd["train"] if r["answers"]["text"])
    start, text = row["answers"]["answer_start"][0], row["answers"]["text"][0]
    assert row["context"][start : start + len(text)] == text


def _squad(path: Path, qas: list, version: str = "v2.0") -> Path:
    doc = {"version": version, "data": [{"title": "T", "paragraphs": [{"context": "Lyon beat Porto.", "qas": qas}]}]}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_load_qa_reads_v1_and_v2_files_and_folders(tmp_path: Path) -> None:
    v1 = _squad(tmp_path / "one.json", [{"id": "1", "question": "Who won?", "answers": [{"text": "Lyon", "answer_start": 0}]}], "1.1")
    dd = load_qa(v1)
    assert list(dd) == ["train"] and dd["train"][0]["answers"] == {"text": ["Lyon"], "answer_start": [0]}
    folder = tmp_path / "squad"
    folder.mkdir()
    _squad(folder / "train-v2.0.json", [
        {"id": "a", "question": "Who won?", "answers": [{"text": "Lyon", "answer_start": 0}], "is_impossible": False},
        {"id": "b", "question": "Who lost in 1990?", "answers": [], "is_impossible": True,
         "plausible_answers": [{"text": "Porto", "answer_start": 10}]},
    ])  # fmt: skip
    _squad(folder / "dev-v2.0.json", [{"id": "c", "question": "Who won?", "answers": [{"text": "Lyon", "answer_start": 0}]}])
    dd = load_qa(folder)
    assert list(dd) == ["train", "validation"]
    assert dd["train"][1]["answers"] == {"text": [], "answer_start": []}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("{not json", "not valid JSON"),
        ('[{"title": "x"}]', 'no "data" list'),
        ('{"data": [{"title": "x"}]}', '"paragraphs" list'),
        ('{"data": [{"paragraphs": [{"context": "", "qas": []}]}]}', "context"),
        ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"question": "q?", "answers": []}]}]}]}', '"id"'),
        ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "1", "question": "q?", "answers": []}]}]}]}',
         "is_impossible is not true"),
        ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "1", "question": "q?", "is_impossible": true, '
         '"answers": [{"text": "a", "answer_start": 0}]}]}]}]}', "plausible_answers"),
        ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "1", "question": "q?", '
         '"answers": [{"text": "bc", "answer_start": 0}]}]}]}]}', "points at 'ab'"),
        ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "1", "question": "q?", '
         '"answers": [{"text": "bc", "answer_start": "1"}]}]}]}]}', "answer_start"),
        ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "1", "question": "q?", "is_impossible": true, '
         '"answers": []}, {"id": "1", "question": "q2?", "is_impossible": true, "answers": []}]}]}]}', "already used"),
        ('{"data": []}', "no questions"),
    ],
)  # fmt: skip
def test_malformed_files_name_the_file_the_place_and_the_fix(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "train.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        load_qa(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_missing_path_and_hub_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError):
        load_qa(tmp_path / "nope.json")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(HubUnavailableError, match="needs the network"):
        load_qa("rajpurkar/squad_v2")
    with pytest.raises(TypeError):
        load_qa(3)
