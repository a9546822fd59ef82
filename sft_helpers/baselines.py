"""Simple baselines that fine-tuning has to beat: majority class, bag of words, memorising tagger.

Each function trains on the training split only and returns its scores as a plain dict,
so a chapter can print them next to the fine-tuned model's.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from sft_helpers.data.readers import to_iob2


def _check_pairs(name_x: str, xs: Sequence, name_y: str, ys: Sequence) -> None:
    if len(xs) == 0:
        raise ValueError(f"{name_x} is empty: pass at least one example.")
    if len(xs) != len(ys):
        raise ValueError(
            f"{name_x} has {len(xs)} items but {name_y} has {len(ys)}: pass one label per example."
        )


def majority_class(train_labels: Sequence[Any], test_labels: Sequence[Any]) -> dict[str, Any]:
    """Always predict the most frequent training label; returns its accuracy on the test labels."""
    if len(train_labels) == 0 or len(test_labels) == 0:
        raise ValueError("train_labels and test_labels must both be non-empty.")
    label, _ = Counter(train_labels).most_common(1)[0]
    accuracy = sum(y == label for y in test_labels) / len(test_labels)
    return {"label": label, "accuracy": accuracy}


def bag_of_words(
    train_texts: Sequence[str],
    train_labels: Sequence[Any],
    test_texts: Sequence[str],
    test_labels: Sequence[Any],
    ngram_range: tuple[int, int] = (1, 1),
    seed: int = 0,
) -> dict[str, Any]:
    """Logistic regression on lowercased word counts (scikit-learn).

    Returns ``{"accuracy", "macro_f1", "predictions"}`` for the test texts; ``ngram_range``
    (1, 2) adds word pairs, which catch some negations ("not good").
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from threadpoolctl import threadpool_limits

    _check_pairs("train_texts", train_texts, "train_labels", train_labels)
    _check_pairs("test_texts", test_texts, "test_labels", test_labels)
    vectorizer = CountVectorizer(lowercase=True, ngram_range=ngram_range, token_pattern=r"(?u)\b\w[\w'-]*\b")
    x_train = vectorizer.fit_transform(list(train_texts))
    model = LogisticRegression(solver="newton-cg", max_iter=1000, C=1.0, random_state=seed)
    # One BLAS thread: on a small sparse problem more threads only fight each other (10x slower).
    with threadpool_limits(limits=1):
        model.fit(x_train, list(train_labels))
    predictions = model.predict(vectorizer.transform(list(test_texts))).tolist()
    return {
        "accuracy": float(accuracy_score(list(test_labels), predictions)),
        "macro_f1": float(f1_score(list(test_labels), predictions, average="macro")),
        "predictions": predictions,
    }


def memorising_tagger(
    train_tokens: Sequence[Sequence[str]],
    train_tags: Sequence[Sequence[str]],
    test_tokens: Sequence[Sequence[str]],
    test_tags: Sequence[Sequence[str]],
) -> dict[str, Any]:
    """Give each word its most frequent training tag (``O`` for unseen words); seqeval scores.

    Tags are IOB2 strings. The predicted sequence is repaired to valid IOB2 (an ``I-X`` that
    does not continue an entity of type X becomes ``B-X``) before scoring. Returns
    ``{"f1", "precision", "recall", "predictions"}`` (entity level, micro-averaged).
    """
    from seqeval.metrics import f1_score, precision_score, recall_score

    _check_pairs("train_tokens", train_tokens, "train_tags", train_tags)
    _check_pairs("test_tokens", test_tokens, "test_tags", test_tags)
    counts: dict[str, Counter] = defaultdict(Counter)
    for i, (words, tags) in enumerate(zip(train_tokens, train_tags)):
        if len(words) != len(tags):
            raise ValueError(f"train sentence {i} has {len(words)} tokens but {len(tags)} tags.")
        for word, tag in zip(words, tags):
            counts[word][tag] += 1
    best = {word: c.most_common(1)[0][0] for word, c in counts.items()}
    predictions = []
    for i, (words, tags) in enumerate(zip(test_tokens, test_tags)):
        if len(words) != len(tags):
            raise ValueError(f"test sentence {i} has {len(words)} tokens but {len(tags)} tags.")
        predictions.append(repair_iob2([best.get(w, "O") for w in words]))
    gold = [list(t) for t in test_tags]
    return {
        "f1": float(f1_score(gold, predictions, zero_division=0)),
        "precision": float(precision_score(gold, predictions, zero_division=0)),
        "recall": float(recall_score(gold, predictions, zero_division=0)),
        "predictions": predictions,
    }


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """Turn any ``I-X`` that does not follow ``B-X``/``I-X`` into ``B-X`` (IOB1 -> IOB2, too)."""
    return to_iob2(tags)
