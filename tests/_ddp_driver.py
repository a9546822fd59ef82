"""A tiny token-classification run used by tests/test_distributed.py, in-process and under torchrun.

``python -m torch.distributed.run --nproc_per_node=2 tests/_ddp_driver.py OUT`` trains the
same tiny BERT as ``run()`` does in one process, and every rank writes its final weights to
``OUT/rank{R}.safetensors`` (rank 0 also ``OUT/history.json``). The data is chosen to make
sharding awkward: 21 examples in global batches of 5 (slices of 3 and 2, the last batch of 1
leaves rank 1 empty), token labels with -100 holes (ranks and batches hold different numbers of
labelled tokens) and gradient accumulation over 2 batches, which must take the steps of one
process with batches of 10.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from safetensors.torch import save_file
from tokenizers import Tokenizer, models
from transformers import BertConfig, BertForTokenClassification, PreTrainedTokenizerFast

from sft_helpers import distributed, training
from sft_helpers.tokenization import token_classification_collator

VOCAB = 40


def make_tokenizer() -> PreTrainedTokenizerFast:
    word_level = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1}, unk_token="[UNK]"))
    return PreTrainedTokenizerFast(tokenizer_object=word_level, pad_token="[PAD]", unk_token="[UNK]")


def make_dataset(n: int, seed: int) -> Dataset:
    """Sentences of 2-14 tokens; each token's label is its id mod 3, about a quarter ignored (-100)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        ids = rng.integers(4, VOCAB, size=int(rng.integers(2, 15))).tolist()
        labels = [i % 3 if rng.random() > 0.25 else -100 for i in ids]
        rows.append(
            {
                "input_ids": [2, *ids, 3],
                "attention_mask": [1] * (len(ids) + 2),
                "labels": [-100, *labels, -100],
            }
        )
    return Dataset.from_list(rows)


def make_model() -> BertForTokenClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        num_labels=3,
        hidden_dropout_prob=0.0,  # dropout off: the only difference left is float summation order
        attention_probs_dropout_prob=0.0,
    )
    return BertForTokenClassification(config)


def run(
    output_dir: str | None, batch_size: int = 5, grad_accum_steps: int = 2
) -> tuple[torch.nn.Module, training.TrainResult]:
    """Train the tiny model; identical arguments in one process and under torchrun."""
    torch.set_num_threads(1)
    model = make_model()
    config = training.TrainConfig(
        epochs=2,
        batch_size=batch_size,
        grad_accum_steps=grad_accum_steps,
        group_by_length=False,  # batches of 5 accumulated in pairs and batches of 10 hold the same examples
        lr=3e-3,
        seed=3,
        output_dir=output_dir,
        load_best_at_end=False,
        progress=False,
        verbose=False,
        bf16=False,  # float32: the comparison's tolerance is float32 rounding (see test_distributed)
    )
    result = training.train(
        model,
        make_dataset(21, seed=0),
        make_dataset(8, seed=1),
        config,
        collator=token_classification_collator(make_tokenizer()),
    )
    return model, result


if __name__ == "__main__":
    out = Path(sys.argv[1])
    distributed.init()
    model, result = run(str(out / "checkpoints"))
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / f"rank{distributed.rank()}.safetensors"))
    if distributed.is_main():
        (out / "history.json").write_text(json.dumps(result.history), encoding="utf-8")
    distributed.cleanup()
