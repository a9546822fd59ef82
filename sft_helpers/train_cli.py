"""``python -m sft_helpers train``: the chapter 4/5 fine-tuning as a command, on one process or many.

One process::

    python -m sft_helpers train --task classification --data bundled --epochs 3

Several processes (CPU cores or GPUs) with DistributedDataParallel, same arguments::

    torchrun --nproc_per_node=2 -m sft_helpers.train_cli --task classification --data bundled

It loads the bundled encoder (``models.load_pretrained``), the data (``sft_helpers.data``:
``bundled``, a folder or a file), tokenizes it (``tokenization.tokenize_and_align`` for NER),
trains with ``training.train`` (checkpoints in ``OUTPUT_DIR/checkpoints``, so ``--resume``
continues an interrupted run to the same weights), and writes the best model with
``save_pretrained`` (safetensors) plus its tokenizer to ``OUTPUT_DIR/model`` and the numbers
to ``OUTPUT_DIR/metrics.json``. ``--batch-size`` is the global batch: under torchrun each
of the N processes takes 1/N of every batch, so the run computes the same updates.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from sft_helpers import distributed, runtime

__all__ = ["UserError", "build_parser", "main", "set_dropout"]

TASKS = {"classification": "sequence-classification", "ner": "token-classification"}
DEFAULT_METRIC = {"classification": "accuracy", "ner": "f1"}


class UserError(ValueError):
    """A mistake in the command's options or input files: ``main`` reports it in one line.

    Every other exception is a bug (in the course or a library) and keeps its traceback;
    ``--debug`` shows the traceback of a user error too.
    """


@contextlib.contextmanager
def _user_input(what: str) -> Iterator[None]:
    """Errors raised while reading ``what`` (the user's data, model folder or options) are user errors."""
    from sft_helpers.models import ModelNotAvailableError

    try:
        yield
    except UserError:
        raise
    except (ValueError, TypeError, OSError, ModelNotAvailableError) as error:
        raise UserError(f"{what}: {error}") from error


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def build_parser(prog: str = "python -m sft_helpers train") -> argparse.ArgumentParser:
    """The ``train`` command's arguments."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Fine-tune the bundled encoder for text classification (chapter 4) or NER (chapter 5). "
            "Runs on one process, or under `torchrun --nproc_per_node=N -m sft_helpers.train_cli ...` on N "
            "processes with DistributedDataParallel (gloo on CPU, NCCL on CUDA GPUs); rank 0 alone prints "
            "and saves."
        ),
    )
    add = parser.add_argument
    add("--task", required=True, choices=sorted(TASKS), help="classification (chapter 4) or ner (chapter 5)")
    add("--data", default="bundled", help="'bundled', a folder or file of your own (CSV/TSV/JSONL, CoNLL)")
    add("--model", default=None, help="a local model folder (default: the bundled all-MiniLM-L6-v2)")
    add("--epochs", type=_positive_int, default=3, help="passes over the training set (default 3)")
    add("--max-steps", type=_positive_int, default=None, help="stop after this many optimizer steps")
    add(
        "--batch-size",
        type=_positive_int,
        default=32,
        help="GLOBAL batch size: examples per optimizer step over all processes; under torchrun each of "
        "the N processes takes batch_size/N of them (default 32)",
    )
    add("--grad-accum", type=_positive_int, default=1, help="batches per optimizer step (default 1)")
    add("--lr", type=float, default=1e-4, help="peak learning rate (default 1e-4)")
    add("--weight-decay", type=float, default=0.01, help="AdamW weight decay (default 0.01)")
    add("--warmup-ratio", type=float, default=0.1, help="fraction of steps warming up (default 0.1)")
    add("--max-length", type=_positive_int, default=128, help="tokens per example after truncation")
    add(
        "--max-train-examples",
        type=_positive_int,
        default=None,
        help="use only the first N training examples",
    )
    add(
        "--max-eval-examples",
        type=_positive_int,
        default=None,
        help="use only the first N validation examples",
    )
    add(
        "--eval-every", type=_positive_int, default=None, help="evaluate every N steps (default: every epoch)"
    )
    add("--metric", default=None, help="validation metric that picks the best model (accuracy / f1 / loss)")
    add(
        "--patience", type=_positive_int, default=None, help="early stopping after N evaluations without gain"
    )
    add("--dropout", type=_probability, default=None, help="override the model's dropout (0 turns it off)")
    add("--label-all-subwords", action="store_true", help="ner: label every subword, not only the first")
    add("--group-by-length", action="store_true", help="batch examples of similar length (less padding)")
    add(
        "--bf16",
        choices=("auto", "on", "off"),
        default="auto",
        help="bf16 autocast (auto: where the GPU or CPU computes bf16 natively)",
    )
    add("--seed", type=int, default=0, help="seed of the head's initialisation, batch order and dropout")
    add(
        "--output-dir", default=None, help="where checkpoints, model/ and metrics.json go (default runs/TASK)"
    )
    add("--resume", action="store_true", help="continue from the latest checkpoint in OUTPUT_DIR (if any)")
    add(
        "--overwrite",
        action="store_true",
        help="delete the checkpoints of an earlier run in OUTPUT_DIR first",
    )
    add("--no-test", action="store_true", help="skip the final evaluation on the test split")
    add(
        "--threads",
        type=_positive_int,
        default=None,
        help="torch threads per process (default: cores/processes)",
    )
    add("--no-progress", action="store_true", help="no progress bar (one line per evaluation remains)")
    add("--debug", action="store_true", help="show the full traceback of an error instead of one line")
    return parser


# ----------------------------------------------------------------------------- pieces
def set_dropout(model: torch.nn.Module, p: float) -> int:
    """Set every dropout probability in ``model`` (and its config) to ``p``; returns how many layers."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be a dropout probability in [0, 1), got {p!r}.")
    count = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = p
            count += 1
    config = getattr(model, "config", None)
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"):
        if config is not None and getattr(config, name, None) is not None:
            setattr(config, name, p)
    return count


