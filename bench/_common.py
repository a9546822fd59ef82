"""What the benchmark scripts share: where the real data lives, JSON-lines output, SST-2 splits."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

# the scripts run as `python bench/x.py`: make the repository's sft_helpers importable
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def benchmarks_dir() -> Path:
    """The shared benchmark folder: ``$SFT_BENCHMARKS_DIR`` or ``<repo>/../shared/benchmarks``."""
    env = os.environ.get("SFT_BENCHMARKS_DIR")
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"


def emit(record: dict[str, Any]) -> None:
    """Print one JSON line (the benchmarks' only output format)."""
    print(json.dumps(record), flush=True)


def load_sst2(folder: Path, train_size: int | None, eval_size: int | None, seed: int) -> tuple[Any, Any]:
    """SST-2's train and dev splits (``text``, ``label``) through the course's own reader.

    ``train_size``: a random subset of that many training sentences (``None`` or 0: all);
    ``eval_size``: the first that many dev sentences (``None``: all 872).
    """
    from sft_helpers.data import load_classification

    data = load_classification(folder)
    if "train" not in data or "validation" not in data:
        raise SystemExit(f"{folder} needs train.tsv and dev.tsv; found the splits {sorted(data)}.")
    train, dev = data["train"], data["validation"]
    if train_size:
        train = train.shuffle(seed=seed).select(range(min(train_size, len(train))))
    if eval_size:
        dev = dev.select(range(min(eval_size, len(dev))))
    return train, dev


PRECISION_HELP = "our loop's precision; auto: bf16 autocast where the hardware computes bf16 natively"


def use_bf16(precision: str) -> bool:
    """Whether our loop trains in bf16 autocast: asked for, or ``auto`` on hardware that has it."""
    import torch

    from sft_helpers import runtime

    if precision != "auto":
        return precision == "bf16"
    device = runtime.get_device()
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and runtime.cpu_has_native_bf16()
