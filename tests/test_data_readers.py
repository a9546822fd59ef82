"""Readers of user files: CoNLL columns, CSV/TSV/JSON lines, folders, and their error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import ClassLabel, DatasetDict

from sft_helpers.data import HubUnavailableError, load_classification, load_ner
from sft_helpers.data.readers import DataFormatError, read_conll, read_table, split_for, to_iob2
from sft_helpers.data.schema import CONLL2003_TAGS, tag_names

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def tags_of(ds, split: str = "train") -> list[list[str]]:
    names = ds[split].features["ner_tags"].feature.names
    return [[names[i] for i in row] for row in ds[split]["ner_tags"]]


# ---------------------------------------------------------------- CoNLL


def test_conll_docstart_skipped_and_iob1_converted(tmp_path):
    sentences = read_conll(write(tmp_path, "train.txt", CONLL))
    assert sentences == [
        (["EU", "rejects", "German", "call", "."], ["B-ORG", "O", "B-MISC", "O", "O"]),
        (["Peter", "Blackburn"], ["B-PER", "I-PER"]),
    ]


def test_to_iob2_keeps_valid_iob2_and_fixes_iob1():
    assert to_iob2(["B-PER", "I-PER", "O", "B-LOC"]) == ["B-PER", "I-PER", "O", "B-LOC"]
    assert to_iob2(["I-PER", "I-PER", "I-LOC", "O", "I-LOC"]) == ["B-PER", "I-PER", "B-LOC", "O", "B-LOC"]


def test_conll_two_tab_columns_and_crlf(tmp_path):
    path = tmp_path / "dev.conll"
    path.write_bytes(b"New\tB-location\r\nYork\tI-location\r\n\r\nhi\tO\r\n")
    assert read_conll(path) == [(["New", "York"], ["B-location", "I-location"]), (["hi"], ["O"])]


def test_conll_wrong_column_count_names_file_and_line(tmp_path):
    path = write(tmp_path, "train.txt", "EU NNP B-NP B-ORG\nrejects VBZ O\n")
    with pytest.raises(ValueError, match=r"train\.txt, line 2: expected 4 columns like line 1, found 3"):
        read_conll(path)


def test_conll_single_column_line(tmp_path):
    path = write(tmp_path, "train.txt", "EU B-ORG\n\nlonely\n")
    with pytest.raises(ValueError, match=r"line 3: expected at least 2 columns"):
        read_conll(path)


def test_conll_unknown_tag(tmp_path):
    path = write(tmp_path, "train.txt", "EU B-ORG\nsays PER\n")
    with pytest.raises(DataFormatError, match=r"line 2: unknown tag 'PER'.*O, B-TYPE or I-TYPE"):
        read_conll(path)


@pytest.mark.parametrize("text", ["", "\n\n  \n", "-DOCSTART- O\n\n"])
def test_conll_empty_file(tmp_path, text):
    with pytest.raises(ValueError, match=r"train\.txt"):
        read_conll(write(tmp_path, "train.txt", text))


def test_conll_not_utf8(tmp_path):
    path = tmp_path / "train.txt"
    path.write_bytes(b"caf\xe9 O\n")
    with pytest.raises(ValueError, match="not UTF-8"):
        read_conll(path)


def test_ner_jsonl(tmp_path):
    rows = [
        {"tokens": ["Ana", "Silva"], "ner_tags": ["B-PER", "I-PER"]},
        {"tokens": ["hi"], "ner_tags": ["O"]},
    ]
    path = write(tmp_path, "train.jsonl", "\n".join(json.dumps(r) for r in rows))
    ds = load_ner(path)
    assert ds["train"]["tokens"] == [["Ana", "Silva"], ["hi"]]
    bad = write(tmp_path, "test.jsonl", json.dumps({"tokens": ["a", "b"], "ner_tags": ["O"]}))
    with pytest.raises(ValueError, match=r"test\.jsonl, line 1: 2 tokens but 1 tags"):
        read_conll(bad)


# ---------------------------------------------------------------- folders and tag names


@pytest.mark.parametrize(
    ("name", "split"),
    [("train.txt", "train"), ("eng.train", "train"), ("wnut17train.conll", "train"), ("valid.txt", "validation"),
     ("dev.tsv", "validation"), ("eng.testa", "validation"), ("eng.testb", "test"), ("test.csv", "test"),
     ("emerging.test.annotated", "test"), ("notes.txt", None)],
)  # fmt: skip
def test_split_for(name, split):
    assert split_for(name) == split


def test_ner_folder_with_conll_names(tmp_path):
    write(tmp_path, "eng.train", CONLL)
    write(tmp_path, "eng.testa", "Paris B-LOC\n")
    write(tmp_path, "eng.testb", "Rome I-LOC\n")
    write(tmp_path, "README.md", "not data")
    ds = load_ner(tmp_path)
    assert isinstance(ds, DatasetDict)
    assert list(ds) == ["train", "validation", "test"]
    assert ds["train"].features["ner_tags"].feature.names == list(CONLL2003_TAGS)
    assert tags_of(ds, "test") == [["B-LOC"]]


def test_ner_folder_only_the_splits_it_has(tmp_path):
    write(tmp_path, "train.txt", CONLL)
    assert list(load_ner(tmp_path)) == ["train"]


def test_folder_with_two_files_for_one_split(tmp_path):
    write(tmp_path, "train.txt", CONLL)
    write(tmp_path, "train2.txt", CONLL)
    with pytest.raises(ValueError, match=r"several files map to the 'train' split"):
        load_ner(tmp_path)


def test_folder_without_data_files(tmp_path):
    write(tmp_path, "notes.md", "hello")
    with pytest.raises(ValueError, match="no data files found"):
        load_classification(tmp_path)


def test_tag_names_conll_order_or_o_then_sorted():
    assert tag_names(["O", "B-PER", "I-LOC"]) == list(CONLL2003_TAGS)
    assert tag_names(["O", "B-person", "I-corporation"]) == [
        "O", "B-corporation", "B-person", "I-corporation", "I-person"
    ]  # fmt: skip


# ---------------------------------------------------------------- CSV / TSV / JSONL


def test_csv_int_labels_and_quoted_commas(tmp_path):
    write(tmp_path, "train.csv", 'text,label\n"good, really",1\nbad,0\n')
    write(tmp_path, "dev.csv", "sentence,label\nfine,2\n")
    ds = load_classification(tmp_path)
    assert list(ds) == ["train", "validation"]
    assert ds["train"]["text"] == ["good, really", "bad"]
    assert isinstance(ds["train"].features["label"], ClassLabel)
    assert ds["train"].features["label"].names == ["0", "1", "2"]
    assert ds["validation"]["label"] == [2]


def test_tsv_is_not_quoted_and_names_are_sorted(tmp_path):
    path = write(tmp_path, "train.tsv", 'text\tlabel\nit \'s a "charming" film\tpos\nbleak\tneg\n')
    ds = load_classification(path)
    assert ds["train"]["text"][0] == 'it \'s a "charming" film'
    assert ds["train"].features["label"].names == ["neg", "pos"]
    assert ds["train"]["label"] == [1, 0]


def test_jsonl_classification(tmp_path):
    path = write(tmp_path, "test.jsonl", '{"text": "ok", "label": "b"}\n\n{"text": "no", "label": "a"}\n')
    ds = load_classification(path)
    assert list(ds) == ["test"] and ds["test"]["label"] == [1, 0]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("train.csv", "text,stars\ngood,1\n", r"train\.csv, line 1: the header .* lacks"),
        ("train.csv", "text,label\ngood,1\nbad\n", r"train\.csv, line 3: expected 2 columns"),
        ("train.csv", "text,label\n", r"no examples found"),
        (
            "train.csv",
            "text,label\ngood,1\nbad,neg\n",
            r"line 3: label 'neg' is a name but line 2 has a number",
        ),
        ("train.csv", "text,label\ngood,-1\n", r"line 2: label -1 is negative"),
        ("train.csv", "text,label\n ,1\n", r"line 2: the text is empty"),
        ("train.csv", "text,label\ngood,\n", r"line 2: the label is empty"),
        ("train.jsonl", '{"text": "a", "label": 1.5}\n', r"line 1: label 1.5 is a float"),
        ("train.jsonl", '{"text": "a", "label": true}\n', r"line 1: label True is a bool"),
        ("train.jsonl", '{"text": "a", "label": 1}\n{"text": "b"\n', r"train\.jsonl, line 2: invalid JSON"),
        ("train.jsonl", '{"sentence": "a"}\n', r"line 1: missing column label"),
        ("train.jsonl", "[1, 2]\n", r"expected a JSON object"),
    ],
)
def test_table_errors(tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    with pytest.raises(ValueError, match=message):
        read_table(path)
    with pytest.raises(ValueError, match=message):
        load_classification(path)


# ---------------------------------------------------------------- sources


def test_missing_local_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        load_ner(str(tmp_path / "nope" / "train.txt"))
    with pytest.raises(FileNotFoundError):
        load_classification("./no_such_folder")


def test_hub_id_offline_gives_clear_error(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(HubUnavailableError, match=r"needs the network.*source='bundled'"):
        load_classification("someone/some-dataset")
    with pytest.raises(HubUnavailableError, match="needs the network"):
        load_ner("conll2003")


@pytest.mark.parametrize("source", [None, 3, "", ["train.txt"]])
def test_bad_source_type(source):
    with pytest.raises(TypeError, match="source must be"):
        load_ner(source)


def test_hub_results_are_normalised_to_the_course_schema(monkeypatch):
    """No network: ``datasets.load_dataset`` is replaced by an in-memory data set."""
    import datasets

    fake = datasets.DatasetDict(
        {
            "train": datasets.Dataset.from_dict(
                {"idx": [0, 1], "sentence": ["good", "bad"], "label": ["pos", "neg"]}
            ),
            "validation": datasets.Dataset.from_dict({"idx": [2], "sentence": ["fine"], "label": ["pos"]}),
        }
    )
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", lambda name: fake)
    ds = load_classification("someone/sentiment")
    assert ds["train"].column_names == ["text", "label"]
    assert ds["train"].features["label"].names == ["neg", "pos"]
    assert ds["validation"]["label"] == [1]
    with pytest.raises(ValueError, match="lacks the columns"):
        load_ner("someone/sentiment")


def test_hub_failure_is_wrapped(monkeypatch):
    import datasets

    def refuse(name):
        raise OSError("Connection refused")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", refuse)
    with pytest.raises(HubUnavailableError, match="needs the network.*Connection refused"):
        load_ner("someone/ner")
