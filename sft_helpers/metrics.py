"""Evaluation metrics: accuracy, precision/recall/F1, confusion matrix, seqeval entity scores.

The classification metrics are written out with NumPy from the confusion matrix, so a reader
sees what each number counts; the tests compare them with scikit-learn. Entity scores for
named-entity recognition use seqeval in strict IOB2 mode (a predicted entity counts only if
its type and both boundaries match), the convention of CoNLL-2003 papers.

``classification_metrics`` and ``ner_metrics`` have the ``compute_metrics(logits, labels)``
signature that ``sft_helpers.training`` calls after each evaluation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "accuracy",
    "precision_recall_f1",
    "confusion_matrix",
    "classification_report",
    "entity_scores",
    "token_accuracy",
    "classification_metrics",
    "ner_metrics",
]

AVERAGES = ("macro", "micro", None)


# ----------------------------------------------------------------------------- input checks
def _as_label_array(values: Any, name: str) -> np.ndarray:
    """A 1-D array of labels (ints or strings) from a list, tuple, array or tensor."""
    if hasattr(values, "detach"):  # a torch tensor
        values = values.detach().cpu().numpy()
    if isinstance(values, str | bytes) or not hasattr(values, "__len__"):
        raise TypeError(
            f"{name} must be a sequence of labels (list, array or tensor), got {type(values).__name__}."
        )
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one label per example), got shape {array.shape}.")
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError(f"{name} holds non-integer floats; pass class ids (ints) or names, not scores.")
        if array.size and np.abs(array).max() > 2**53:  # beyond this, floats no longer hold every integer
            raise ValueError(f"{name} holds floats too large to be class ids (|value| > 2**53).")
        array = array.astype(np.int64)
    if array.dtype.kind not in "iubUSO":
        raise TypeError(f"{name} must hold ints or strings, got dtype {array.dtype}.")
    return array


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    true = _as_label_array(y_true, "y_true")
    pred = _as_label_array(y_pred, "y_pred")
    if len(true) != len(pred):
        raise ValueError(
            f"y_true has {len(true)} labels but y_pred has {len(pred)}; pass one prediction per example."
        )
    if len(true) == 0:
        raise ValueError("y_true and y_pred are empty; metrics need at least one example.")
    if (true.dtype.kind in "US") != (pred.dtype.kind in "US"):
        raise TypeError("y_true and y_pred mix label names and class ids; use the same kind for both.")
    return true, pred


def _resolve_labels(true: np.ndarray, pred: np.ndarray, labels: Sequence[Any] | None) -> list[Any]:
    if labels is None:
        return sorted(set(true.tolist()) | set(pred.tolist()))
    labels = list(labels)
    if not labels:
        raise ValueError("labels is empty; pass None (every label seen) or a non-empty list.")
    if len(set(labels)) != len(labels):
        raise ValueError(f"labels contains duplicates: {labels}.")
    return labels


# ----------------------------------------------------------------------------- classification
def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of examples whose prediction equals the true label."""
    true, pred = _pair(y_true, y_pred)
    return float(np.mean(true == pred))


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> np.ndarray:
    """Counts ``cm[i, j]`` of examples with true label ``labels[i]`` predicted as ``labels[j]``.

    ``labels`` fixes the order (default: every label seen, sorted); examples whose true or
    predicted label is not in ``labels`` are left out, as in scikit-learn.
    """
    true, pred = _pair(y_true, y_pred)
    labels = _resolve_labels(true, pred, labels)
    index = {label: i for i, label in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(true.tolist(), pred.tolist()):
        if t in index and p in index:
            cm[index[t], index[p]] += 1
    return cm


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den is 0 (scikit-learn's zero_division=0)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def _per_label_counts(
    true: np.ndarray, pred: np.ndarray, labels: list[Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, predicted positives and actual positives (support) for each label."""
    true_list, pred_list = true.tolist(), pred.tolist()
    tp = np.array([sum(t == p == lab for t, p in zip(true_list, pred_list)) for lab in labels])
    predicted = np.array([pred_list.count(lab) for lab in labels])
    support = np.array([true_list.count(lab) for lab in labels])
    return tp, predicted, support


def precision_recall_f1(
    y_true: Any, y_pred: Any, average: str | None = "macro", labels: Sequence[Any] | None = None
) -> dict[str, Any]:
    """Precision, recall and F1.

    ``average="macro"``: compute each per label, then take the unweighted mean (every class
    counts the same, however rare). ``average="micro"``: pool the counts of all labels first
    (equals accuracy when every label is included). ``average=None``: a dict per label with
    ``precision``, ``recall``, ``f1`` and ``support``. Undefined ratios (0/0) count as 0.
    """
    if average not in AVERAGES:
        raise ValueError(f"average={average!r} is not supported; use 'macro', 'micro' or None.")
    true, pred = _pair(y_true, y_pred)
    labels = _resolve_labels(true, pred, labels)
    tp, predicted, support = _per_label_counts(true, pred, labels)
    if average == "micro":
        precision = _safe_divide(tp.sum(), predicted.sum())
        recall = _safe_divide(tp.sum(), support.sum())
        f1 = _safe_divide(2 * precision * recall, precision + recall)
        return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    if average == "macro":
        return {"precision": float(precision.mean()), "recall": float(recall.mean()), "f1": float(f1.mean())}
    return {
        label: {
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for label, p, r, f, s in zip(labels, precision, recall, f1, support)
    }


def classification_report(
    y_true: Any,
    y_pred: Any,
    labels: Sequence[Any] | None = None,
    target_names: Sequence[str] | None = None,
    as_frame: bool = False,
) -> dict[str, Any] | Any:
    """Per-label precision/recall/F1/support plus accuracy, macro and weighted averages.

    ``target_names`` renames the labels (e.g. class ids to names). Returns a dict, or a
    pandas DataFrame (one row per label and average) with ``as_frame=True``.
    """
    true, pred = _pair(y_true, y_pred)
    labels = _resolve_labels(true, pred, labels)
    names = [str(label) for label in labels] if target_names is None else list(target_names)
    if len(names) != len(labels):
        raise ValueError(f"target_names has {len(names)} names but there are {len(labels)} labels.")
    per_label = precision_recall_f1(true, pred, average=None, labels=labels)
    report: dict[str, Any] = {name: per_label[label] for name, label in zip(names, labels)}
    rows = list(report.values())
    support = np.array([row["support"] for row in rows], dtype=np.float64)
    total = int(support.sum())
    macro = precision_recall_f1(true, pred, average="macro", labels=labels)
    report["accuracy"] = accuracy(true, pred)
    report["macro avg"] = {**macro, "support": total}
    weights = support / support.sum() if support.sum() else np.zeros_like(support)
    report["weighted avg"] = {
        key: float(sum(w * row[key] for w, row in zip(weights, rows)))
        for key in ("precision", "recall", "f1")
    } | {"support": total}
    if not as_frame:
        return report
    import pandas as pd

    table = {k: v for k, v in report.items() if k != "accuracy"}
    frame = pd.DataFrame(table).T[["precision", "recall", "f1", "support"]]
    frame["support"] = frame["support"].astype(int)
    frame.loc["accuracy"] = [np.nan, np.nan, report["accuracy"], total]
    return frame


# ----------------------------------------------------------------------------- sequence labelling
def _check_tag_sequences(true_tags: Any, pred_tags: Any) -> tuple[list[list[str]], list[list[str]]]:
    for name, value in (("true_tags", true_tags), ("pred_tags", pred_tags)):
        if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
            raise TypeError(f"{name} must be a list of sentences, each a list of tag strings.")
    if len(true_tags) != len(pred_tags):
        raise ValueError(
            f"true_tags has {len(true_tags)} sentences but pred_tags has {len(pred_tags)}; they must match."
        )
    if len(true_tags) == 0:
        raise ValueError("true_tags and pred_tags are empty; pass at least one sentence.")
    true_out, pred_out = [], []
    for i, (t, p) in enumerate(zip(true_tags, pred_tags)):
        if isinstance(t, str) or isinstance(p, str):
            raise TypeError(
                f"sentence {i}: expected a list of tags, got a string; wrap tags in a list per sentence."
            )
        t, p = list(t), list(p)
        if len(t) != len(p):
            raise ValueError(
                f"sentence {i}: {len(t)} true tags but {len(p)} predicted tags; they must match."
            )
        for tag in t + p:
            if not isinstance(tag, str):
                raise TypeError(f"sentence {i}: tags must be strings like 'B-PER', got {tag!r}.")
            if tag != "O" and not (len(tag) > 2 and tag[:2] in ("B-", "I-")):
                raise ValueError(
                    f"sentence {i}: tag {tag!r} is not IOB2 (expected 'O', 'B-TYPE' or 'I-TYPE')."
                )
        true_out.append(t)
        pred_out.append(p)
    return true_out, pred_out


def entity_scores(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Entity-level micro precision/recall/F1 and per-type scores (seqeval, strict IOB2).

    Returns ``{"precision", "recall", "f1", "per_type": {TYPE: {precision, recall, f1, support}}}``.
    An entity counts as found only when its type and exact span match.
    """
    from seqeval.metrics import classification_report as seqeval_report
    from seqeval.scheme import IOB2

    true_tags, pred_tags = _check_tag_sequences(true_tags, pred_tags)
    with warnings.catch_warnings():  # seqeval averages an empty list when no entity occurs at all
        warnings.simplefilter("ignore", RuntimeWarning)
        report = seqeval_report(
            true_tags, pred_tags, mode="strict", scheme=IOB2, output_dict=True, zero_division=0
        )
    averages = {"micro avg", "macro avg", "weighted avg"}
    per_type = {
        name: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "support": int(row["support"]),
        }
        for name, row in report.items()
        if name not in averages
    }
    micro = report.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    return {
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "per_type": per_type,
    }


def token_accuracy(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> float:
    """Fraction of tokens whose tag is right, 'O' included: flattering, since most tokens are 'O'."""
    true_tags, pred_tags = _check_tag_sequences(true_tags, pred_tags)
    flat_true = [tag for sentence in true_tags for tag in sentence]
    flat_pred = [tag for sentence in pred_tags for tag in sentence]
    if not flat_true:
        raise ValueError("every sentence is empty; token accuracy needs at least one token.")
    return float(np.mean(np.array(flat_true) == np.array(flat_pred)))


# ----------------------------------------------------------------------------- for the training loop
def classification_metrics(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``compute_metrics`` for sequence classification: accuracy and macro-F1 from logits.

    ``logits`` has shape ``(n_examples, num_labels)``; ``labels`` has shape ``(n_examples,)``.
    """
    logits, labels = np.asarray(logits), np.asarray(labels)
    if logits.ndim != 2 or labels.ndim != 1 or len(logits) != len(labels):
        raise ValueError(
            f"expected logits (n, num_labels) and labels (n,), got {logits.shape} and {labels.shape}."
        )
    pred = logits.argmax(axis=-1)
    return {
        "accuracy": accuracy(labels, pred),
        "macro_f1": precision_recall_f1(labels, pred, average="macro")["f1"],
    }


def ner_metrics(id2label: Mapping[int, str]) -> Callable[[np.ndarray, np.ndarray], dict[str, float]]:
    """A ``compute_metrics`` for token classification: entity P/R/F1 and token accuracy.

    Positions whose label is -100 (special tokens, non-first subwords, padding) are skipped,
    so tags are compared word by word.
    """
    id2label = {int(k): v for k, v in dict(id2label).items()}
    if not id2label:
        raise ValueError("id2label is empty; pass model.config.id2label.")
    if set(id2label) != set(range(len(id2label))):
        raise ValueError(f"id2label must name the ids 0..{len(id2label) - 1}, got keys {sorted(id2label)}.")

    def compute(logits: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        logits, labels = np.asarray(logits), np.asarray(labels)
        if logits.ndim != 3 or labels.shape != logits.shape[:2]:
            raise ValueError(
                f"expected logits (n, seq, num_labels) and labels (n, seq), got {logits.shape} and {labels.shape}."
            )
        if logits.shape[-1] != len(id2label):
            raise ValueError(
                f"logits have {logits.shape[-1]} classes but id2label names {len(id2label)}; pass the "
                "id2label of the model that produced the logits (model.config.id2label)."
            )
        unknown = sorted(set(np.unique(labels[labels != -100]).tolist()) - set(id2label))
        if unknown:
            raise ValueError(
                f"labels holds ids {unknown[:5]} that id2label does not name (0..{len(id2label) - 1}, or -100 "
                "to ignore a position); the data and the model use different label lists."
            )
        pred = logits.argmax(axis=-1)
        true_tags, pred_tags = [], []
        for row_pred, row_true in zip(pred, labels):
            keep = row_true != -100
            true_tags.append([id2label[int(i)] for i in row_true[keep]])
            pred_tags.append([id2label[int(i)] for i in row_pred[keep]])
        scores = entity_scores(true_tags, pred_tags)
        return {
            "precision": scores["precision"],
            "recall": scores["recall"],
            "f1": scores["f1"],
            "token_accuracy": token_accuracy(true_tags, pred_tags),
        }

    return compute
