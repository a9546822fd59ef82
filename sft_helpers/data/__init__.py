"""Data sets for the course: the bundled ones, a user's files, or (online) the hub, in one schema.

* ``load_classification(source="bundled")``: ``DatasetDict`` with ``text`` and ``label``
  (ClassLabel); the bundled reviews add boolean metadata columns (negation, contrast,
  intensifier, unseen_words, noise).
* ``load_ner(source="bundled")``: ``DatasetDict`` with ``tokens`` and ``ner_tags`` (list of
  ClassLabel, IOB2), the schema of the hub's CoNLL-2003.
* ``load_qa(source="bundled")``: ``DatasetDict`` with ``id``, ``title``, ``context``,
  ``question`` and ``answers`` (``text`` and ``answer_start`` lists, empty when the question
  has no answer), the schema of the hub's squad_v2; files in the official SQuAD JSON layout.

``source`` is ``"bundled"``, a folder (files named train*, valid*/dev*/testa, test*/testb
give the splits it has), a single file (its split from its name, else ``train``), or a
hub id, which needs the network. Datasets are built in memory; nothing is cached on disk.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from sft_helpers.data.bundled import (
    CLASSIFICATION_LABELS,
    CLASSIFICATION_METADATA,
    SPLITS,
    bundled_dir,
    verify_bundled,
)
from sft_helpers.data.hub import HubUnavailableError, load_from_hub, looks_like_path
from sft_helpers.data.readers import (
    CONLL_EXTENSIONS,
    TABLE_EXTENSIONS,
    DataFormatError,
    find_split_files,
    read_conll,
    read_table,
    split_for,
)

__all__ = [
    "load_classification",
    "load_ner",
    "load_qa",
    "verify_bundled",
    "bundled_dir",
    "DataFormatError",
    "HubUnavailableError",
]


def _check_source(source: object) -> str | Path:
    if isinstance(source, os.PathLike):
        return Path(source)
    if not isinstance(source, str) or not source.strip():
        raise TypeError(
            f"source must be 'bundled', a path to a folder or file, or a hub id (a string); got {source!r}."
        )
    return source


def _local_files(source: str | Path, extensions: tuple[str, ...]) -> dict[str, Path] | None:
    """Split -> file for a local folder or file; None when ``source`` is not a local path."""
    path = Path(source).expanduser()
    if path.is_dir():
        return find_split_files(path, extensions)
    if path.is_file():
        return {split_for(path.name) or "train": path}
    if isinstance(source, Path) or looks_like_path(str(source)):
        raise FileNotFoundError(f"source={str(source)!r}: no such file or folder ({path.resolve()}).")
    return None


@functools.lru_cache(maxsize=4)
def _bundled_classification_rows(folder: str) -> dict[str, list[dict]]:
    return {s: read_table(Path(folder) / "classification" / f"{s}.tsv") for s in SPLITS}


@functools.lru_cache(maxsize=4)
def _bundled_ner_sentences(folder: str) -> dict[str, list]:
    return {s: read_conll(Path(folder) / "ner" / f"{s}.txt") for s in SPLITS}


def load_classification(source: str | os.PathLike = "bundled"):
    """A text-classification ``DatasetDict`` (``text``, ``label`` ClassLabel) from ``source``.

    ``"bundled"``: the course's product reviews (labels negative / mixed / positive, with
    metadata columns). A folder or a CSV/TSV/JSON-lines file: columns ``text`` (or
    ``sentence``) and ``label`` (class ids or names). Anything else is tried as a hub id.
    """
    from sft_helpers.data import schema

    source = _check_source(source)
    if source == "bundled":
        rows = _bundled_classification_rows(str(bundled_dir()))
        parsed = {
            s: [{**r, **{c: r[c] == "1" for c in CLASSIFICATION_METADATA}} for r in rows[s]] for s in rows
        }
        return schema.classification_dict(
            parsed, names=CLASSIFICATION_LABELS, bool_columns=CLASSIFICATION_METADATA
        )
    files = _local_files(source, TABLE_EXTENSIONS)
    if files is None:
        return load_from_hub(str(source), task="classification")
    rows = {split: read_table(path) for split, path in files.items()}
    return schema.classification_dict(rows)


def load_ner(source: str | os.PathLike = "bundled"):
    """A token-classification ``DatasetDict`` (``tokens``, ``ner_tags`` IOB2 ClassLabels) from ``source``.

    ``"bundled"``: the course's news sentences (PER, ORG, LOC, MISC). A folder or a file:
    CoNLL column files (word first, NER tag last, IOB1 converted to IOB2) or JSON lines
    with ``tokens``/``ner_tags``. Anything else is tried as a hub id.
    """
    from sft_helpers.data import schema

    source = _check_source(source)
    if source == "bundled":
        return schema.ner_dict(_bundled_ner_sentences(str(bundled_dir())))
    files = _local_files(source, CONLL_EXTENSIONS)
    if files is None:
        return load_from_hub(str(source), task="ner")
    return schema.ner_dict({split: read_conll(path) for split, path in files.items()})


@functools.lru_cache(maxsize=4)
def _bundled_qa_rows(folder: str) -> dict[str, list]:
    from sft_helpers.data.squad import read_squad

    return {s: read_squad(Path(folder) / "qa" / f"{s}.json") for s in SPLITS}


def load_qa(source: str | os.PathLike = "bundled"):
    """An extractive-QA ``DatasetDict`` (``id, title, context, question, answers``) from ``source``.

    ``"bundled"``: the course's generated paragraphs (biographies, companies, cup finals,
    cities) with SQuAD 2.0-style unanswerable questions. A SQuAD JSON file (v1.1 or v2.0;
    its split from its name, else ``train``) or a folder of them (``train-v2.0.json``,
    ``dev-v2.0.json``, ...). Anything else is tried as a hub id (``"rajpurkar/squad_v2"``),
    which needs the network.
    """
    from sft_helpers.data.squad import SQUAD_EXTENSIONS, qa_dict, qa_from_hub, read_squad

    source = _check_source(source)
    if source == "bundled":
        return qa_dict(_bundled_qa_rows(str(bundled_dir())))
    files = _local_files(source, SQUAD_EXTENSIONS)
    if files is None:
        return qa_from_hub(str(source))
    return qa_dict({split: read_squad(path) for split, path in files.items()})
