"""Chapter 8 on real data: fine-tune the bundled encoder for extractive QA on SQuAD (v2.0 or v1.1).

Looks for a SQuAD-format folder under the shared benchmark folder (``squad_v2/`` first,
then ``squad/``; ``--data-dir`` names another): official JSON files named ``train*`` and
``dev*`` (``train-v2.0.json``, ``dev-v2.0.json``), read by ``sft_helpers.data.load_qa``.
Runs the chapter's recipe: windows of ``--max-length`` tokens with ``--doc-stride``,
``sft_helpers.training`` with ``qa.SpanQAModel``, best span over the windows, the no-answer
threshold tuned on the first half of the dev questions and scored on the second half
(the official scripts report the oracle threshold on all of dev; both are printed), EM and
F1 as the official SQuAD 2.0 script computes them.

Prints one JSON line per result. Skips cleanly (one JSON line, exit 0) when no folder is
found: ``$SFT_BENCHMARKS_DIR`` or ``<repo>/../shared/benchmarks``.

    python bench/real_qa.py --quick          # 2,000 training / 500 dev questions, 1 epoch
    python bench/real_qa.py --epochs 2       # all of train (130k questions): hours on a CPU
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import PRECISION_HELP, benchmarks_dir, emit, use_bf16

FOLDERS = ("squad_v2", "squad")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None, help="SQuAD folder (default: shared squad_v2/ or squad/)")
    parser.add_argument("--max-train", type=int, default=None, help="first N training questions (default: all)")
    parser.add_argument("--max-eval", type=int, default=None, help="first N dev questions (default: all)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=256, help="tokens per window")
    parser.add_argument("--doc-stride", type=int, default=64, help="tokens shared by consecutive windows")
    parser.add_argument("--max-answer-length", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto", help=PRECISION_HELP)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: SFT_THREADS or all)")
    parser.add_argument("--quick", action="store_true", help="2,000 training / 500 dev questions, 1 epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.max_train = args.max_train or 2000
        args.max_eval = args.max_eval or 500
    for name in ("max_train", "max_eval"):
        value = getattr(args, name)
        if value is not None and value < 2:
            parser.error(f"--{name.replace('_', '-')} must be at least 2 questions")
    return args


def find_folder(args: argparse.Namespace) -> Path | None:
    if args.data_dir is not None:
        return args.data_dir if args.data_dir.is_dir() else None
    for name in FOLDERS:
        folder = benchmarks_dir() / name
        if folder.is_dir():
            return folder
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = {"benchmark": "real_qa"}
    folder = find_folder(args)
    if folder is None:
        where = args.data_dir or " or ".join(str(benchmarks_dir() / n) for n in FOLDERS)
        emit({**base, "skipped": True, "reason": f"benchmark folder {where} is absent (no SQuAD data)"})
        return 0

    import numpy as np
    from transformers import DataCollatorWithPadding

    from sft_helpers import qa, runtime
    from sft_helpers.data import load_qa
    from sft_helpers.models import load_pretrained
    from sft_helpers.training import TrainConfig, predict, train

    threads = runtime.set_threads(args.threads)
    data = load_qa(folder)
    if "train" not in data or "validation" not in data:
        raise SystemExit(f"{folder} needs a train* and a dev* SQuAD JSON file; found the splits {sorted(data)}.")
    train_rows, dev = data["train"], data["validation"]
    if args.max_train:
        train_rows = train_rows.select(range(min(args.max_train, len(train_rows))))
    if args.max_eval:
        dev = dev.select(range(min(args.max_eval, len(dev))))
    bf16 = use_bf16(args.precision)
    base.update(
        data=str(folder), train_questions=len(train_rows), dev_questions=len(dev), epochs=args.epochs,
        max_length=args.max_length, doc_stride=args.doc_stride, threads=threads, bf16=bf16,
        unanswerable_share=round(float(np.mean([not a["text"] for a in dev["answers"]])), 4),
    )  # fmt: skip

    runtime.seed_everything(args.seed)
    model, tokenizer = load_pretrained("question-answering", verbose=False)
    kwargs = {"tokenizer": tokenizer, "max_length": args.max_length, "doc_stride": args.doc_stride}
    features = train_rows.map(qa.prepare_train_features, batched=True, remove_columns=train_rows.column_names,
                              fn_kwargs=kwargs)  # fmt: skip
    collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=32)  # few shapes: less memory
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, group_by_length=True,
                         seed=args.seed, progress=False, verbose=False, bf16=bf16)  # fmt: skip
    result = train(qa.SpanQAModel(model), features, None, config, collator=collator)

    start = time.perf_counter()
    dev_features = dev.map(qa.prepare_eval_features, batched=True, remove_columns=dev.column_names, fn_kwargs=kwargs)
    out = predict(qa.SpanQAModel(model), dev_features.remove_columns(["example_id", "offset_mapping"]), collator=collator)
    results = qa.postprocess(dev, dev_features, out.logits[..., 0], out.logits[..., 1],
                             max_answer_length=args.max_answer_length)  # fmt: skip
    eval_seconds = time.perf_counter() - start

    half = len(dev) // 2
    tune, held = dev.select(range(half)), dev.select(range(half, len(dev)))
    threshold, _ = qa.best_null_threshold({k: results[k] for k in tune["id"]}, tune)
    held_scores = qa.squad_v2_scores(qa.apply_threshold({k: results[k] for k in held["id"]}, threshold), held)
    oracle, oracle_f1 = qa.best_null_threshold(results, dev)
    zero = qa.squad_v2_scores(qa.apply_threshold(results, 0.0), dev)
    emit({
        **base, "engine": "sft_helpers", "train_windows": len(features), "steps": result.steps,
        "train_seconds": round(result.train_seconds, 1), "windows_per_second": round(result.examples_per_second, 2),
        "eval_seconds": round(eval_seconds, 1),
        "dev_threshold0": {k: round(v, 2) for k, v in zero.items()},
        "dev_second_half_tuned": {k: round(v, 2) for k, v in held_scores.items()},
        "tuned_threshold": round(threshold, 3), "oracle_threshold": round(oracle, 3), "oracle_f1": round(oracle_f1, 2),
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
