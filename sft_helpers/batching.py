"""Turning a tokenized data set into batches: column selection, batch order, length grouping.

The training loop (``sft_helpers.training``) asks this module for two things:

* ``prepare_examples``: the rows as a list of dicts holding only what the model reads
  (``input_ids``, ``attention_mask``, ``labels``, ...), checked once up front so a missing
  column or an out-of-range label fails with a clear message before any training starts;
* ``batch_order``: the example indices of each batch of one epoch, a pure function of
  ``(seed, epoch)``, so a resumed run replays exactly the batches an uninterrupted run sees.

Length grouping puts examples of similar length in the same batch, so dynamic padding adds
few pad tokens: each pad token costs as much compute as a real one.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch

__all__ = [
    "LABEL_COLUMNS",
    "model_input_names",
    "prepare_examples",
    "example_lengths",
    "batch_order",
    "padding_waste",
]

LABEL_COLUMNS = ("labels", "label")
# what a plain nn.Module whose forward takes the batch dict gets when it names no inputs
DEFAULT_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "offsets")


def model_input_names(model: torch.nn.Module) -> tuple[set[str], bool]:
    """The batch keys ``model`` reads, and whether it is called as ``model(**batch)``.

    A transformers model (or any module whose ``forward`` names ``input_ids``) is called with
    keyword arguments; a plain module with one argument is called as ``model(batch)``.
    """
    parameters = inspect.signature(model.forward).parameters
    named = {
        name
        for name, p in parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name not in ("self", "kwargs")
    }
    if "input_ids" in named or "inputs_embeds" in named:
        return named | {"labels"}, True
    return set(DEFAULT_INPUTS) | {"labels"}, False


def _rows(dataset: Any, name: str) -> tuple[list[str], Any]:
    """Column names and a row accessor for a datasets.Dataset or a sequence of dicts."""
    if dataset is None:
        raise ValueError(f"{name} is None; pass a tokenized datasets.Dataset or a list of dicts.")
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(
            f"{name} must be a datasets.Dataset or a list of dicts, got {type(dataset).__name__}."
        )
    if len(dataset) == 0:
        raise ValueError(f"{name} is empty; it needs at least one example (check your split or filter).")
    if hasattr(dataset, "column_names") and hasattr(dataset, "select_columns"):
        return list(dataset.column_names), dataset
    first = dataset[0]
    if not isinstance(first, dict):
        raise TypeError(f"{name}[0] is a {type(first).__name__}; each example must be a dict of columns.")
    return list(first), dataset


def prepare_examples(
    dataset: Any, model: torch.nn.Module, name: str = "dataset", require_labels: bool = True
) -> list[dict[str, Any]]:
    """The examples as a list of dicts with only the columns ``model`` reads (``label`` -> ``labels``).

    Raises a clear error for an empty data set, text that was never tokenized, a missing
    label column, or labels outside the model's ``num_labels``.
    """
    columns, rows = _rows(dataset, name)
    wanted, _ = model_input_names(model)
    if "input_ids" not in columns:
        hint = (
            " It has a 'text' column: tokenize it first, e.g. dataset.map(tokenize, batched=True)."
            if ("text" in columns or "tokens" in columns)
            else ""
        )
        raise ValueError(f"{name} has no 'input_ids' column (columns: {columns}).{hint}")
    label_column = next((c for c in LABEL_COLUMNS if c in columns), None)
    if require_labels and label_column is None:
        raise ValueError(
            f"{name} has no 'label' or 'labels' column (columns: {columns}); the model needs labels to "
            "compute a loss."
        )
    keep = [c for c in columns if c in wanted or c == label_column]
    if hasattr(rows, "select_columns"):
        examples = rows.select_columns(keep).to_list()
    else:
        examples = [{c: row[c] for c in keep} for row in rows]
    if label_column == "label":
        for example in examples:
            example["labels"] = example.pop("label")
    if label_column is not None:
        _check_labels(examples, model, name, getattr(dataset, "features", None), label_column)
    return examples


def _check_labels(
    examples: list[dict[str, Any]], model: torch.nn.Module, name: str, features: Any, label_column: str
) -> None:
    """Labels must fit the model's head: 0..num_labels-1 (or -100, ignored, in token labels)."""
    num_labels = getattr(model, "num_labels", None)
    if not isinstance(num_labels, int):
        return  # a causal LM or a module without a classification head: labels are token ids
    feature = features.get(label_column) if features is not None else None
    classes = getattr(feature, "num_classes", None) or getattr(
        getattr(feature, "feature", None), "num_classes", None
    )
    if classes is not None and classes != num_labels:
        raise ValueError(
            f"{name}'s labels have {classes} classes but the model's head has num_labels={num_labels}; load the "
            f"model with num_labels={classes} (or labels=the data's label names)."
        )
    values: set[int] = set()
    for example in examples:
        label = example["labels"]
        values.update(label if isinstance(label, list) else [label])
    bad = sorted(v for v in values if v != -100 and not (isinstance(v, int) and 0 <= v < num_labels))
    if bad:
        raise ValueError(
            f"{name} has labels {bad[:5]} outside 0..{num_labels - 1} (the model's num_labels={num_labels}); "
            "map label names to ids, or load the model with the right num_labels."
        )


def example_lengths(examples: Sequence[dict[str, Any]]) -> list[int]:
    """Number of tokens of each example (the length of its ``input_ids``)."""
    return [len(example["input_ids"]) for example in examples]


def batch_order(
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    group_by_length: bool = False,
    group_size: int = 50,
    accumulate: int = 1,
) -> list[list[int]]:
    """The example indices of each batch of one epoch; the same ``(seed, epoch)`` gives the same batches.

    ``group_by_length`` (``TrainConfig``'s default): shuffle, cut the permutation into groups of
    ``group_size`` batches, sort each group by length (longest first) and cut it into batches,
    then shuffle the batch order. Batches then hold similar lengths (little padding) while the
    epoch stays random.

    ``accumulate``: the number of batches one optimizer step adds up (gradient accumulation).
    Each run of ``accumulate`` consecutive batches then holds exactly the examples of one batch
    of ``batch_size * accumulate``, so accumulating gives the same steps as the larger batch,
    with length grouping too. Without grouping the batches are those of ``accumulate=1``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}.")
    if not isinstance(accumulate, int) or isinstance(accumulate, bool) or accumulate < 1:
        raise ValueError(
            f"accumulate must be a positive int (batches per optimizer step), got {accumulate!r}."
        )
    if accumulate > 1:
        steps = batch_order(
            lengths, batch_size * accumulate, seed, epoch, shuffle, group_by_length, group_size
        )
        full = (
            batch_size * accumulate
        )  # the one short step (n not a multiple) goes last, as without grouping,
        steps = [s for s in steps if len(s) == full] + [s for s in steps if len(s) < full]  # so steps align
        return [step[i : i + batch_size] for step in steps for i in range(0, len(step), batch_size)]
    n = len(lengths)
    if not shuffle:
        order = list(range(n))
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(n, generator=generator).tolist()
    if not group_by_length:
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    chunk = batch_size * group_size
    batches: list[list[int]] = []
    for start in range(0, n, chunk):
        group = sorted(order[start : start + chunk], key=lambda i: -lengths[i])
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]


def padding_waste(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> dict[str, float]:
    """Pad tokens added when each batch is padded to its longest example, vs. real tokens."""
    real = sum(lengths)
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in batches if batch)
    return {
        "real_tokens": real,
        "padded_tokens": padded,
        "pad_fraction": (padded - real) / padded if padded else 0.0,
    }