def _default_threads() -> int:
    """Cores shared fairly between the processes torchrun started on this machine."""
    per_machine = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    return max(1, (os.cpu_count() or 1) // max(1, per_machine))


def _load_splits(task: str, data: str, seed: int) -> Any:
    """The DatasetDict with train and validation (10% of train when the source has none)."""
    from sft_helpers import data as data_module

    loader = data_module.load_classification if task == "classification" else data_module.load_ner
    with _user_input(f"--data {data!r}"):
        splits = loader(data)
    if "train" not in splits or len(splits["train"]) == 0:
        raise UserError(f"--data {data!r} has no training examples (a train* file or split); add one.")
    if "validation" not in splits or len(splits["validation"]) == 0:
        if len(splits["train"]) < 10:
            raise UserError(
                f"--data {data!r} has no validation split and only {len(splits['train'])} training examples; "
                "add a valid*/dev* file or more data."
            )
        parts = splits["train"].train_test_split(test_size=0.1, seed=seed)
        splits["train"], splits["validation"] = parts["train"], parts["test"]
        distributed.print0("No validation split in --data: using 10% of the training examples.")
    return splits


def _first(dataset: Any, n: int | None) -> Any:
    return dataset if n is None or n >= len(dataset) else dataset.select(range(n))


def _label_names(task: str, splits: Any) -> list[str]:
    from sft_helpers.tokenization import label_names_of

    if task == "ner":
        return label_names_of(splits)
    return list(splits["train"].features["label"].names)


def _tokenize(task: str, dataset: Any, tokenizer: Any, args: argparse.Namespace, names: list[str]) -> Any:
    if task == "ner":
        from sft_helpers.tokenization import tokenize_and_align

        return tokenize_and_align(
            dataset, tokenizer, args.label_all_subwords, max_length=args.max_length, label_names=names
        )
    drop = [c for c in dataset.column_names if c != "label"]
    return dataset.map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=args.max_length),
        batched=True,
        remove_columns=drop,
    )


