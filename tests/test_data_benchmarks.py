"""The readers on the real public benchmark files (skipped where that folder is absent).

The files live outside the repository (never copy them in): ``$SFT_BENCHMARKS_DIR`` or
``<repo>/../shared/benchmarks``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sft_helpers.data import load_classification, load_ner
from sft_helpers.data.schema import CONLL2003_TAGS

BENCHMARKS = Path(
    os.environ.get("SFT_BENCHMARKS_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
)


def folder(name: str) -> Path:
    path = BENCHMARKS / name
    if not path.is_dir():
        pytest.skip(f"benchmark folder {path} is absent (only some machines have it)")
    return path


def test_conll2003_folder():
    ds = load_ner(folder("conll2003"))
    assert list(ds) == ["train", "validation"]
    assert ds["train"].num_rows == 14041
    assert ds["validation"].num_rows == 3250
    names = ds["train"].features["ner_tags"].feature.names
    assert names == list(CONLL2003_TAGS)
    assert ds["train"][0]["tokens"][:3] == ["EU", "rejects", "German"]
    assert [names[i] for i in ds["train"][0]["ner_tags"][:3]] == ["B-ORG", "O", "B-MISC"]


def test_sst2_folder():
    ds = load_classification(folder("sst2"))
    assert list(ds) == ["train", "validation"]
    assert ds["train"].num_rows == 67349
    assert ds["validation"].num_rows == 872
    assert ds["train"].features["label"].names == ["0", "1"]
    assert sum(ds["validation"]["label"]) == 444


def test_wnut17_folder_has_its_own_tag_set():
    ds = load_ner(folder("wnut17"))
    assert ds["train"].num_rows == 3394
    assert ds["validation"].num_rows == 1009
    names = ds["train"].features["ner_tags"].feature.names
    assert names[0] == "O" and len(names) == 13
    assert names[1:] == sorted(names[1:])
