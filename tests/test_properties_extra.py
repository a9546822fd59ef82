"""Property tests (hypothesis) for attention and the metrics: random and malformed inputs.

Attention: any shapes and boolean masks give finite outputs that match PyTorch's own
``F.scaled_dot_product_attention`` wherever a row has something to attend to, and exact
zeros where it has nothing; masks or tensors of the wrong kind raise TypeError/ValueError.
Metrics: random labels give values in [0, 1] that agree with scikit-learn, random IOB2 tags
give entity scores that agree with an independent strict span count; malformed input raises
TypeError/ValueError and nothing else.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm
from torch.nn import functional as F

from sft_helpers import attention, metrics

# ----------------------------------------------------------------------------- attention


@st.composite
def attention_inputs(draw):
    """q, k, v with 0-2 leading dims and a boolean mask whose every dim is 1 or the full size."""
    lead = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    seq_q, seq_k = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    d, d_v = draw(st.integers(1, 8)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    g = torch.Generator().manual_seed(seed)
    scale = draw(st.sampled_from([0.1, 1.0, 30.0]))  # large scores test the softmax's stability
    q = torch.randn(*lead, seq_q, d, generator=g, dtype=torch.float64) * scale
    k = torch.randn(*lead, seq_k, d, generator=g, dtype=torch.float64) * scale
    v = torch.randn(*lead, seq_k, d_v, generator=g, dtype=torch.float64)
    full = (*lead, seq_q, seq_k)
    mask = None
    if draw(st.booleans()):
        ndim = draw(st.integers(2, len(full)))  # a mask may have fewer leading dims
        shape = [n if draw(st.booleans()) else 1 for n in full[len(full) - ndim :]]
        p_allow = draw(st.sampled_from([0.0, 0.3, 0.8, 1.0]))
        mask = torch.rand(*shape, generator=g) < p_allow
    return q, k, v, mask


@settings(max_examples=250)
@given(attention_inputs())
def test_attention_is_finite_matches_torch_and_zeroes_fully_masked_rows(inputs) -> None:
    q, k, v, mask = inputs
    out, weights = attention.scaled_dot_product_attention(q, k, v, mask)
    assert out.shape == (*q.shape[:-1], v.shape[-1]) and weights.shape == (*q.shape[:-1], k.shape[-2])
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    assert (weights >= 0).all()
    allowed = torch.ones(weights.shape, dtype=torch.bool) if mask is None else mask.expand(weights.shape)
    has_any = allowed.any(dim=-1)  # (..., seq_q): rows with at least one key to look at
    torch.testing.assert_close(weights.sum(-1)[has_any], torch.ones_like(weights.sum(-1)[has_any]))
    assert (weights[~allowed] == 0).all()
    assert (out[~has_any] == 0).all()  # a fully masked row: zero output, not NaN
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out[has_any], expected[has_any])


@st.composite
def bad_masks(draw):
    seq_q, seq_k = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    q, k, v = torch.randn(2, seq_q, 4), torch.randn(2, seq_k, 4), torch.randn(2, seq_k, 3)
    kind = draw(st.sampled_from(["shape", "dtype", "type"]))
    if kind == "shape":  # some dim is neither 1 nor the scores' size
        shape = [draw(st.integers(1, 7)) for _ in range(draw(st.integers(1, 4)))]
        full = (2, seq_q, seq_k)
        try:
            ok = torch.broadcast_shapes(tuple(shape), full) == full
        except RuntimeError:
            ok = False
        if ok:
            shape[-1] = seq_k + 1
        return q, k, v, torch.ones(shape, dtype=torch.bool), ValueError
    if kind == "dtype":
        dtype = draw(st.sampled_from([torch.float32, torch.int64, torch.uint8]))
        return q, k, v, torch.ones(2, seq_q, seq_k, dtype=dtype), TypeError
    return q, k, v, draw(st.sampled_from([[[True]], 1, "mask", np.ones((seq_q, seq_k), bool)])), TypeError


@settings(max_examples=150)
@given(bad_masks())
def test_bad_masks_raise_a_clear_error(case) -> None:
    q, k, v, mask, error = case
    with pytest.raises(error, match="mask"):
        attention.scaled_dot_product_attention(q, k, v, mask)


@settings(max_examples=100)
@given(
    st.lists(st.integers(1, 4), min_size=0, max_size=4),
    st.lists(st.integers(1, 4), min_size=0, max_size=4),
    st.lists(st.integers(1, 4), min_size=0, max_size=4),
)
def test_tensors_of_any_shape_give_a_result_or_a_clear_error(q_shape, k_shape, v_shape) -> None:
    q, k, v = torch.randn(q_shape), torch.randn(k_shape), torch.randn(v_shape)
    try:
        out, weights = attention.scaled_dot_product_attention(q, k, v)
    except ValueError as error:
        assert any(name in str(error) for name in ("q", "k", "v"))
        return
    # accepted: then it is what PyTorch computes
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    assert weights.shape[-1] == k.shape[-2]


# ----------------------------------------------------------------------------- classification metrics
labels_pairs = st.integers(1, 40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
    )
)


@settings(max_examples=150)
@given(labels_pairs)
def test_classification_metrics_agree_with_sklearn(pair) -> None:
    y_true, y_pred = pair
    labels = sorted(set(y_true) | set(y_pred))
    acc = metrics.accuracy(y_true, y_pred)
    assert 0.0 <= acc <= 1.0 and acc == pytest.approx(skm.accuracy_score(y_true, y_pred))
    for average in ("macro", "micro"):
        ours = metrics.precision_recall_f1(y_true, y_pred, average=average)
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, average=average, labels=labels, zero_division=0
        )
        assert all(0.0 <= ours[key] <= 1.0 for key in ("precision", "recall", "f1"))
        assert (ours["precision"], ours["recall"], ours["f1"]) == pytest.approx((p, r, f))
    with warnings.catch_warnings():  # scikit-learn warns when only one label occurs; ours is the same
        warnings.simplefilter("ignore", UserWarning)
        reference = skm.confusion_matrix(y_true, y_pred, labels=labels)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred), reference)


garbage = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=3),
    st.lists(
        st.one_of(st.integers(0, 3), st.floats(allow_nan=True), st.text(max_size=2), st.none()), max_size=5
    ),
    st.lists(st.lists(st.integers(0, 2), max_size=2), max_size=3),
)


@settings(max_examples=200)
@given(garbage, garbage)
def test_classification_metrics_on_garbage_give_a_result_or_a_clear_error(y_true, y_pred) -> None:
    for fn in (metrics.accuracy, metrics.precision_recall_f1, metrics.confusion_matrix):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # a warning would mean a value was silently mangled
                result = fn(y_true, y_pred)
        except (TypeError, ValueError):
            continue
        # accepted: the inputs were equal-length, non-empty label sequences of one kind
        assert len(y_true) == len(y_pred) > 0
        if fn is metrics.accuracy:
            assert 0.0 <= result <= 1.0


@settings(max_examples=100)
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 2**16))
def test_classification_metrics_from_logits(n, k, seed) -> None:
    rng = np.random.default_rng(seed)
    logits, labels = rng.normal(size=(n, k)), rng.integers(0, k, size=n)
    scores = metrics.classification_metrics(logits, labels)
    assert scores["accuracy"] == pytest.approx(skm.accuracy_score(labels, logits.argmax(-1)))
    assert 0.0 <= scores["macro_f1"] <= 1.0
    with pytest.raises(ValueError, match="logits"):
        metrics.classification_metrics(logits[:, None], labels)
    with pytest.raises(ValueError, match="logits"):
        metrics.classification_metrics(logits, np.append(labels, 0))


# ----------------------------------------------------------------------------- entity scores
TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def strict_entities(tags: list[str]) -> set[tuple[int, int, str]]:
    """(start, end, type) of every B-X I-X* run: strict IOB2, where a stray I-X starts nothing."""
    found, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        if start is not None and tag != f"I-{kind}":
            found.add((start, i, kind))
            start = kind = None
        if tag.startswith("B-"):
            start, kind = i, tag[2:]
    return found


sentences = st.lists(st.lists(st.sampled_from(TAGS), min_size=0, max_size=10), min_size=1, max_size=6)


@settings(max_examples=200)
@given(st.data(), sentences)
def test_entity_scores_agree_with_a_strict_span_count(data, true_tags) -> None:
    pred_tags = [
        data.draw(st.lists(st.sampled_from(TAGS), min_size=len(t), max_size=len(t))) for t in true_tags
    ]
    scores = metrics.entity_scores(true_tags, pred_tags)
    true_set = {(s, *e) for s, sent in enumerate(true_tags) for e in strict_entities(sent)}
    pred_set = {(s, *e) for s, sent in enumerate(pred_tags) for e in strict_entities(sent)}
    hits = len(true_set & pred_set)
    precision = hits / len(pred_set) if pred_set else 0.0
    recall = hits / len(true_set) if true_set else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    assert (scores["precision"], scores["recall"], scores["f1"]) == pytest.approx((precision, recall, f1))
    assert all(0.0 <= scores[k] <= 1.0 for k in ("precision", "recall", "f1"))
    if any(true_tags):
        flat_t = [t for s in true_tags for t in s]
        flat_p = [t for s in pred_tags for t in s]
        expected = sum(a == b for a, b in zip(flat_t, flat_p)) / len(flat_t)
        assert metrics.token_accuracy(true_tags, pred_tags) == pytest.approx(expected)


bad_tag = st.one_of(
    st.sampled_from(["X-PER", "B-", "I-", "", "b-PER", "PER", "o", "B_PER"]), st.integers(), st.none()
)


@settings(max_examples=150)
@given(sentences, st.data())
def test_malformed_tags_raise_a_clear_error(true_tags, data) -> None:
    kind = data.draw(st.sampled_from(["bad tag", "length", "count", "string"]))
    pred_tags = [list(t) for t in true_tags]
    error: type[Exception] = ValueError
    if kind == "bad tag":
        row = data.draw(st.integers(0, len(pred_tags) - 1))
        tag = data.draw(bad_tag)
        pred_tags[row].append(tag)
        true_tags = [list(t) for t in true_tags]
        true_tags[row].append("O")
        error = ValueError if isinstance(tag, str) else TypeError
    elif kind == "length":
        row = data.draw(st.integers(0, len(pred_tags) - 1))
        pred_tags[row].append("O")
    elif kind == "count":
        pred_tags.append(["O"])
    else:
        pred_tags[0] = " ".join(pred_tags[0]) or "O"
        error = TypeError
    for fn in (metrics.entity_scores, metrics.token_accuracy):
        with pytest.raises(error):
            fn(true_tags, pred_tags)
