"""Chapter 4 on real data: fine-tune the bundled encoder on SST-2 and compare with published scores.

Fine-tunes all-MiniLM-L6-v2 (+ a new 2-class head) with ``sft_helpers.training`` on SST-2's
training set (or a stated random subset), evaluates on SST-2 dev (872 sentences; the test
labels are not public) and prints one JSON line per result: dev accuracy and macro-F1, wall
time, training examples per second, then the SST-2 rows of ``REFERENCE_SCORES.md`` for
comparison. Note that those references train on all 67,349 sentences for 3 epochs, with
larger models; a subset gives a lower bound of what this model reaches.
Training runs in bf16 autocast where the hardware computes bf16 natively (``--precision``).

Skips cleanly (one JSON line, exit 0) when the benchmark folder is absent:
``$SFT_BENCHMARKS_DIR`` or ``<repo>/../shared/benchmarks``.

    python bench/real_classification.py --quick              # 2,000 sentences: about 2 minutes on 2 cores
    python bench/real_classification.py                      # 20,000 sentences, 1 epoch: about 15 minutes
    python bench/real_classification.py --train-size 0 --epochs 3   # all of train (hours on a laptop CPU)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from _common import PRECISION_HELP, benchmarks_dir, emit, load_sst2, use_bf16


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 training sentences, 1 epoch")
    parser.add_argument("--train-size", type=int, default=20000, help="random training sentences (0: all)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto", help=PRECISION_HELP)
    args = parser.parse_args(argv)
    if args.quick:
        args.train_size, args.epochs = 2000, 1
    return args


def reference_rows(path: Path) -> list[dict[str, str]]:
    """The rows of the '## SST-2 accuracy' table in REFERENCE_SCORES.md."""
    if not path.is_file():
        return []
    rows, inside = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            inside = line.strip().lower().startswith("## sst-2")
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if inside and len(cells) >= 4 and cells[0] not in ("model", "") and not set(cells[0]) <= {"-"}:
            rows.append({"model": cells[0], "split": cells[1], "accuracy": cells[2], "source": cells[3]})
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = benchmarks_dir()
    folder = root / "sst2"
    if not (folder / "train.tsv").is_file():
        emit({"benchmark": "real_classification", "skipped": True, "reason": f"no SST-2 data in {folder}"})
        return 0

    import datasets
    import torch
    from transformers import DataCollatorWithPadding

    os.environ.setdefault("SFT_DEVICE", "cpu")
    from sft_helpers import metrics, models, runtime, training

    threads = runtime.set_threads(args.threads)
    datasets.disable_progress_bars()
    train, dev = load_sst2(folder, args.train_size, None, args.seed)
    torch.manual_seed(args.seed)
    model, tokenizer = models.load_pretrained(
        "sequence-classification", labels=["negative", "positive"], verbose=False
    )
    encode = lambda batch: tokenizer(batch["text"], truncation=True, max_length=args.max_length)  # noqa: E731
    train = train.map(encode, batched=True, remove_columns=["text"])
    dev = dev.map(encode, batched=True, remove_columns=["text"])
    config = training.TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_ratio=0.1,
        group_by_length=True,
        seed=args.seed,
        bf16=use_bf16(args.precision),
        early_stopping_metric="accuracy",
        progress=False,
        verbose=False,
    )
    emit(
        {
            "benchmark": "real_classification",
            "data": f"SST-2 train: {len(train)} sentences x {config.epochs} epoch(s); dev: {len(dev)}",
            "model": "bundled all-MiniLM-L6-v2 (22.7M parameters) + new 2-class head",
            "config": {
                k: getattr(config, k) for k in ("batch_size", "lr", "warmup_ratio", "group_by_length", "bf16")
            },
            "max_length": args.max_length,
            "threads": threads,
            "device": str(runtime.get_device()),
        }
    )
    start = time.perf_counter()
    with models.quiet_transformers():
        result = training.train(
            model, train, dev, config, DataCollatorWithPadding(tokenizer), metrics.classification_metrics
        )
    wall = time.perf_counter() - start
    emit(
        {
            "result": "sst2_dev",
            "dev_accuracy": round(result.best_metrics["accuracy"], 4),
            "dev_macro_f1": round(result.best_metrics["macro_f1"], 4),
            "train_size": len(train),
            "epochs": config.epochs,
            "wall_seconds": round(wall, 1),
            "train_examples_per_s": round(result.examples_per_second, 1),
        }
    )
    for row in reference_rows(root / "REFERENCE_SCORES.md"):
        emit({"reference": row})
    return 0


if __name__ == "__main__":
    sys.exit(main())
