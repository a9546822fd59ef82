"""Readers for a user's data files: CoNLL column files, CSV/TSV and JSON lines.

They return plain Python lists (no ``datasets`` import here) and fail with a
:class:`DataFormatError` (a ``ValueError``) naming the file, the line and what was
expected. ``schema`` turns their output into a ``datasets.DatasetDict``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CONLL_EXTENSIONS = (".txt", ".conll", ".iob", ".iob2", ".bio", ".tsv", ".jsonl", ".json", "")
TABLE_EXTENSIONS = (".csv", ".tsv", ".jsonl", ".json")
SPLIT_SUFFIXES = (".train", ".dev", ".valid", ".testa", ".testb", ".test")
TEXT_COLUMNS = ("text", "sentence")
_TAG = re.compile(r"^(O|[BI]-\S+)$")


class DataFormatError(ValueError):
    """A data file does not have the expected format; the message says where and what."""


def _where(path: Path, line: int | None = None) -> str:
    return f"{path}, line {line}" if line is not None else str(path)


def _read_text(path: Path) -> str:
    try:  # bytes, then decode: no newline translation inside quoted CSV fields
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataFormatError(
            f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8."
        ) from None
    if not text.strip():
        raise DataFormatError(f"{path}: the file is empty; expected at least one example.")
    return text


def _lines(text: str) -> list[str]:
    """Lines split at \n only (``str.splitlines`` would also split at \x1c, \u2028, ...)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def split_for(name: str) -> str | None:
    """The split a file name stands for: train*, valid*/dev*/testa -> validation, test*/testb -> test."""
    lower = name.lower()
    if "testa" in lower:
        return "validation"
    if "testb" in lower:
        return "test"
    if "train" in lower:
        return "train"
    if "valid" in lower or "dev" in lower:
        return "validation"
    if "test" in lower:
        return "test"
    return None