def _prepare_output(output_dir: Path, resume: bool, overwrite: bool) -> Path:
    """The checkpoint folder; refuses to mix two runs' checkpoints."""
    from sft_helpers import checkpoints

    checkpoint_dir = output_dir / "checkpoints"
    has_run = checkpoint_dir.is_dir() and checkpoints.read_pointers(checkpoint_dir)["latest"] is not None
    if has_run and overwrite and distributed.is_main():
        shutil.rmtree(checkpoint_dir)
    elif has_run and not resume and not overwrite:
        raise UserError(
            f"--output-dir {output_dir} already holds checkpoints of a run: pass --resume to continue it, "
            "--overwrite to start afresh, or choose another --output-dir."
        )
    distributed.barrier()
    return checkpoint_dir


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train as ``args`` says; returns (and on rank 0 writes) the run's summary."""
    from datasets.utils.logging import disable_progress_bar
    from transformers import DataCollatorWithPadding

    from sft_helpers import checkpoints, metrics, training
    from sft_helpers.models import load_pretrained, quiet_transformers
    from sft_helpers.tokenization import token_classification_collator

    disable_progress_bar()
    runtime.set_threads(args.threads or _default_threads())
    world = distributed.world_size()
    if args.batch_size < world:
        raise UserError(
            f"--batch-size {args.batch_size} is the global batch and must be at least the number of "
            f"processes ({world}); raise it or start fewer processes."
        )
    output_dir = Path(args.output_dir or Path("runs") / args.task)
    checkpoint_dir = _prepare_output(output_dir, args.resume, args.overwrite)
    resume = args.resume and checkpoints.read_pointers(checkpoint_dir)["latest"] is not None
    if args.resume and not resume:
        distributed.print0(f"--resume: no checkpoint in {checkpoint_dir} yet, starting afresh.")

    runtime.seed_everything(args.seed)  # the new head's initialisation
    splits = _load_splits(args.task, args.data, args.seed)
    names = _label_names(args.task, splits)
    with _user_input(f"--model {args.model!r}" if args.model else "the bundled model"):
        model, tokenizer = load_pretrained(
            TASKS[args.task], labels=names, name=args.model, verbose=distributed.is_main()
        )
    if args.dropout is not None:
        set_dropout(model, args.dropout)
    train_set = _tokenize(args.task, _first(splits["train"], args.max_train_examples), tokenizer, args, names)
    eval_set = _tokenize(
        args.task, _first(splits["validation"], args.max_eval_examples), tokenizer, args, names
    )
    if args.task == "ner":
        collator = token_classification_collator(tokenizer)
        compute_metrics = metrics.ner_metrics(model.config.id2label)
    else:
        collator = DataCollatorWithPadding(tokenizer)
        compute_metrics = metrics.classification_metrics

    with _user_input("the training options"):  # e.g. --lr 5 or --warmup-ratio 1
        config = training.TrainConfig(
            epochs=args.epochs,
            max_steps=args.max_steps,
            batch_size=args.batch_size,
            grad_accum_steps=args.grad_accum,
            lr=args.lr,
            weight_decay=args.weight_decay,
            warmup_ratio=args.warmup_ratio,
            eval_every=args.eval_every,
            early_stopping_metric=args.metric or DEFAULT_METRIC[args.task],
            patience=args.patience,
            group_by_length=args.group_by_length,
            seed=args.seed,
            output_dir=str(checkpoint_dir),
            bf16={"auto": None, "on": True, "off": False}[args.bf16],
            progress=not args.no_progress,
        )
    distributed.print0(
        f"Training {args.task} on {len(train_set)} examples, {len(eval_set)} for validation; "
        f"{world} process(es) on {distributed.device().type}, global batch {args.batch_size}."
    )
    result = training.train(
        model, train_set, eval_set, config, collator=collator, compute_metrics=compute_metrics, resume=resume
    )

    summary: dict[str, Any] = {
        "task": args.task,
        "data": args.data,
        "world_size": world,
        "steps": result.steps,
        "best_step": result.best_step,
        "best_validation": result.best_metrics,
        "final_train_loss": result.history["train"][-1]["loss"] if result.history["train"] else None,
        "stopped_early": result.stopped_early,
        "train_seconds": result.train_seconds,
        "examples_per_second": result.examples_per_second,
        "config": asdict(config),
    }
    if distributed.is_main():
        if not args.no_test and "test" in splits and len(splits["test"]):
            test_set = _tokenize(args.task, splits["test"], tokenizer, args, names)
            summary["test"] = training.evaluate(
                model,
                test_set,
                collator,
                compute_metrics,
                batch_size=config.eval_batch_size,
                bf16=config.bf16,
            )
        model_dir = output_dir / "model"
        with quiet_transformers():
            model.save_pretrained(model_dir)  # safetensors
            tokenizer.save_pretrained(model_dir)
        (output_dir / "metrics.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
        shown = {k: round(v, 4) for k, v in (result.best_metrics or {}).items()}
        print(f"best validation at step {result.best_step}: {shown}")
        if "test" in summary:
            print(f"test: { {k: round(v, 4) for k, v in summary['test'].items()} }")
        print(f"model and tokenizer saved to {model_dir}; numbers in {output_dir / 'metrics.json'}")
    distributed.barrier()  # nobody leaves before rank 0 has written everything
    return summary


def main(argv: list[str] | None = None, prog: str = "python -m sft_helpers train") -> int:
    """Parse ``argv``, train, return the exit code (2: bad input, 130: interrupted; a bug raises)."""
    args = build_parser(prog).parse_args(sys.argv[1:] if argv is None else argv)
    try:
        distributed.init()
        run(args)
    except KeyboardInterrupt:
        distributed.print0("Interrupted; run the same command with --resume to continue.", file=sys.stderr)
        return 130
    except UserError as error:
        # A bad option or data file says what to fix in one line; --debug shows where it came from.
        # Any other exception is a bug, not the user's mistake, and keeps its traceback.
        if args.debug:
            raise
        print(f"error: {error}\n(add --debug to see the full traceback)", file=sys.stderr)
        return 2
    finally:
        distributed.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(prog="python -m sft_helpers.train_cli"))
