"""Chapter 5 on real data: fine-tune the bundled encoder for NER on CoNLL-2003 (or WNUT-17).

Trains with ``sft_helpers.training`` on ``train.txt`` (or a stated subset), evaluates on
``valid.txt`` at word level (each word's first-subword prediction, seqeval strict IOB2:
entity F1 overall and per type) and reports wall time and training throughput. With
``--with-trainer`` it runs ``transformers.Trainer`` on the same data, model, batch order
policy and hyper-parameters, evaluated by the same code, for a side-by-side comparison:
Trainer as a user gets it on this device (float32 on a CPU), and, when our loop trains
in bf16, Trainer with ``bf16=True`` too, so the precision's share of the speed-up is visible.

``--precision auto`` trains in bf16 autocast (float32 weights and optimizer) on a CUDA GPU
that supports it or a CPU that computes bf16 in hardware (AVX512-BF16 or AMX), else in
float32. ``--seeds 0 1 2`` repeats every engine per seed and compares mean F1: one run's F1
moves by about half a point with the batch order alone.

Prints one JSON line per result. Skips cleanly (one JSON line, exit 0) when the benchmark
folder is absent: ``$SFT_BENCHMARKS_DIR`` or ``<repo>/../shared/benchmarks``.

    python bench/real_ner.py --quick                  # a few minutes on 2 CPU cores
    python bench/real_ner.py --with-trainer           # the full run: all of train.txt, 1 epoch
    python bench/real_ner.py --with-trainer --seeds 0 1 2   # the same, three seeds per engine
    python bench/real_ner.py --dataset wnut17 --epochs 3
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from _common import PRECISION_HELP, benchmarks_dir, emit, use_bf16

DATASETS = {"conll2003": "conll2003", "wnut17": "wnut17"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="conll2003")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="folder with the CoNLL files (default: shared)"
    )
    parser.add_argument(
        "--max-train", type=int, default=None, help="first N training sentences (default: all)"
    )
    parser.add_argument(
        "--max-eval", type=int, default=None, help="first N validation sentences (default: all)"
    )
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument(
        "--max-length", type=int, default=128, help="subword tokens per sentence (longer are cut)"
    )
    parser.add_argument(
        "--no-group-by-length", action="store_true", help="random batches instead of length groups"
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0], help="one run per seed and engine (default: 0)"
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "fp32", "bf16"),
        default="auto",
        help=PRECISION_HELP,
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: SFT_THREADS or all)"
    )
    parser.add_argument(
        "--with-trainer", action="store_true", help="also run transformers.Trainer, same settings"
    )
    parser.add_argument(
        "--quick", action="store_true", help="1,000 train / 300 validation sentences, 1 epoch"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.max_train = args.max_train or 1000
        args.max_eval = args.max_eval or 300
    for name in ("max_train", "max_eval"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive number of sentences")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error(f"--seeds has duplicates: {args.seeds}")
    return args


def load_data(args: argparse.Namespace) -> Any:
    from sft_helpers.data import load_ner

    folder = args.data_dir or benchmarks_dir() / DATASETS[args.dataset]
    if not folder.is_dir():
        return None, folder
    data = load_ner(folder)
    if "train" not in data or "validation" not in data:
        raise SystemExit(
            f"{folder} needs a train file and a validation (valid/dev) file; found {sorted(data)}."
        )
    train, valid = data["train"], data["validation"]
    if args.max_train:
        train = train.select(range(min(args.max_train, len(train))))
    if args.max_eval:
        valid = valid.select(range(min(args.max_eval, len(valid))))
    return (train, valid), folder


def evaluate_words(
    model: Any, tokenizer: Any, valid: Any, names: list[str], max_length: int
) -> dict[str, Any]:
    """Word-level entity scores (seqeval strict IOB2) of the model on the validation sentences."""
    from sft_helpers.metrics import entity_scores, token_accuracy
    from sft_helpers.ner_analysis import predict_word_tags

    start = time.perf_counter()
    pred = predict_word_tags(model, tokenizer, valid["tokens"], batch_size=64, max_length=max_length)
    seconds = time.perf_counter() - start
    true = [[names[i] for i in row] for row in valid["ner_tags"]]
    scores = entity_scores(true, pred)
    return {
        "f1": round(scores["f1"], 4),
        "precision": round(scores["precision"], 4),
        "recall": round(scores["recall"], 4),
        "token_accuracy": round(token_accuracy(true, pred), 4),
        "per_type": {
            k: {"f1": round(v["f1"], 4), "support": v["support"]} for k, v in scores["per_type"].items()
        },
        "eval_seconds": round(seconds, 2),
    }


def run_ours(
    args: argparse.Namespace, train_set: Any, names: list[str], seed: int, bf16: bool
) -> tuple[Any, dict[str, Any]]:
    from sft_helpers.models import load_pretrained
    from sft_helpers.tokenization import token_classification_collator
    from sft_helpers.training import TrainConfig, train

    model, tokenizer = load_pretrained("token-classification", labels=names, verbose=False)
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_ratio=0.1,
        weight_decay=0.01,
        max_grad_norm=1.0,
        group_by_length=not args.no_group_by_length,
        seed=seed,
        bf16=bf16,
        load_best_at_end=False,
        progress=False,
        verbose=False,
    )
    result = train(model, train_set, None, config, collator=token_classification_collator(tokenizer))
    return (model, tokenizer), {
        "train_seconds": round(result.train_seconds, 2),
        "examples_per_second": round(result.examples_per_second, 2),
        "steps": result.steps,
    }


def run_trainer(
    args: argparse.Namespace, train_set: Any, names: list[str], seed: int, bf16: bool
) -> tuple[Any, dict[str, Any]]:
    import tempfile

    import torch
    from transformers import Trainer, TrainingArguments

    from sft_helpers.models import load_pretrained
    from sft_helpers.tokenization import token_classification_collator

    model, tokenizer = load_pretrained("token-classification", labels=names, verbose=False)
    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(
            output_dir=out,
            num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size,
            learning_rate=args.lr,
            warmup_steps=0.1,  # transformers 5: a float in [0, 1) is a ratio of all steps
            weight_decay=0.01,
            max_grad_norm=1.0,
            lr_scheduler_type="linear",
            train_sampling_strategy="random" if args.no_group_by_length else "group_by_length",
            seed=seed,
            eval_strategy="no",
            save_strategy="no",
            logging_strategy="no",
            report_to=[],
            disable_tqdm=True,
            dataloader_num_workers=0,
            use_cpu=not torch.cuda.is_available(),
            bf16=bf16,
        )
        trainer = Trainer(
            model=model,
            args=training_args,
            train_dataset=train_set,
            data_collator=token_classification_collator(tokenizer),
        )
        start = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # Trainer prints a summary dict: keep stdout JSON lines
            output = trainer.train()
        seconds = time.perf_counter() - start
    return (trainer.model, tokenizer), {
        "train_seconds": round(seconds, 2),
        "examples_per_second": round(len(train_set) * args.epochs / seconds, 2),
        "steps": int(output.global_step),
    }


def mean_and_spread(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 for one value), rounded for printing."""
    import statistics

    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": round(statistics.fmean(values), 4), "std": round(spread, 4)}