def find_split_files(folder: Path, extensions: Sequence[str]) -> dict[str, Path]:
    """Map split name -> file for the data files in ``folder`` (one file per split)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        if (
            not path.is_file()
            or path.name.startswith(".")
            or path.name.lower().startswith(("readme", "license"))
        ):
            continue
        suffix = path.suffix.lower()
        if suffix not in extensions and suffix not in SPLIT_SUFFIXES:
            continue
        split = split_for(path.name)
        if split is not None:
            found.setdefault(split, []).append(path)
    if not found:
        raise DataFormatError(
            f"{folder}: no data files found. Expected files named like train*, valid*/dev*/testa, test*/testb "
            f"with one of the extensions {', '.join(e for e in extensions if e)}."
        )
    for split, paths in found.items():
        if len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            raise DataFormatError(
                f"{folder}: several files map to the {split!r} split ({names}); keep one per split."
            )
    return {split: paths[0] for split, paths in found.items()}


# ---------------------------------------------------------------- token classification


def to_iob2(tags: Sequence[str]) -> list[str]:
    """Convert IOB1 to IOB2: an ``I-X`` that does not continue an ``X`` entity becomes ``B-X``.

    Valid IOB2 input is returned unchanged.
    """
    out: list[str] = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def read_conll(path: str | Path) -> list[tuple[list[str], list[str]]]:
    """Sentences of a CoNLL column file as ``(tokens, tags)`` pairs, tags in IOB2.

    One token per line, the word in the first column and the NER tag in the last
    (columns separated by a tab, or else by spaces); a blank line ends a sentence;
    ``-DOCSTART-`` lines are skipped. Every token line must have as many columns as the
    first one. ``.json``/``.jsonl`` files are read as JSON lines with ``tokens`` and
    ``ner_tags`` (tag strings).
    """
    path = Path(path)
    if path.suffix.lower() in (".json", ".jsonl"):
        return _read_ner_jsonl(path)
    text = _read_text(path)
    sentences: list[tuple[list[str], list[str]]] = []
    words: list[str] = []
    tags: list[str] = []
    n_columns: tuple[int, int] | None = None  # (count, line where first seen)

    def close() -> None:
        if words:
            sentences.append((list(words), to_iob2(tags)))
            words.clear()
            tags.clear()

    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            close()
            continue
        columns = line.rstrip().split("\t") if "\t" in line else line.split()
        if columns[0] == "-DOCSTART-":
            close()
            continue
        if len(columns) < 2:
            raise DataFormatError(
                f"{_where(path, number)}: expected at least 2 columns (word ... NER tag) separated by a tab or "
                f"spaces, found 1: {line.strip()!r}."
            )
        if n_columns is None:
            n_columns = (len(columns), number)
        elif len(columns) != n_columns[0]:
            raise DataFormatError(
                f"{_where(path, number)}: expected {n_columns[0]} columns like line {n_columns[1]}, found "
                f"{len(columns)}: {line.strip()!r}."
            )
        word, tag = columns[0].strip(), columns[-1].strip()
        if not word:
            raise DataFormatError(f"{_where(path, number)}: the word (first column) is empty.")
        if not _TAG.match(tag):
            raise DataFormatError(
                f"{_where(path, number)}: unknown tag {tag!r} in the last column; expected O, B-TYPE or I-TYPE "
                "(IOB1 or IOB2 tags)."
            )
        words.append(word)
        tags.append(tag)
    close()
    if not sentences:
        raise DataFormatError(f"{path}: no sentences found (only -DOCSTART- or blank lines).")
    return sentences


def _json_lines(path: Path) -> list[tuple[int, Any]]:
    """Objects of a JSON-lines file (or of a JSON array) with their line numbers."""
    text = _read_text(path)
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataFormatError(f"{_where(path, err.lineno)}: invalid JSON ({err.msg}).") from None
        return [(i + 1, item) for i, item in enumerate(items)]
    out = []
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except json.JSONDecodeError as err:
            raise DataFormatError(
                f"{_where(path, number)}: invalid JSON ({err.msg}); expected one JSON object per line."
            ) from None
    return out


def _read_ner_jsonl(path: Path) -> list[tuple[list[str], list[str]]]:
    sentences = []
    for number, item in _json_lines(path):
        if not isinstance(item, dict) or "tokens" not in item or "ner_tags" not in item:
            raise DataFormatError(f"{_where(path, number)}: expected an object with 'tokens' and 'ner_tags'.")
        tokens, tags = item["tokens"], item["ner_tags"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
            raise DataFormatError(f"{_where(path, number)}: 'tokens' must be a list of non-empty strings.")
        if not isinstance(tags, list) or not all(isinstance(t, str) and _TAG.match(t) for t in tags):
            raise DataFormatError(
                f"{_where(path, number)}: 'ner_tags' must be a list of tag strings (O, B-TYPE, I-TYPE)."
            )
        if len(tokens) != len(tags) or not tokens:
            raise DataFormatError(
                f"{_where(path, number)}: {len(tokens)} tokens but {len(tags)} tags; expected one tag per token."
            )
        sentences.append((tokens, to_iob2(tags)))
    if not sentences:
        raise DataFormatError(f"{path}: no sentences found.")
    return sentences


# ---------------------------------------------------------------- text classification


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """Rows ``{"text", "label", ...}`` of a CSV, TSV or JSON-lines file.

    The header (or each JSON object) must have a ``text`` (or ``sentence``) column and a
    ``label`` column; other columns are kept as strings. Labels are integers (``"0"`` in
    CSV counts as 0) or class names, not a mixture of both.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        records = _json_lines(path)
        for number, item in records:
            if not isinstance(item, dict):
                raise DataFormatError(
                    f"{_where(path, number)}: expected a JSON object with 'text' and 'label'."
                )
    elif suffix in (".csv", ".tsv"):
        records = _csv_records(path, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        raise DataFormatError(f"{path}: unsupported file type {suffix!r}; use .csv, .tsv or .jsonl.")
    rows = []
    kind: tuple[str, int] | None = None  # ("int" | "str", first line)
    for number, item in records:
        text_key = next((k for k in TEXT_COLUMNS if k in item), None)
        if text_key is None or "label" not in item:
            missing = "label" if text_key is not None else "text (or sentence)"
            raise DataFormatError(
                f"{_where(path, number)}: missing column {missing}; found {sorted(item)}. Expected columns "
                "text (or sentence) and label."
            )
        text, label = item[text_key], item["label"]
        if not isinstance(text, str) or not text.strip():
            raise DataFormatError(f"{_where(path, number)}: the text is empty or not a string: {text!r}.")
        label, this_kind = _parse_label(label, path, number)
        if kind is None:
            kind = (this_kind, number)
        elif kind[0] != this_kind:
            raise DataFormatError(
                f"{_where(path, number)}: label {label!r} is a {'name' if this_kind == 'str' else 'number'} but "
                f"line {kind[1]} has a {'name' if kind[0] == 'str' else 'number'}; use one kind for every label."
            )
        extra = {k: v for k, v in item.items() if k not in (text_key, "label")}
        rows.append({"text": text, "label": label, **extra})
    if not rows:
        raise DataFormatError(f"{path}: no examples found; expected a header and at least one row.")
    return rows


def _parse_label(value: Any, path: Path, number: int) -> tuple[int | str, str]:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise DataFormatError(
            f"{_where(path, number)}: label {value!r} is a {type(value).__name__}; expected an integer class id "
            "or a class name."
        )
    if isinstance(value, str):
        value = value.strip()
        if not value:
            raise DataFormatError(f"{_where(path, number)}: the label is empty.")
        if re.fullmatch(r"[+-]?\d+", value):
            value = int(value)
    if isinstance(value, int):
        if value < 0:
            raise DataFormatError(f"{_where(path, number)}: label {value} is negative; class ids start at 0.")
        return value, "int"
    return value, "str"


def _csv_records(path: Path, delimiter: str) -> list[tuple[int, dict[str, str]]]:
    text = _read_text(path)
    # TSV files (GLUE style) do not quote: a quote character is just a character.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
        if not any(k in header for k in TEXT_COLUMNS) or "label" not in header:
            raise DataFormatError(
                f"{_where(path, 1)}: the header {header} lacks a text (or sentence) column or a label column; "
                "expected a first line like 'text,label'."
            )
        records = []
        for row in reader:
            number = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise DataFormatError(
                    f"{_where(path, number)}: expected {len(header)} columns like the header "
                    f"({delimiter.join(header)!r}), found {len(row)}."
                )
            records.append((number, dict(zip(header, row))))
    except csv.Error as err:
        raise DataFormatError(f"{_where(path, reader.line_num)}: malformed CSV ({err}).") from None
    if len(set(header)) != len(header):
        raise DataFormatError(f"{_where(path, 1)}: the header repeats a column name: {header}.")
    return records
