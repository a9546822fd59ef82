"""Word-to-subword label alignment for token classification, and small batching helpers.

A NER data set labels *words*; a WordPiece tokenizer cuts words into *subwords* and adds
special tokens (``[CLS]``, ``[SEP]``). The model predicts one label per subword, so the word
labels must be spread over the subwords. ``align_labels`` does it for one sentence from the
tokenizer's ``word_ids()``; ``tokenize_and_align`` does it for a whole batch or ``Dataset``.

Label ``-100`` is PyTorch's ``ignore_index``: those positions add nothing to the loss.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

IGNORE_INDEX = -100
"""The label that ``torch.nn.CrossEntropyLoss`` (and transformers' heads) skip."""

T = TypeVar("T")

__all__ = [
    "IGNORE_INDEX",
    "align_labels",
    "b_to_i_map",
    "iter_batches",
    "label_names_of",
    "token_classification_collator",
    "tokenize_and_align",
]


def b_to_i_map(label_names: Sequence[str]) -> dict[int, int]:
    """Map each ``B-X`` label id to the id of ``I-X``, for labelling continuation subwords.

    >>> b_to_i_map(["O", "B-PER", "I-PER"])
    {1: 2}
    """
    if isinstance(label_names, str) or not isinstance(label_names, Sequence):
        raise TypeError(
            f"label_names must be a list of label names such as ['O', 'B-PER', 'I-PER'], "
            f"got {type(label_names).__name__}."
        )
    index = {}
    for i, name in enumerate(label_names):
        if not isinstance(name, str) or not name:
            raise ValueError(f"label_names[{i}] must be a non-empty string, got {name!r}.")
        if name in index:
            raise ValueError(f"label_names contains {name!r} twice (positions {index[name]} and {i}).")
        index[name] = i
    mapping = {}
    for name, i in index.items():
        if name.startswith("B-"):
            inside = "I-" + name[2:]
            if inside not in index:
                raise ValueError(
                    f"label_names has {name!r} but no {inside!r}: IOB2 needs both to label "
                    "continuation subwords; add it or use label_all_subwords=False."
                )
            mapping[i] = index[inside]
    return mapping


def _check_word_ids(word_ids: Sequence[int | None], n_words: int) -> None:
    """Raise ValueError unless ``word_ids`` is a tokenizer's word_ids() for ``n_words`` words."""
    if isinstance(word_ids, str | bytes) or not isinstance(word_ids, Sequence):
        raise TypeError(
            f"word_ids must be a list of int or None (from encoding.word_ids()), got {type(word_ids).__name__}."
        )
    last = -1
    for position, wid in enumerate(word_ids):
        if wid is None:
            continue
        if not isinstance(wid, int) or isinstance(wid, bool):
            raise TypeError(f"word_ids[{position}] must be an int or None, got {wid!r}.")
        if wid < 0 or wid >= n_words:
            raise ValueError(
                f"word_ids[{position}] = {wid} but there are {n_words} word labels (valid word ids "
                f"0..{n_words - 1}): word and label counts differ; pass the labels of the same sentence "
                "that was tokenized."
            )
        if wid < last:
            raise ValueError(
                f"word_ids[{position}] = {wid} comes after word {last}: a tokenizer's word ids never go "
                "back, so these word_ids are not from encoding.word_ids() of one sentence."
            )
        last = wid


def _check_word_labels(word_labels: Sequence[int], num_labels: int | None) -> list[int]:
    if isinstance(word_labels, str | bytes) or not isinstance(word_labels, Sequence):
        raise TypeError(f"word_labels must be a list of label ids (int), got {type(word_labels).__name__}.")
    labels = list(word_labels)
    for i, label in enumerate(labels):
        if hasattr(label, "item") and not isinstance(label, int):  # numpy / torch scalars
            label = label.item()
            labels[i] = label
        if not isinstance(label, int) or isinstance(label, bool):
            raise TypeError(
                f"word_labels[{i}] must be an int label id, got {label!r}; map label names to ids first "
                "(e.g. with the data set's ClassLabel.str2int)."
            )
        if label == IGNORE_INDEX:
            continue
        if label < 0 or (num_labels is not None and label >= num_labels):
            upper = f"0..{num_labels - 1}" if num_labels is not None else "non-negative"
            raise ValueError(
                f"word_labels[{i}] = {label} is outside the label set ({upper}, or {IGNORE_INDEX} to "
                "ignore a word); check that the labels belong to this label list."
            )
    return labels


def align_labels(
    word_ids: Sequence[int | None],
    word_labels: Sequence[int],
    label_all_subwords: bool = False,
    b_to_i: Mapping[int, int] | None = None,
    *,
    label_names: Sequence[str] | None = None,
    num_labels: int | None = None,
) -> list[int]:
    """One label per token, from one label per word.

    - special tokens (``word_id is None``) get ``-100``;
    - the first subword of each word gets the word's label;
    - continuation subwords get ``-100`` by default (the *first-subword* strategy), or with
      ``label_all_subwords=True`` the word's label with ``B-X`` turned into ``I-X`` (so a word
      ``B-PER`` cut into three pieces becomes ``B-PER I-PER I-PER``: still valid IOB2).

    ``b_to_i`` maps B- ids to I- ids (see ``b_to_i_map``); ``label_names`` builds it for you.
    One of them is needed with ``label_all_subwords=True``. ``num_labels`` (or ``label_names``)
    lets the function reject label ids outside the label set. A word label of ``-100`` marks
    a word to ignore: all its tokens get ``-100``.
    """
    if not isinstance(label_all_subwords, bool):
        raise TypeError(f"label_all_subwords must be True or False, got {label_all_subwords!r}.")
    if label_names is not None:
        names_map = b_to_i_map(label_names)
        if b_to_i is not None and dict(b_to_i) != names_map:
            raise ValueError("b_to_i and label_names disagree; pass only one of them.")
        b_to_i = names_map
        if num_labels is not None and num_labels != len(label_names):
            raise ValueError(f"num_labels={num_labels} but label_names has {len(label_names)} names.")
        num_labels = len(label_names)
    if label_all_subwords and b_to_i is None:
        raise ValueError(
            "label_all_subwords=True needs to know which label is the I- of each B-: pass "
            "label_names=[...] (e.g. dataset.features['ner_tags'].feature.names) or b_to_i={B_id: I_id}."
        )
    labels = _check_word_labels(word_labels, num_labels)
    _check_word_ids(word_ids, len(labels))

    aligned: list[int] = []
    previous: int | None = None
    for wid in word_ids:
        if wid is None:
            aligned.append(IGNORE_INDEX)  # [CLS], [SEP], padding
        elif wid != previous:
            aligned.append(labels[wid])  # first subword of a word
        elif label_all_subwords and labels[wid] != IGNORE_INDEX:
            aligned.append(b_to_i.get(labels[wid], labels[wid]))  # type: ignore[union-attr]
        else:
            aligned.append(IGNORE_INDEX)  # continuation subword, first-subword strategy
        if wid is not None:
            previous = wid
    return aligned


def label_names_of(dataset: Any, tags_column: str = "ner_tags") -> list[str]:
    """The label names of a NER ``Dataset``/``DatasetDict`` (``Sequence(ClassLabel)`` column)."""
    features = getattr(dataset, "features", None)
    if features is None and hasattr(dataset, "values"):  # DatasetDict: take any split
        splits = list(dataset.values())
        features = getattr(splits[0], "features", None) if splits else None
    if features is None or tags_column not in features:
        raise ValueError(
            f"cannot find a {tags_column!r} column with label names; pass label_names=[...] explicitly."
        )
    feature = features[tags_column]
    inner = getattr(feature, "feature", None)
    if isinstance(feature, list) and feature:  # datasets' List(ClassLabel) written as [ClassLabel]
        inner = feature[0]
    names = getattr(inner, "names", None)
    if not names:
        raise ValueError(
            f"column {tags_column!r} is not a sequence of ClassLabel; pass label_names=[...] explicitly."
        )
    return list(names)


def _is_fast(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "is_fast", False))


