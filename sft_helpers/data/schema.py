"""One schema for every source: build in-memory ``datasets.DatasetDict`` objects with ClassLabel features.

Classification: ``text`` (string), ``label`` (ClassLabel). NER: ``tokens`` (list of
strings), ``ner_tags`` (list of ClassLabel, IOB2), as the hub's CoNLL-2003. Nothing is
written to disk and nothing touches the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# The hub's conll2003 label order, used whenever a file has (a subset of) these tags.
CONLL2003_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
SPLIT_ORDER = ("train", "validation", "test")


def tag_names(tags: Iterable[str]) -> list[str]:
    """The label list for a set of IOB2 tags.

    The CoNLL-2003 order when every tag is one of its nine; otherwise ``O`` first and then,
    sorted, ``B-`` and ``I-`` for every entity type seen (so the list covers both).
    """
    seen = set(tags)
    if seen <= set(CONLL2003_TAGS):
        return list(CONLL2003_TAGS)
    types = sorted({t[2:] for t in seen if t != "O"})
    return ["O"] + sorted([f"B-{t}" for t in types] + [f"I-{t}" for t in types])


def label_names(labels: Iterable[int | str]) -> list[str]:
    """Class names: ``"0" .. str(max)`` for integer labels, else the sorted distinct names."""
    values = list(labels)
    if not values:
        raise ValueError("labels is empty: a data set needs at least one labelled example.")
    if all(isinstance(v, int) for v in values):
        return [str(i) for i in range(max(values) + 1)]
    if all(isinstance(v, str) for v in values):
        return sorted(set(values))
    raise ValueError("labels mixes integers and names; use one kind for every label.")


def _ordered(splits: Mapping[str, Any]) -> list[str]:
    return [s for s in SPLIT_ORDER if s in splits] + [s for s in splits if s not in SPLIT_ORDER]


def classification_dict(
    rows_by_split: Mapping[str, Sequence[Mapping[str, Any]]],
    names: Sequence[str] | None = None,
    bool_columns: Sequence[str] = (),
):
    """A ``DatasetDict`` with ``text``, ``label`` and the given boolean metadata columns.

    ``rows_by_split`` maps a split name to rows with ``text`` and ``label`` (an int class
    id or a class name). ``names`` fixes the class order; by default it comes from the
    labels of all splits together, so every split shares one ClassLabel.
    """
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

    for split, rows in rows_by_split.items():
        if len(rows) == 0:
            raise ValueError(f"split {split!r} is empty: every split needs at least one example.")
    if names is None:
        names = label_names(r["label"] for rows in rows_by_split.values() for r in rows)
    index = {name: i for i, name in enumerate(names)}
    columns = {"text": Value("string"), "label": ClassLabel(names=list(names))}
    columns.update({c: Value("bool") for c in bool_columns})
    features = Features(columns)
    out = {}
    for split in _ordered(rows_by_split):
        rows = rows_by_split[split]
        data: dict[str, list] = {"text": [r["text"] for r in rows], "label": []}
        for r in rows:
            label = r["label"]
            if isinstance(label, str):
                if label not in index:
                    raise ValueError(
                        f"label {label!r} in split {split!r} is not one of the classes {list(names)}."
                    )
                label = index[label]
            elif not 0 <= label < len(names):
                raise ValueError(f"label {label} in split {split!r} is outside 0..{len(names) - 1}.")
            data["label"].append(label)
        for c in bool_columns:
            data[c] = [bool(r[c]) for r in rows]
        out[split] = Dataset.from_dict(data, features=features)
    return DatasetDict(out)


def ner_dict(
    sentences_by_split: Mapping[str, Sequence[tuple[Sequence[str], Sequence[str]]]],
    names: Sequence[str] | None = None,
):
    """A ``DatasetDict`` with ``tokens`` and ``ner_tags`` from ``(tokens, tags)`` pairs (IOB2 strings)."""
    from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

    for split, sentences in sentences_by_split.items():
        if len(sentences) == 0:
            raise ValueError(f"split {split!r} is empty: every split needs at least one sentence.")
    if names is None:
        names = tag_names(t for sents in sentences_by_split.values() for _, tags in sents for t in tags)
    index = {name: i for i, name in enumerate(names)}
    features = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=list(names)))})
    out = {}
    for split in _ordered(sentences_by_split):
        tokens, ids = [], []
        for i, (words, tags) in enumerate(sentences_by_split[split]):
            if len(words) != len(tags):
                raise ValueError(
                    f"sentence {i} of split {split!r} has {len(words)} tokens but {len(tags)} tags."
                )
            unknown = [t for t in tags if t not in index]
            if unknown:
                raise ValueError(f"tag {unknown[0]!r} in split {split!r} is not one of {list(names)}.")
            tokens.append(list(words))
            ids.append([index[t] for t in tags])
        out[split] = Dataset.from_dict({"tokens": tokens, "ner_tags": ids}, features=features)
    return DatasetDict(out)
