"""The course-wide speed levers, each measured alone on chapter 4's data and model (issue 15).

Every line is one JSON record. The levers:

* ``threads``: seconds per training step with 1 and with all torch threads, once with every
  core free and once with one other busy process (a Python busy loop) on the machine: the
  choice ``runtime.set_threads()`` makes from the cores actually free;
* ``batches``: seconds per training step with random batches vs length-grouped batches
  (``TrainConfig.group_by_length``), and the pad share of each;
* ``evaluation``: seconds to evaluate the validation split in data-set order vs sorted by
  length (what ``training.evaluate`` does);
* ``precision``: seconds per step in float32 vs bf16 autocast (``TrainConfig.bf16``), on
  CPUs whose flags say they compute bf16 natively (skipped elsewhere: emulated bf16 is slower);
* ``tokenizers``: seconds to tokenize the training split with the tokenizer's own thread pool
  on and off (``TOKENIZERS_PARALLELISM``), and a training step right after each.

Each record also gives ``others_busy_cores``: how many cores other processes kept busy while
it was measured (from /proc/stat, this process's own CPU time taken out), so a contended
figure says so.

    python bench/speed_levers.py            # about 2 minutes on 2 CPU cores
    python bench/speed_levers.py --steps 10 --only threads
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from _common import emit

LEVERS = ("threads", "batches", "evaluation", "precision", "tokenizers")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=20, help="training steps per measurement")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--only", nargs="*", choices=LEVERS, default=None, help="measure only these levers")
    return parser.parse_args(argv)


def _cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all cores from /proc/stat; (0, 0) where it does not exist."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [float(x) for x in handle.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


@contextlib.contextmanager
def others_busy(record: dict[str, Any]) -> Iterator[None]:
    """Put into ``record['others_busy_cores']`` the cores other processes used during the block."""
    busy0, total0 = _cpu_times()
    own0, wall0 = sum(os.times()[:2]), time.perf_counter()
    yield
    busy1, total1 = _cpu_times()
    own, wall = sum(os.times()[:2]) - own0, time.perf_counter() - wall0
    cores = os.cpu_count() or 1
    if total1 > total0 and wall > 0:
        record["others_busy_cores"] = round(
            max(0.0, (busy1 - busy0) / (total1 - total0) * cores - own / wall), 2
        )


@contextlib.contextmanager
def busy_process(n: int) -> Iterator[None]:
    """``n`` other processes spinning on the CPU while the block runs (0: none)."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    time.sleep(0.3 if n else 0.0)
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    only = set(args.only or LEVERS)

    import torch
    from transformers import DataCollatorWithPadding, get_linear_schedule_with_warmup

    from sft_helpers import batching, data, models, runtime, teaching_loop, training

    runtime.seed_everything(0)
    cores = os.cpu_count() or 1
    dataset = data.load_classification()
    labels = dataset["train"].features["label"].names
    model, tokenizer = models.load_pretrained("sequence-classification", labels=labels, verbose=False)
    collator = DataCollatorWithPadding(tokenizer)

    def tokenize(split: Any) -> Any:
        return split.map(lambda b: tokenizer(b["text"], truncation=True, max_length=64), batched=True)

    train_tok = tokenize(dataset["train"])
    examples = batching.prepare_examples(train_tok, model)
    lengths = batching.example_lengths(examples)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=True)
    scheduler = get_linear_schedule_with_warmup(optimizer, 0, 10**9)

    def steps_seconds(batches: list[list[int]], autocast: bool = False) -> float:
        """Mean seconds of one training step over ``batches`` (after one warm-up step)."""
        collated = [collator([examples[i] for i in b]) for b in batches]
        context: Callable[[], Any] = (
            (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if autocast else contextlib.nullcontext
        )
        with context():
            teaching_loop.training_step(model, collated[0], optimizer, scheduler, 1.0)
            start = time.perf_counter()
            for batch in collated:
                teaching_loop.training_step(model, batch, optimizer, scheduler, 1.0)
        return (time.perf_counter() - start) / len(collated)

    grouped_epoch = batching.batch_order(lengths, args.batch_size, 0, 0, group_by_length=True)
    shuffled_epoch = batching.batch_order(lengths, args.batch_size, 0, 0, group_by_length=False)
    grouped, shuffled = grouped_epoch[: args.steps], shuffled_epoch[: args.steps]

    if "threads" in only:
        for others in (0, 1):
            with busy_process(others):
                for threads in sorted({cores, 1}, reverse=True):
                    torch.set_num_threads(threads)
                    rec: dict[str, Any] = {
                        "lever": "threads",
                        "busy_processes_started": others,
                        "threads": threads,
                    }
                    with others_busy(rec):
                        rec["s_per_step"] = round(steps_seconds(grouped), 4)
                    emit(rec)
        torch.set_num_threads(runtime.set_threads())
        emit({"lever": "threads", "set_threads_chooses": torch.get_num_threads(), "cores": cores})

    if "batches" in only:
        epochs = {"random": shuffled_epoch, "grouped by length": grouped_epoch}
        for name, order in (("random", shuffled), ("grouped by length", grouped)):
            rec = {"lever": "batches", "batches": name, "threads": torch.get_num_threads()}
            rec["pad_share_of_epoch"] = round(
                batching.padding_waste(lengths, epochs[name])["pad_fraction"], 3
            )
            with others_busy(rec):
                rec["s_per_step"] = round(steps_seconds(order), 4)
            emit(rec)

    if "evaluation" in only:
        val = tokenize(dataset["validation"])
        val_examples = batching.prepare_examples(val, model)
        for name, sort in (("data-set order", False), ("sorted by length", True)):
            rec = {"lever": "evaluation", "order": name, "examples": len(val_examples)}
            with others_busy(rec), torch.no_grad():
                model.eval()
                order = (
                    sorted(range(len(val_examples)), key=lambda i: lengths_of(val_examples)[i])
                    if sort
                    else list(range(len(val_examples)))
                )
                start = time.perf_counter()
                for s in range(0, len(order), 64):
                    model(**collator([val_examples[i] for i in order[s : s + 64]]))
                rec["seconds"] = round(time.perf_counter() - start, 3)
            emit(rec)
        rec = {"lever": "evaluation", "order": "training.evaluate (sorted)"}
        with others_busy(rec):
            start = time.perf_counter()
            training.evaluate(model, val, collator, batch_size=64, bf16=False)
            rec["seconds"] = round(time.perf_counter() - start, 3)
        emit(rec)

    if "precision" in only:
        native = runtime.cpu_has_native_bf16()
        for name, autocast in (("float32", False), ("bf16 autocast", True)):
            rec = {"lever": "precision", "precision": name, "cpu_native_bf16": native}
            if autocast and not native:
                emit(rec | {"skipped": "this CPU would emulate bf16 (slower than float32)"})
                continue
            with others_busy(rec):
                rec["s_per_step"] = round(steps_seconds(grouped, autocast=autocast), 4)
            emit(rec)

    if "tokenizers" in only:
        for parallel in ("true", "false"):
            # the setting is read when a tokenizer first parallelises: a fresh process for each
            code = (
                "import os, time, sys; sys.path.insert(0, '.');"
                "from sft_helpers import data, models;"
                "d = list(data.load_classification()['train']['text']);"
                "_, tok = models.load_pretrained('base', verbose=False);"
                "t = time.perf_counter(); tok(d, truncation=True, max_length=64);"
                "print(round(time.perf_counter() - t, 3))"
            )
            env = dict(os.environ, TOKENIZERS_PARALLELISM=parallel)
            rec = {"lever": "tokenizers", "TOKENIZERS_PARALLELISM": parallel, "texts": len(dataset["train"])}
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            rec["tokenize_seconds"] = float(out.stdout.strip().splitlines()[-1])
            emit(rec)


def lengths_of(examples: list[dict[str, Any]]) -> list[int]:
    return [len(e["input_ids"]) for e in examples]


if __name__ == "__main__":
    main()
