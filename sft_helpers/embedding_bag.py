"""A tiny classifier trained from scratch: the mean of its tokens' embeddings, then one linear layer.

It is chapter 1's proof that embeddings learn task structure, and chapter 4's baseline: a
pretrained Transformer has to beat it. ``EmbeddingBagClassifier`` answers like a transformers
model (``model(input_ids=..., attention_mask=..., labels=...)`` returns ``loss`` and
``logits``), so any training loop written for those trains it too.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from transformers.modeling_outputs import SequenceClassifierOutput

__all__ = ["EmbeddingBagClassifier", "train_embedding_bag", "predict_labels"]


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value


class EmbeddingBagClassifier(nn.Module):
    """Mean of token embeddings (``nn.EmbeddingBag``) followed by a linear layer to ``num_labels`` logits.

    Padding (``attention_mask == 0`` or the id ``padding_idx``) is left out of the mean, so a
    sentence scores the same however much it is padded. ``sparse=True`` gives the embedding
    table sparse gradients (only the rows a batch used), which ``torch.optim.SparseAdam`` or
    SGD update 50x faster on a CPU than a dense update of all ``vocab_size`` rows; keep the
    default ``False`` for optimizers such as AdamW that need dense gradients.
    """

    def __init__(
        self, vocab_size: int, dim: int, num_labels: int, padding_idx: int = 0, sparse: bool = False
    ) -> None:
        super().__init__()
        _positive_int(vocab_size, "vocab_size")
        _positive_int(dim, "dim")
        _positive_int(num_labels, "num_labels")
        if not isinstance(padding_idx, int) or not 0 <= padding_idx < vocab_size:
            raise ValueError(f"padding_idx must be an int in [0, {vocab_size}), got {padding_idx!r}.")
        self.padding_idx = padding_idx
        self.num_labels = num_labels
        self.bag = nn.EmbeddingBag(vocab_size, dim, mode="mean", padding_idx=padding_idx, sparse=sparse)
        self.classifier = nn.Linear(dim, num_labels)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **unused: Any,
    ) -> SequenceClassifierOutput:
        """``input_ids`` (batch, seq) -> logits (batch, num_labels); with ``labels`` (batch,) also the loss.

        Extra tokenizer outputs such as ``token_type_ids`` are accepted and ignored.
        """
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
            shape = (
                tuple(input_ids.shape) if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__
            )
            raise ValueError(f"input_ids must be a (batch, seq) tensor of token ids, got {shape}.")
        if attention_mask is not None:
            if attention_mask.shape != input_ids.shape:
                raise ValueError(
                    f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has "
                    f"{tuple(input_ids.shape)}; they must match."
                )
            # Masked positions become the padding id, which EmbeddingBag leaves out of the mean.
            input_ids = input_ids.masked_fill(attention_mask == 0, self.padding_idx)
        pooled = self.bag(input_ids)  # (batch, dim): mean over the non-padding tokens
        logits = self.classifier(pooled)  # (batch, num_labels)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run on one CPU thread: for operations this small, more threads only wait for each other."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _encode(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def _batches(ids: list[list[int]], order: Sequence[int], batch_size: int, pad_id: int):
    """Yield (input_ids, attention_mask, rows) padded to the longest sequence of each batch."""
    for start in range(0, len(order), batch_size):
        rows = list(order[start : start + batch_size])
        longest = max(len(ids[r]) for r in rows)
        input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for i, r in enumerate(rows):
            input_ids[i, : len(ids[r])] = torch.tensor(ids[r])
            mask[i, : len(ids[r])] = 1
        yield input_ids, mask, rows


@torch.no_grad()
def predict_labels(
    model: EmbeddingBagClassifier,
    tokenizer: Any,
    texts: Sequence[str],
    batch_size: int = 256,
    max_length: int = 128,
) -> list[int]:
    """The predicted label id for each text."""
    was_training = model.training
    model.eval()
    ids = _encode(tokenizer, texts, max_length)
    predictions = [0] * len(ids)
    with _one_thread():
        for input_ids, mask, rows in _batches(ids, range(len(ids)), batch_size, tokenizer.pad_token_id):
            for r, p in zip(rows, model(input_ids=input_ids, attention_mask=mask).logits.argmax(-1).tolist()):
                predictions[r] = p
    model.train(was_training)
    return predictions


def _num_labels(split: Any) -> int:
    feature = split.features.get("label") if hasattr(split, "features") else None
    if feature is not None and hasattr(feature, "num_classes"):
        return int(feature.num_classes)
    return int(max(split["label"])) + 1


def train_embedding_bag(
    dataset_dict: Any,
    tokenizer: Any,
    epochs: int = 5,
    dim: int = 64,
    lr: float = 1e-2,
    seed: int = 0,
    batch_size: int = 32,
    max_length: int = 128,
) -> tuple[EmbeddingBagClassifier, dict[str, float]]:
    """Train an ``EmbeddingBagClassifier`` from scratch on ``dataset_dict["train"]`` (columns ``text``, ``label``).

    Texts are tokenised with ``tokenizer`` (its whole vocabulary gets an embedding row). Lazy Adam
    (``SparseAdam`` on the table's sparse gradients, ``Adam`` on the linear layer), cross-entropy,
    shuffled mini-batches, on one CPU thread (the fastest for a model this small); the same ``seed`` gives the same model and scores
    on CPU, and the global random state is left untouched. Returns the model (in eval mode)
    and ``{"train_accuracy", "validation_accuracy", "test_accuracy" (for the splits present),
    "epochs", "train_seconds"}``.
    """
    if "train" not in dataset_dict:
        raise ValueError("dataset_dict needs a 'train' split (and usually 'validation' and 'test').")
    train = dataset_dict["train"]
    missing = {"text", "label"} - set(train.column_names)
    if missing:
        raise ValueError(
            f"the train split lacks column(s) {sorted(missing)}; expected 'text' and 'label' "
            "(the schema of sft_helpers.data.load_classification)."
        )
    if len(train) == 0:
        raise ValueError("the train split is empty.")
    _positive_int(epochs, "epochs")
    _positive_int(batch_size, "batch_size")
    if not (isinstance(lr, float | int) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}.")
    if tokenizer.pad_token_id is None:
        raise ValueError("the tokenizer has no pad token; this classifier needs one to pad batches.")

    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # initialise from `seed` without touching the global state
        torch.manual_seed(seed)
        model = EmbeddingBagClassifier(
            len(tokenizer), dim, _num_labels(train), padding_idx=tokenizer.pad_token_id, sparse=True
        )
    optimizers = [
        torch.optim.SparseAdam(list(model.bag.parameters()), lr=lr),
        torch.optim.Adam(model.classifier.parameters(), lr=lr),
    ]
    ids = _encode(tokenizer, train["text"], max_length)
    labels = torch.tensor(list(train["label"]), dtype=torch.long)

    start = time.perf_counter()
    model.train()
    with _one_thread():
        for _ in range(epochs):
            order = torch.randperm(len(ids), generator=generator).tolist()
            for input_ids, mask, rows in _batches(ids, order, batch_size, tokenizer.pad_token_id):
                loss = model(input_ids=input_ids, attention_mask=mask, labels=labels[rows]).loss
                for optimizer in optimizers:
                    optimizer.zero_grad()
                loss.backward()
                for optimizer in optimizers:
                    optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()

    scores: dict[str, float] = {}
    for name in ("train", "validation", "test"):
        if name in dataset_dict and len(dataset_dict[name]) > 0:
            split = dataset_dict[name]
            predicted = torch.tensor(predict_labels(model, tokenizer, split["text"], max_length=max_length))
            scores[f"{name}_accuracy"] = (
                (predicted == torch.tensor(list(split["label"]))).float().mean().item()
            )
    scores["epochs"] = epochs
    scores["train_seconds"] = seconds
    return model, scores
