"""A seeded tiny fine-tuning run that tests/test_reproducibility.py starts, pauses, kills and resumes.

``python tests/_resume_driver.py RUN_DIR [--resume] [--pause WHERE:N]``

Trains a tiny BERT classifier (dropout on, so the random state must survive a resume too)
for 18 optimizer steps with a checkpoint every 4 steps, and writes its final weights to
``RUN_DIR/final.safetensors`` and its history to ``RUN_DIR/history.json``.

``--pause WHERE:N`` makes the process write ``RUN_DIR/paused`` and sleep at the N-th time
(counted in this process) it reaches ``WHERE``, so the test can kill it exactly there:

* ``step``: just before an optimizer step (gradients computed, weights not yet updated);
* ``save``: inside a checkpoint save, after the weights and optimizer state are written to
  the temporary folder and before the rest (random state, trainer state, manifest);
* ``pointers``: after a checkpoint folder is renamed into place, before ``checkpoints.json``
  names it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, models
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DataCollatorWithPadding,
    PreTrainedTokenizerFast,
)

from sft_helpers import checkpoints, metrics, training

VOCAB = 40


def make_dataset(n: int, seed: int) -> list[dict[str, list[int] | int]]:
    """Plain dicts (no datasets import: every run is a fresh process, start-up time counts)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        ids = [2, *rng.integers(4, VOCAB, size=int(rng.integers(3, 20))).tolist(), 3]
        rows.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": ids[1] % 2})
    return rows


def make_model() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        num_labels=2,
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )
    return BertForSequenceClassification(config)


def pause_at(run_dir: Path, where: str, nth: int) -> None:
    """Install the pause point: write RUN_DIR/paused and sleep at the nth visit of ``where``."""
    visits = {"n": 0}

    def maybe_pause() -> None:
        visits["n"] += 1
        if visits["n"] == nth:
            (run_dir / "paused").write_text(where, encoding="utf-8")
            time.sleep(600)  # the test kills us here

    if where == "step":
        from torch.optim.optimizer import register_optimizer_step_pre_hook

        register_optimizer_step_pre_hook(lambda *args: maybe_pause())
    elif where == "save":
        original_capture = checkpoints.capture_rng

        def capture_rng():
            maybe_pause()
            return original_capture()

        checkpoints.capture_rng = capture_rng
    elif where == "pointers":
        original_write = checkpoints.write_pointers

        def write_pointers(*args, **kwargs):
            maybe_pause()
            return original_write(*args, **kwargs)

        checkpoints.write_pointers = write_pointers
    else:
        raise ValueError(f"unknown pause point {where!r}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--pause", default=None)
    args = parser.parse_args()
    # Ctrl-C as in a terminal: a test runner started in the background by a shell without job
    # control (`cmd &` in a script) passes SIGINT down as ignored, and Python keeps it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    torch.set_num_threads(1)
    if args.pause:
        where, nth = args.pause.split(":")
        pause_at(args.run_dir, where, int(nth))
    word_level = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1}, unk_token="[UNK]"))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=word_level, pad_token="[PAD]", unk_token="[UNK]")
    model = make_model()
    config = training.TrainConfig(
        epochs=3,  # 6 batches of 8 per epoch: 18 steps, checkpoints at 4, 8, 12, 16 and 18
        batch_size=8,
        lr=3e-3,
        eval_every=4,
        early_stopping_metric="accuracy",
        seed=5,
        output_dir=str(args.run_dir / "checkpoints"),
        load_best_at_end=False,
        progress=False,
        verbose=False,
    )
    try:
        result = training.train(
            model,
            make_dataset(48, seed=0),
            make_dataset(16, seed=1),
            config,
            collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=metrics.classification_metrics,
            resume=args.resume,
        )
    except KeyboardInterrupt:
        return 130
    save_file(
        {k: v.contiguous() for k, v in model.state_dict().items()}, str(args.run_dir / "final.safetensors")
    )
    (args.run_dir / "history.json").write_text(json.dumps(result.history), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