def tokenize_and_align(
    dataset_or_batch: Any,
    tokenizer: Any,
    label_all_subwords: bool = False,
    max_length: int | None = None,
    label_names: Sequence[str] | None = None,
    tokens_column: str = "tokens",
    tags_column: str = "ner_tags",
    align: Callable[..., Sequence[int]] | None = None,
) -> Any:
    """Tokenize pre-split words (``is_split_into_words=True``) and align their labels.

    - Given a batch (a dict of lists, as ``Dataset.map(batched=True)`` passes it), returns a
      dict with ``input_ids``, ``attention_mask`` (``token_type_ids``) and ``labels``.
    - Given a ``Dataset`` or ``DatasetDict``, maps itself over it in batches and drops the old
      columns, so the result feeds ``DataCollatorForTokenClassification`` directly.

    Sequences longer than ``max_length`` tokens (default: the tokenizer's limit) are cut; the
    words past the cut lose their labels. No padding here: the collator pads each batch.

    ``align`` replaces ``align_labels`` (e.g. a learner's own version, chapter 5's exercise): it
    is called as ``align(word_ids, word_labels, label_all_subwords, b_to_i)`` for each sentence
    and must return one label per token.
    """
    if align is not None and not callable(align):
        raise TypeError(f"align must be a function like align_labels, got {type(align).__name__}.")
    if not _is_fast(tokenizer):
        raise TypeError(
            "tokenizer must be a fast (Rust) tokenizer: label alignment needs encoding.word_ids(). "
            "Load it with AutoTokenizer.from_pretrained(..., use_fast=True) or sft_helpers.models.load_pretrained."
        )
    if max_length is not None and (not isinstance(max_length, int) or max_length < 3):
        raise ValueError(
            f"max_length must be an int >= 3 (room for [CLS], a token and [SEP]), got {max_length!r}."
        )
    if hasattr(dataset_or_batch, "map") and hasattr(dataset_or_batch, "column_names"):
        dataset = dataset_or_batch
        if label_names is None and label_all_subwords:
            label_names = label_names_of(dataset, tags_column)
        columns = dataset.column_names
        remove = (
            sorted({c for cols in columns.values() for c in cols}) if isinstance(columns, dict) else columns
        )
        return dataset.map(
            tokenize_and_align,
            batched=True,
            remove_columns=remove,
            fn_kwargs={
                "tokenizer": tokenizer,
                "label_all_subwords": label_all_subwords,
                "max_length": max_length,
                "label_names": list(label_names) if label_names is not None else None,
                "tokens_column": tokens_column,
                "tags_column": tags_column,
                "align": align,
            },
            desc="tokenize and align labels",
        )
    batch = dataset_or_batch
    if not isinstance(batch, Mapping):
        raise TypeError(
            "dataset_or_batch must be a datasets.Dataset/DatasetDict or a batch dict of lists "
            f"with {tokens_column!r} and {tags_column!r}, got {type(batch).__name__}."
        )
    for column in (tokens_column, tags_column):
        if column not in batch:
            raise ValueError(f"the batch has no {column!r} column (columns: {sorted(batch)}).")
    words, tags = batch[tokens_column], batch[tags_column]
    if len(words) != len(tags):
        raise ValueError(f"{tokens_column!r} has {len(words)} rows but {tags_column!r} has {len(tags)}.")
    for row, (w, t) in enumerate(zip(words, tags, strict=True)):
        if isinstance(w, str):
            raise TypeError(
                f"row {row}: {tokens_column!r} must be a list of words, got a string; split it into words first."
            )
        if len(w) != len(t):
            raise ValueError(
                f"row {row}: {len(w)} words but {len(t)} labels in {tags_column!r}; every word needs one label."
            )
        if len(w) == 0:
            raise ValueError(f"row {row}: empty sentence (no words); drop empty rows before tokenizing.")
    b_to_i = b_to_i_map(label_names) if label_names is not None else None
    num_labels = len(label_names) if label_names is not None else None
    encoded = tokenizer(
        [list(w) for w in words],
        is_split_into_words=True,
        truncation=True,
        max_length=max_length if max_length is not None else getattr(tokenizer, "model_max_length", 512),
    )
    if align is None:
        encoded["labels"] = [
            align_labels(encoded.word_ids(row), tags[row], label_all_subwords, b_to_i, num_labels=num_labels)
            for row in range(len(words))
        ]
    else:
        if label_all_subwords and b_to_i is None:
            raise ValueError(
                "label_all_subwords=True with a custom align needs label_names=[...] (to build b_to_i)."
            )
        encoded["labels"] = []
        for row in range(len(words)):
            word_ids = encoded.word_ids(row)
            labels = [int(x) for x in align(list(word_ids), list(tags[row]), label_all_subwords, b_to_i)]
            if len(labels) != len(word_ids):
                raise ValueError(
                    f"row {row}: align returned {len(labels)} labels for {len(word_ids)} tokens; it must "
                    "return one label per token."
                )
            encoded["labels"].append(labels)
    return dict(encoded)


def token_classification_collator(tokenizer: Any, pad_to_multiple_of: int | None = None) -> Any:
    """``DataCollatorForTokenClassification`` that pads labels with -100 (ignored by the loss)."""
    from transformers import DataCollatorForTokenClassification

    return DataCollatorForTokenClassification(
        tokenizer, label_pad_token_id=IGNORE_INDEX, pad_to_multiple_of=pad_to_multiple_of
    )


def iter_batches(items: Iterable[T], batch_size: int) -> Iterator[list[T]]:
    """Yield lists of ``batch_size`` items (the last one may be shorter)."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
