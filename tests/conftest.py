"""Shared test settings: offline, fast mode, quiet libraries, paths to the repo and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# Before anything imports transformers/datasets: never reach for a hub, shrink notebooks.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("SFT_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def benchmarks_dir() -> Path:
    """The steering side's benchmark data (absent on a learner's machine)."""
    return Path(os.environ.get("SFT_BENCHMARKS_DIR", REPO_ROOT.parent / "shared" / "benchmarks"))


@pytest.fixture
def shared_benchmarks() -> Path:
    folder = benchmarks_dir()
    if not folder.is_dir():
        pytest.skip(f"benchmark data not available ({folder} is absent)")
    return folder
