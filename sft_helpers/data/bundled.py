"""The bundled data files: where they are, their file formats, and their SHA-256 manifest."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CLASSIFICATION_LABELS = ("negative", "mixed", "positive")
CLASSIFICATION_METADATA = ("negation", "contrast", "intensifier", "unseen_words", "noise")
SPLITS = ("train", "validation", "test")
MANIFEST = "MANIFEST.sha256"


def bundled_dir() -> Path:
    """The folder holding the bundled data sets (``classification/``, ``ner/``, ``qa/``) and the manifest."""
    return Path(__file__).resolve().parent / "bundled"


def data_files() -> list[str]:
    """Paths, relative to the bundled folder, of every data file the manifest covers."""
    return (
        [f"classification/{s}.tsv" for s in SPLITS]
        + [f"ner/{s}.txt" for s in SPLITS]
        + [f"qa/{s}.json" for s in SPLITS]
    )


# ---------------------------------------------------------------- file formats


def classification_tsv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as a TSV text: ``text``, ``label`` (a class name), then the metadata as 0/1."""
    header = "\t".join(("text", "label", *CLASSIFICATION_METADATA))
    lines = [header]
    for r in rows:
        if "\t" in r["text"] or "\n" in r["text"]:
            raise ValueError(f"text {r['text']!r} contains a tab or newline, which TSV cannot hold.")
        lines.append(
            "\t".join([r["text"], r["label"], *("1" if r[c] else "0" for c in CLASSIFICATION_METADATA)])
        )
    return "\n".join(lines) + "\n"


def conll_text(sentences: Sequence[tuple[Sequence[str], Sequence[str]]]) -> str:
    """Sentences as CoNLL columns: ``word tag`` per line, a blank line after each sentence."""
    blocks = []
    for tokens, tags in sentences:
        if any(" " in t or not t for t in tokens):
            raise ValueError(f"a token in {list(tokens)} is empty or contains a space.")
        blocks.append("".join(f"{w} {t}\n" for w, t in zip(tokens, tags)))
    return "\n".join(blocks)


# ---------------------------------------------------------------- manifest


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(folder: Path) -> Path:
    """Write ``MANIFEST.sha256`` (``sha256sum`` format) for the data files in ``folder``."""
    lines = [f"{sha256(folder / rel)}  {rel}\n" for rel in data_files()]
    path = folder / MANIFEST
    path.write_text("".join(lines), encoding="utf-8", newline="\n")
    return path


def verify_bundled(folder: str | Path | None = None) -> list[str]:
    """Problems with the bundled data compared with its manifest; an empty list when all is well.

    ``folder`` defaults to the installed bundled folder; pass a copy to check that one.
    Each problem is one sentence naming the file (missing, changed, or not in the manifest).
    """
    root = bundled_dir() if folder is None else Path(folder)
    manifest = root / MANIFEST
    if not manifest.is_file():
        return [f"{manifest} is missing: reinstall the package or run `python -m sft_helpers.data.generate`."]
    expected: dict[str, str] = {}
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            return [f"{manifest}, line {number}: not a 'sha256  path' line; the manifest is damaged."]
        expected[rel] = digest
    problems = []
    for rel in data_files():
        if rel not in expected:
            problems.append(f"{rel} is not listed in {manifest.name}.")
    for rel, digest in expected.items():
        path = root / rel
        if not path.is_file():
            problems.append(f"{path} is missing.")
        elif sha256(path) != digest:
            problems.append(f"{path} has changed (its SHA-256 differs from {manifest.name}).")
    if problems:
        problems.append(
            "Fix: reinstall sft_helpers (git checkout the files in a clone), or regenerate them with "
            "`python -m sft_helpers.data.generate`."
        )
    return problems
