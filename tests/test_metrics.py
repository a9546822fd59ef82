"""sft_helpers.metrics against scikit-learn and seqeval, plus its input checks."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics as skm
import torch
from seqeval.metrics import f1_score as seqeval_f1
from seqeval.scheme import IOB2

from sft_helpers import metrics


def _random_labels(seed: int, n: int = 200, k: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, size=n)
    # predictions right 60% of the time, so every cell of the confusion matrix is used
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, size=n))
    return y_true, y_pred


@pytest.mark.parametrize("seed", range(5))
def test_classification_metrics_match_sklearn(seed: int) -> None:
    y_true, y_pred = _random_labels(seed)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred), skm.confusion_matrix(y_true, y_pred)
    )
    for average in ("macro", "micro"):
        ours = metrics.precision_recall_f1(y_true, y_pred, average=average)
        p, r, f, _ = skm.precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
        assert (ours["precision"], ours["recall"], ours["f1"]) == pytest.approx((p, r, f))
    per = metrics.precision_recall_f1(y_true, y_pred, average=None)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, average=None, zero_division=0)
    for i, label in enumerate(sorted(per)):
        assert (per[label]["precision"], per[label]["recall"], per[label]["f1"]) == pytest.approx(
            (p[i], r[i], f[i])
        )
        assert per[label]["support"] == s[i]


def test_macro_differs_from_micro_on_imbalanced_data() -> None:
    y_true = [0] * 90 + [1] * 10
    y_pred = [0] * 100  # the majority class everywhere
    macro = metrics.precision_recall_f1(y_true, y_pred, average="macro")["f1"]
    micro = metrics.precision_recall_f1(y_true, y_pred, average="micro")["f1"]
    assert micro == pytest.approx(0.9)
    assert macro == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert macro < 0.5


def test_labels_argument_orders_and_includes_unseen_labels() -> None:
    y_true, y_pred = ["neg", "pos", "pos"], ["neg", "neg", "pos"]
    labels = ["pos", "neg", "neutral"]
    np.testing.assert_array_equal(
        metrics.confusion_matrix(y_true, y_pred, labels=labels),
        skm.confusion_matrix(y_true, y_pred, labels=labels),
    )
    ours = metrics.precision_recall_f1(y_true, y_pred, labels=labels)["f1"]
    assert ours == pytest.approx(
        skm.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )


def test_classification_report_matches_sklearn() -> None:
    y_true, y_pred = _random_labels(7, k=3)
    names = ["negative", "neutral", "positive"]
    ours = metrics.classification_report(y_true, y_pred, target_names=names)
    theirs = skm.classification_report(y_true, y_pred, target_names=names, output_dict=True, zero_division=0)
    assert ours["accuracy"] == pytest.approx(theirs["accuracy"])
    for row in names + ["macro avg", "weighted avg"]:
        assert ours[row]["precision"] == pytest.approx(theirs[row]["precision"])
        assert ours[row]["f1"] == pytest.approx(theirs[row]["f1-score"])
        assert ours[row]["support"] == theirs[row]["support"]
    frame = metrics.classification_report(y_true, y_pred, target_names=names, as_frame=True)
    assert list(frame.index) == names + ["macro avg", "weighted avg", "accuracy"]
    assert frame.loc["negative", "support"] == theirs["negative"]["support"]


def test_accepts_tensors() -> None:
    y_true, y_pred = _random_labels(3)
    assert metrics.accuracy(torch.tensor(y_true), torch.tensor(y_pred)) == metrics.accuracy(y_true, y_pred)


@pytest.mark.parametrize(
    ("y_true", "y_pred", "error", "match"),
    [
        ([0, 1], [0], ValueError, "y_pred has 1"),
        ([], [], ValueError, "empty"),
        ([[0, 1]], [[0, 1]], ValueError, "1-D"),
        ([0.5, 1.0], [0, 1], ValueError, "non-integer"),
        (["a", "b"], [0, 1], TypeError, "mix"),
        ("ab", "ab", TypeError, "sequence of labels"),
    ],
)
def test_bad_classification_input(y_true, y_pred, error, match) -> None:
    with pytest.raises(error, match=match):
        metrics.precision_recall_f1(y_true, y_pred)


def test_bad_average() -> None:
    with pytest.raises(ValueError, match="average='weighted'"):
        metrics.precision_recall_f1([0, 1], [0, 1], average="weighted")


TRUE = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "I-ORG", "O", "B-MISC"]]
PRED = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "I-ORG", "I-ORG", "O", "B-MISC"]]


def test_entity_scores_match_seqeval_strict() -> None:
    scores = metrics.entity_scores(TRUE, PRED)
    assert scores["f1"] == pytest.approx(seqeval_f1(TRUE, PRED, mode="strict", scheme=IOB2))
    # strict: PER and MISC are right, LOC predicted as ORG, the ORG starting with I- is not an entity
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 4)
    assert scores["per_type"]["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert scores["per_type"]["LOC"]["recall"] == 0.0
    assert set(scores["per_type"]) == {"PER", "LOC", "ORG", "MISC"}


def test_token_accuracy_flatters() -> None:
    acc = metrics.token_accuracy(TRUE, PRED)
    assert acc == pytest.approx(7 / 9)
    assert acc > metrics.entity_scores(TRUE, PRED)["f1"]


@pytest.mark.parametrize(
    ("true", "pred", "error", "match"),
    [
        ([["O"]], [["O"], ["O"]], ValueError, "sentences"),
        ([["O", "B-PER"]], [["O"]], ValueError, "sentence 0"),
        ([["O", "PER"]], [["O", "O"]], ValueError, "not IOB2"),
        (["O"], ["O"], TypeError, "string"),
        ([], [], ValueError, "empty"),
        ([[1, 2]], [[1, 2]], TypeError, "strings"),
    ],
)
def test_bad_tag_input(true, pred, error, match) -> None:
    with pytest.raises(error, match=match):
        metrics.entity_scores(true, pred)


def test_compute_metrics_helpers() -> None:
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]])
    scores = metrics.classification_metrics(logits, np.array([0, 1, 1]))
    assert scores["accuracy"] == pytest.approx(2 / 3)
    assert scores["macro_f1"] == pytest.approx(skm.f1_score([0, 1, 1], [0, 1, 0], average="macro"))

    id2label = {0: "O", 1: "B-PER", 2: "I-PER"}
    compute = metrics.ner_metrics(id2label)
    labels = np.array([[-100, 1, 2, 0, -100], [-100, 0, 1, -100, -100]])
    logits = np.eye(3)[np.array([[0, 1, 2, 0, 0], [0, 0, 0, 1, 1]])]  # (2, 5, 3), one-hot predictions
    out = compute(logits, labels)
    assert out["precision"] == pytest.approx(1.0)
    assert out["recall"] == pytest.approx(0.5)
    assert out["token_accuracy"] == pytest.approx(4 / 5)
