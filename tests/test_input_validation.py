"""A sweep over the bad inputs issue 8 lists: each public function raises ValueError or TypeError
(or a subclass: DataFormatError, CheckpointError) whose message names the argument or the place
(file and line) and says what was expected. Never a KeyError, IndexError or RuntimeError from
deep inside, and never a silently wrong result.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Sequence, Value
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from sft_helpers import attention, batching, blocks, checkpoints, metrics, models, tokenization, training
from sft_helpers.data import load_classification, load_ner
from sft_helpers.data.readers import DataFormatError, read_conll, read_table


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(models.bundled_encoder_path()))


def tiny_classifier(num_labels: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16
    )
    config.num_labels = num_labels
    return BertForSequenceClassification(config)


def tokenized(labels: list[int], names: list[str] | None = None) -> Dataset:
    rows = {
        "input_ids": [[2, 5, 3]] * len(labels),
        "attention_mask": [[1, 1, 1]] * len(labels),
        "label": labels,
    }
    label_feature = ClassLabel(names=names) if names else Value("int64")
    features = Features(
        {
            "input_ids": Sequence(Value("int64")),
            "attention_mask": Sequence(Value("int64")),
            "label": label_feature,
        }
    )
    return Dataset.from_dict(rows, features=features)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def check(call: Callable[[], object], error: type[Exception], *words: str) -> str:
    """Run ``call``; it must raise ``error`` whose message contains every one of ``words``."""
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in the message: {message}"
    return message


# ----------------------------------------------------------------------------- words and labels
def test_word_and_label_counts_that_differ(tokenizer) -> None:
    check(
        lambda: tokenization.align_labels([None, 0, 1, 2, None], [1, 2]),
        ValueError,
        "word_ids",
        "counts differ",
    )
    batch = {"tokens": [["Ada", "Lovelace", "wrote"]], "ner_tags": [[1, 2]]}
    check(
        lambda: tokenization.tokenize_and_align(batch, tokenizer),
        ValueError,
        "3 words but 2 labels",
        "ner_tags",
    )
    check(lambda: tokenization.tokenize_and_align({"tokens": [["a"]]}, tokenizer), ValueError, "ner_tags")
    check(
        lambda: tokenization.tokenize_and_align({"tokens": ["a b"], "ner_tags": [[0]]}, tokenizer),
        TypeError,
        "tokens",
    )


def test_unknown_label_names(tmp_path: Path) -> None:
    check(lambda: tokenization.b_to_i_map(["O", "B-PER"]), ValueError, "label_names", "I-PER")
    check(lambda: tokenization.b_to_i_map(["O", "O"]), ValueError, "label_names", "twice")
    check(lambda: metrics.entity_scores([["B-PER"]], [["X-PER"]]), ValueError, "X-PER", "IOB2")
    check(lambda: models.load_pretrained("sequence-classification", labels=["a", "a"]), ValueError, "labels")
    path = write(tmp_path, "train.txt", "Ada B-PER\nLovelace FOO\n")
    check(lambda: read_conll(path), DataFormatError, "train.txt", "line 2", "FOO")


def test_labels_outside_num_labels() -> None:
    check(
        lambda: tokenization.align_labels([None, 0, None], [5], num_labels=3),
        ValueError,
        "word_labels[0]",
        "0..2",
    )
    check(lambda: tokenization.align_labels([None, 0, None], ["PER"]), TypeError, "word_labels[0]")
    check(
        lambda: batching.prepare_examples(tokenized([0, 7]), tiny_classifier(2), "train_dataset"),
        ValueError,
        "train_dataset",
        "[7]",
        "num_labels=2",
    )
    check(
        lambda: metrics.ner_metrics({0: "O", 1: "B-PER", 2: "I-PER"})(
            np.zeros((1, 2, 3)), np.array([[0, 4]])
        ),
        ValueError,
        "labels",
        "id2label",
    )
    check(
        lambda: metrics.ner_metrics({0: "O", 1: "B-PER"})(np.zeros((1, 2, 3)), np.array([[0, 1]])),
        ValueError,
        "logits",
        "id2label",
    )


def test_head_size_that_does_not_match_the_data() -> None:
    data = tokenized([0, 1, 2], names=["neg", "mixed", "pos"])
    check(
        lambda: training.train(tiny_classifier(2), data, config=training.TrainConfig(progress=False)),
        ValueError,
        "train_dataset",
        "3 classes",
        "num_labels=2",
    )


# ----------------------------------------------------------------------------- empty things
def test_empty_data_sets_and_splits(tmp_path: Path) -> None:
    config = training.TrainConfig(progress=False, verbose=False)
    check(lambda: training.train(tiny_classifier(), [], config=config), ValueError, "train_dataset", "empty")
    check(lambda: training.evaluate(tiny_classifier(), tokenized([])), ValueError, "dataset", "empty")
    check(lambda: metrics.accuracy([], []), ValueError, "empty")
    check(lambda: metrics.entity_scores([], []), ValueError, "empty")
    empty = write(tmp_path, "train.csv", "")
    check(lambda: read_table(empty), DataFormatError, "train.csv", "empty")
    header_only = write(tmp_path, "valid.csv", "text,label\n")
    check(lambda: read_table(header_only), DataFormatError, "valid.csv", "no examples")
    folder = tmp_path / "nothing"
    folder.mkdir()
    check(lambda: load_ner(folder), ValueError, "nothing")
    check(lambda: tokenization.iter_batches([1], 0).__next__(), ValueError, "batch_size")


# ----------------------------------------------------------------------------- tensors and masks
def test_tensors_of_the_wrong_rank_or_dtype() -> None:
    x = torch.randn(2, 3, 4)
    check(lambda: attention.scaled_dot_product_attention(torch.randn(4), x, x), ValueError, "q", "2 dims")
    check(lambda: attention.scaled_dot_product_attention(x, torch.randn(2, 3, 5), x), ValueError, "q and k")
    check(lambda: attention.scaled_dot_product_attention(x, x, torch.randn(2, 4, 4)), ValueError, "k and v")
    check(lambda: attention.scaled_dot_product_attention(x, torch.randn(3, 3, 4), x), ValueError, "broadcast")
    check(lambda: attention.scaled_dot_product_attention(x.tolist(), x, x), TypeError, "q")
    check(lambda: attention.padding_mask(torch.ones(2, 3, 1)), ValueError, "attention_mask", "(batch, seq)")
    check(lambda: attention.padding_mask(torch.ones(2, 3)), TypeError, "attention_mask", "dtype")
    check(lambda: attention.padding_mask(torch.full((2, 3), 2)), ValueError, "attention_mask", "0")
    check(lambda: attention.split_heads(torch.randn(2, 4), 2), ValueError, "x", "(batch, seq, d_model)")
    check(lambda: attention.split_heads(x, 3), ValueError, "n_heads")
    mha = attention.MultiHeadSelfAttention(4, 2)
    check(lambda: mha(torch.randn(3, 4)), ValueError, "x", "d_model=4")
    layer = blocks.EncoderLayer(4, 2, 8)
    check(lambda: layer(torch.randn(2, 3, 5)), ValueError, "d_model")
    check(lambda: metrics.accuracy(np.zeros((2, 2)), [0, 1]), ValueError, "y_true", "1-D")
    check(lambda: metrics.accuracy([0.5, 1.0], [0, 1]), ValueError, "y_true", "non-integer")
    check(lambda: metrics.classification_metrics(np.zeros(3), np.zeros(3)), ValueError, "logits")


def test_masks_that_do_not_broadcast() -> None:
    q = torch.randn(2, 3, 4)
    check(
        lambda: attention.scaled_dot_product_attention(q, q, q, torch.ones(3, 2, dtype=torch.bool)),
        ValueError,
        "mask",
        "broadcast",
    )
    check(
        lambda: attention.scaled_dot_product_attention(q, q, q, torch.ones(2, 3, 3)),
        TypeError,
        "mask",
        "torch.bool",
    )
    mha = attention.MultiHeadSelfAttention(4, 2)
    check(
        lambda: mha(torch.randn(2, 3, 4), torch.ones(2, 3, dtype=torch.bool)),
        ValueError,
        "mask",
        "padding_mask",
    )
    check(lambda: mha(torch.randn(2, 3, 4), torch.ones(2, 1, 1, 5, dtype=torch.bool)), ValueError, "mask")


# ----------------------------------------------------------------------------- files
def test_conll_line_with_the_wrong_number_of_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "train.txt", "Ada NNP B-PER\nLovelace NNP I-PER\nwrote B-X\n")
    check(lambda: read_conll(path), DataFormatError, "train.txt, line 3", "expected 3 columns", "found 2")
    check(lambda: load_ner(tmp_path), DataFormatError, "train.txt, line 3")


def test_csv_without_the_expected_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "train.csv", "review,stars\ngreat,5\n")
    check(lambda: read_table(path), DataFormatError, "train.csv", "label")
    path = write(tmp_path, "train.csv", "text,stars\ngreat,5\n")
    check(lambda: load_classification(tmp_path), DataFormatError, "train.csv", "label")


def test_checkpoint_folder_of_a_different_model(tmp_path: Path) -> None:
    model = tiny_classifier(2)
    folder = checkpoints.save_checkpoint(tmp_path, "step-0000001", model, None, {"step": 1})
    check(
        lambda: checkpoints.load_checkpoint(folder, tiny_classifier(3)),
        checkpoints.CheckpointError,
        "different model",
    )
    config = training.TrainConfig(output_dir=str(tmp_path / "run"), progress=False, verbose=False)
    data = tokenized([0, 1])
    training.train(tiny_classifier(2), data, config=config)
    check(
        lambda: training.train(tiny_classifier(3), tokenized([0, 2]), config=config, resume=True),
        checkpoints.CheckpointError,
        "different model",
    )
    check(lambda: models.load_pretrained("base", name=tmp_path), ValueError, "name=", "config.json")


# ----------------------------------------------------------------------------- types of arguments
def test_arguments_of_the_wrong_type() -> None:
    model = tiny_classifier()
    data = tokenized([0, 1])
    check(lambda: training.train(model, data, config={"epochs": 1}), TypeError, "config", "TrainConfig")
    check(lambda: training.train("model", data), TypeError, "model")
    check(lambda: training.train(model, data, compute_metrics=3), TypeError, "compute_metrics")
    check(lambda: training.train(model, "text"), TypeError, "train_dataset")
    check(lambda: training.TrainConfig(batch_size=0), ValueError, "batch_size")
    check(lambda: training.TrainConfig(lr=5), ValueError, "lr")
    check(lambda: models.load_pretrained("translation"), ValueError, "task")
    check(lambda: load_classification(3), TypeError, "source")
    check(lambda: metrics.precision_recall_f1([0], [0], average="weighted"), ValueError, "average")
    check(lambda: metrics.accuracy([0, 1], ["a", "b"]), TypeError, "y_true and y_pred")
