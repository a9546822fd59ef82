"""What the benchmark scripts share: where the real data lives, JSON-lines output, SST-2 files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def benchmarks_dir() -> Path:
    """The shared benchmark folder: ``$SFT_BENCHMARKS_DIR`` or ``<repo>/../shared/benchmarks``."""
    env = os.environ.get("SFT_BENCHMARKS_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"


def emit(record: dict[str, Any]) -> None:
    """Print one JSON line (the benchmarks' only output format)."""
    print(json.dumps(record), flush=True)


def read_sst2(path: Path) -> dict[str, list]:
    """An SST-2 TSV file (header ``text<TAB>label``) as plain lists."""
    texts, labels = [], []
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().rstrip("\n").split("\t")
        if header[:2] != ["text", "label"]:
            raise ValueError(f"{path}: expected the header 'text<TAB>label', got {header}.")
        for line in handle:
            text, label = line.rstrip("\n").rsplit("\t", 1)
            texts.append(text.strip())
            labels.append(int(label))
    return {"text": texts, "label": labels}
