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
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Several workers share the cores: one torch thread each (notebook kernels inherit it).
    os.environ["SFT_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)

from hypothesis import settings  # noqa: E402

# Property tests: no per-example deadline (shared CI machines stall); derandomized in CI so a
# failure reproduces exactly.
settings.register_profile("dev", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def benchmarks_dir() -> Path:
    """The steering side's benchmark data (absent on a learner's machine)."""
    return Path(os.environ.get("SFT_BENCHMARKS_DIR", REPO_ROOT.parent / "shared" / "benchmarks"))


@pytest.fixture
def shared_benchmarks() -> Path:
    folder = benchmarks_dir()
    if not folder.is_dir():
        pytest.skip(f"benchmark data not available ({folder} is absent)")
    return folder