def compare(base: dict[str, Any], ours: list[dict], theirs: list[dict], against: str) -> dict[str, Any]:
    """Our runs against one Trainer engine's: mean F1 difference and throughput ratio."""
    f1_ours = mean_and_spread([r["f1"] for r in ours])
    f1_theirs = mean_and_spread([r["f1"] for r in theirs])
    speed_ours = sum(r["examples_per_second"] for r in ours) / len(ours)
    speed_theirs = sum(r["examples_per_second"] for r in theirs) / len(theirs)
    difference = 100 * (f1_ours["mean"] - f1_theirs["mean"])
    ratio = speed_ours / speed_theirs
    return {
        **base,
        "comparison": f"sft_helpers vs {against}",
        "seeds": len(ours),
        "f1_sft_helpers": f1_ours,
        "f1_trainer": f1_theirs,
        "f1_difference_points": round(difference, 2),
        "throughput_ratio": round(ratio, 3),
        "target": "|F1 difference| <= 0.5 points and throughput ratio >= 1.15",
        "f1_within_0_5_point": abs(difference) <= 0.5,
        "f1_not_lower_by_over_0_5_point": difference >= -0.5,
        "throughput_target_met": ratio >= 1.15,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = {"bench": "real_ner", "dataset": args.dataset}
    splits, folder = load_data(args)
    if splits is None:
        emit({**base, "skipped": True, "reason": f"benchmark folder {folder} is absent"})
        return 0
    import datasets

    from sft_helpers import runtime
    from sft_helpers.models import load_pretrained
    from sft_helpers.tokenization import label_names_of, tokenize_and_align

    datasets.disable_progress_bars()
    threads = runtime.set_threads(args.threads)
    train_words, valid = splits
    names = label_names_of(train_words)
    _, tokenizer = load_pretrained("token-classification", labels=names, verbose=False)
    train_set = tokenize_and_align(train_words, tokenizer, max_length=args.max_length)
    n_tokens = sum(len(x) for x in train_set["input_ids"])
    bf16 = use_bf16(args.precision)
    settings = {
        "train_sentences": len(train_set),
        "train_subword_tokens": n_tokens,
        "eval_sentences": len(valid),
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "max_length": args.max_length,
        "group_by_length": not args.no_group_by_length,
        "device": str(runtime.get_device()),
        "threads": threads,
    }
    # (engine name, runner, bf16): Trainer as a user gets it, then like-for-like precision
    engines = [("sft_helpers", run_ours, bf16)]
    if args.with_trainer:
        engines.append(("transformers.Trainer", run_trainer, False))
        if bf16:
            engines.append(("transformers.Trainer+bf16", run_trainer, True))
    results: dict[str, list[dict[str, Any]]] = {engine: [] for engine, _, _ in engines}
    for seed in args.seeds:
        for engine, runner, engine_bf16 in engines:
            runtime.seed_everything(seed)  # the same new head for every engine
            wall = time.perf_counter()
            (model, tok), timing = runner(args, train_set, names, seed, engine_bf16)
            scores = evaluate_words(model, tok, valid, names, args.max_length)
            timing["tokens_per_second"] = round(n_tokens * args.epochs / timing["train_seconds"], 1)
            record = {
                **base,
                "engine": engine,
                "seed": seed,
                "train_dtype": "bf16" if engine_bf16 else "fp32",
            }
            record |= {**settings, **timing, **scores, "wall_seconds": round(time.perf_counter() - wall, 2)}
            results[engine].append(record)
            emit(record)
            del model
    for engine in results:
        if engine != "sft_helpers":
            emit(compare(base, results["sft_helpers"], results[engine], engine))
    return 0


if __name__ == "__main__":
    sys.exit(main())
