"""Training throughput: sft_helpers.training against transformers.Trainer, same everything.

Fine-tunes the bundled encoder (all-MiniLM-L6-v2 + a new 2-class head) on a random subset of
SST-2's training set, evaluating on SST-2 dev after each epoch, in these configurations:

* ``trainer_default``: ``transformers.Trainer`` with its default random batches (what a user gets);
* ``trainer_grouped``: the same with ``train_sampling_strategy="group_by_length"``;
* ``ours_random``: ``sft_helpers.training.train`` with random batches;
* ``ours_grouped``: the same with ``group_by_length=True``;

and, where the hardware computes bf16 natively (a CPU with AVX512-BF16 or AMX, a recent GPU;
``--precision`` overrides), both grouped runs again in bf16 autocast: ``trainer_grouped_bf16``
(``bf16=True``) and ``ours_grouped_bf16``. The first four train in float32.

Same model and head initialisation, data, batch size, learning rate, warmup and linear decay,
weight decay, clipping, fused AdamW, seed, collator (``DataCollatorWithPadding``), threads and
evaluation cadence. Each configuration prints one JSON line: training examples per second
(wall time of the whole ``train`` call, evaluations included), dev accuracy and macro-F1, and
achieved GFLOP/s (6 x non-embedding parameters x real tokens, the useful work) next to a
matmul peak measured here in the same precision. A last line compares our fastest
configuration with Trainer and says whether the targets are met: >= 1.15x Trainer's default,
>= 1.0x its best configuration (bf16 included when it ran), dev accuracy within 0.5 point of
Trainer's grouped run in the same precision.

Skips cleanly (one JSON line, exit 0) when the benchmark folder is absent:
``$SFT_BENCHMARKS_DIR`` or ``<repo>/../shared/benchmarks``.

    python bench/train_throughput.py --quick      # about 3 minutes on 2 CPU cores
    python bench/train_throughput.py              # 8,000 examples, 1 epoch: about 15 minutes
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from typing import Any

from _common import PRECISION_HELP, benchmarks_dir, emit, load_sst2, use_bf16


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1,500 training examples, 400 dev sentences")
    parser.add_argument("--train-size", type=int, default=8000, help="random SST-2 training examples")
    parser.add_argument(
        "--eval-size", type=int, default=None, help="first N dev sentences (default: all 872)"
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto", help=PRECISION_HELP)
    parser.add_argument(
        "--only", nargs="*", default=None, help="run only these configurations (names as in the output)"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.train_size, args.eval_size = min(args.train_size, 1500), args.eval_size or 400
    return args


def matmul_peak_gflops(seconds: float = 2.0, n: int = 1024, dtype: str = "fp32") -> float:
    """Best matmul speed of this machine with the current threads (GFLOP/s), in fp32 or bf16."""
    import torch

    kind = torch.bfloat16 if dtype == "bf16" else torch.float32
    a, b = torch.randn(n, n, dtype=kind), torch.randn(n, n, dtype=kind)
    a @ b
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        for _ in range(4):
            a @ b
        best = max(best, 4 * 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def non_embedding_parameters(model: Any) -> int:
    return sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)


def fresh_model(seed: int) -> tuple[Any, Any]:
    import torch

    from sft_helpers import models

    torch.manual_seed(seed)  # the same new head for every configuration
    return models.load_pretrained("sequence-classification", labels=["negative", "positive"], verbose=False)


def run_ours(args: argparse.Namespace, train: Any, dev: Any, grouped: bool, bf16: bool) -> dict[str, Any]:
    from transformers import DataCollatorWithPadding

    from sft_helpers import metrics, training

    model, tokenizer = fresh_model(args.seed)
    config = training.TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=0.01,
        warmup_ratio=0.1,
        max_grad_norm=1.0,
        group_by_length=grouped,
        seed=args.seed,
        bf16=bf16,
        eval_batch_size=64,
        progress=False,
        verbose=False,
    )
    start = time.perf_counter()
    result = training.train(
        model, train, dev, config, DataCollatorWithPadding(tokenizer), metrics.classification_metrics
    )
    seconds = time.perf_counter() - start
    final = result.history["eval"][-1]
    return {"seconds": seconds, "accuracy": final["accuracy"], "macro_f1": final["macro_f1"], "model": model}


def run_trainer(args: argparse.Namespace, train: Any, dev: Any, grouped: bool, bf16: bool) -> dict[str, Any]:
    from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainingArguments

    from sft_helpers import metrics

    model, tokenizer = fresh_model(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        training_args = TrainingArguments(
            output_dir=folder,
            num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=64,
            learning_rate=args.lr,
            weight_decay=0.01,
            warmup_steps=0.1,  # a float below 1 is a ratio of the total steps
            max_grad_norm=1.0,
            lr_scheduler_type="linear",
            optim="adamw_torch_fused",
            seed=args.seed,
            data_seed=args.seed,
            eval_strategy="epoch",
            save_strategy="no",
            logging_strategy="no",
            report_to=[],
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=True,
            bf16=bf16,
            train_sampling_strategy="group_by_length" if grouped else "random",
        )
        trainer = Trainer(
            model=model,
            args=training_args,
            train_dataset=train,
            eval_dataset=dev,
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=lambda p: metrics.classification_metrics(p.predictions, p.label_ids),
        )
        trainer.remove_callback(PrinterCallback)  # it prints log dicts between our JSON lines
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
        final = [row for row in trainer.state.log_history if "eval_accuracy" in row][-1]
    return {
        "seconds": seconds,
        "accuracy": final["eval_accuracy"],
        "macro_f1": final["eval_macro_f1"],
        "model": model,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = benchmarks_dir() / "sst2"
    if not (folder / "train.tsv").is_file():
        emit({"benchmark": "train_throughput", "skipped": True, "reason": f"no SST-2 data in {folder}"})
        return 0

    import datasets
    import torch

    os.environ.setdefault("SFT_DEVICE", "cpu")
    from sft_helpers import runtime
    from sft_helpers.models import quiet_transformers

    threads = runtime.set_threads(args.threads)
    datasets.disable_progress_bars()
    train, dev = load_sst2(folder, args.train_size, args.eval_size, args.seed)
    _, tokenizer = fresh_model(args.seed)
    encode = lambda batch: tokenizer(batch["text"], truncation=True, max_length=args.max_length)  # noqa: E731
    train = train.map(encode, batched=True, remove_columns=["text"])
    dev = dev.map(encode, batched=True, remove_columns=["text"])
    real_tokens = sum(len(ids) for ids in train["input_ids"]) * args.epochs
    bf16 = use_bf16(args.precision)
    peaks = {"fp32": matmul_peak_gflops()}
    if bf16:
        peaks["bf16"] = matmul_peak_gflops(dtype="bf16")
    emit(
        {
            "benchmark": "train_throughput",
            "data": f"SST-2 train, {len(train)} random examples x {args.epochs} epoch(s); dev {len(dev)}",
            "model": "bundled all-MiniLM-L6-v2 + new head",
            "batch_size": args.batch_size,
            "lr": args.lr,
            "max_length": args.max_length,
            "threads": threads,
            "device": str(runtime.get_device()),
            "torch": torch.__version__,
            "real_tokens": real_tokens,
            "matmul_peak_gflops": {k: round(v, 1) for k, v in peaks.items()},
        }
    )
    # name -> (runner, length-grouped, bf16)
    configs: dict[str, tuple[Any, bool, bool]] = {
        "trainer_default": (run_trainer, False, False),
        "trainer_grouped": (run_trainer, True, False),
        "ours_random": (run_ours, False, False),
        "ours_grouped": (run_ours, True, False),
    }
    if bf16:
        configs |= {
            "trainer_grouped_bf16": (run_trainer, True, True),
            "ours_grouped_bf16": (run_ours, True, True),
        }
    results: dict[str, dict[str, Any]] = {}
    for name, (runner, grouped, config_bf16) in configs.items():
        if args.only and name not in args.only:
            continue
        with quiet_transformers():
            out = runner(args, train, dev, grouped=grouped, bf16=config_bf16)
        flops = 6 * non_embedding_parameters(out.pop("model")) * real_tokens
        dtype = "bf16" if config_bf16 else "fp32"
        results[name] = {
            "config": name,
            "train_dtype": dtype,
            "train_seconds": round(out["seconds"], 2),
            "examples_per_s": round(len(train) * args.epochs / out["seconds"], 2),
            "dev_accuracy": round(out["accuracy"], 4),
            "dev_macro_f1": round(out["macro_f1"], 4),
            "achieved_gflops": round(flops / out["seconds"] / 1e9, 2),
        }
        results[name]["fraction_of_matmul_peak"] = round(results[name]["achieved_gflops"] / peaks[dtype], 3)
        emit(results[name])
    summary = summarise(results)
    if summary:
        emit(summary)
    return 0


def summarise(results: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Our fastest configuration against Trainer's default and best, with the quality check."""
    ours = {k: v for k, v in results.items() if k.startswith("ours_grouped")}
    if not ours or not {"trainer_default", "trainer_grouped"} <= set(results):
        return None
    name = max(ours, key=lambda k: ours[k]["examples_per_s"])
    fastest = ours[name]
    trainers = {k: v for k, v in results.items() if k.startswith("trainer_")}
    best = max(trainers, key=lambda k: trainers[k]["examples_per_s"])
    # quality: against Trainer's grouped run in the same precision (same work, other loop)
    twin = "trainer_grouped_bf16" if fastest["train_dtype"] == "bf16" else "trainer_grouped"
    twin = twin if twin in results else "trainer_grouped"
    vs_default = fastest["examples_per_s"] / results["trainer_default"]["examples_per_s"]
    vs_best = fastest["examples_per_s"] / trainers[best]["examples_per_s"]
    gap = 100 * (fastest["dev_accuracy"] - results[twin]["dev_accuracy"])
    return {
        "summary": f"{name} vs Trainer",
        "speedup_vs_trainer_default": round(vs_default, 3),
        "trainer_best": best,
        "speedup_vs_trainer_best": round(vs_best, 3),
        "speedup_same_precision_same_batching": round(
            fastest["examples_per_s"] / results[twin]["examples_per_s"], 3
        ),
        f"dev_accuracy_gap_points_vs_{twin}": round(gap, 2),
        "target_1_15x_default_met": vs_default >= 1.15,
        "target_1_0x_best_met": vs_best >= 1.0,
        "quality_within_0_5_point": abs(gap) <= 0.5,
    }


if __name__ == "__main__":
    sys.exit(main())
