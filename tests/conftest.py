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


# Claims tests (tests/test_claims_chNN.py) name their notebook as a module constant NOTEBOOK;
# these fixtures read its stored full-mode run once per module.
@pytest.fixture(scope="module")
def run(request: pytest.FixtureRequest) -> dict:
    """The stored full-mode run of the module's NOTEBOOK (mode, results, seconds, peak, CPU)."""
    from sft_helpers.results import stored_full_run

    return stored_full_run(request.module.NOTEBOOK)


@pytest.fixture(scope="module")
def results(run: dict) -> dict:
    """The key results that run recorded."""
    return run["results"]


@pytest.fixture(scope="module")
def outputs(request: pytest.FixtureRequest) -> str:
    """All stored text outputs of the module's NOTEBOOK (streams, plain text, markdown, HTML)."""
    from sft_helpers.results import stored_outputs_text

    return stored_outputs_text(request.module.NOTEBOOK, kinds=("text/markdown", "text/plain", "text/html"))


@pytest.fixture(scope="module")
def markdown(request: pytest.FixtureRequest) -> str:
    """The prose of the module's NOTEBOOK: every markdown cell's source, joined."""
    import json

    cells = json.loads(Path(request.module.NOTEBOOK).read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                     for c in cells if c["cell_type"] == "markdown")  # fmt: skip
