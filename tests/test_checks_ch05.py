"""Chapter 5 checks: the reference passes, a stub fails, plausible wrong versions fail with advice."""

from __future__ import annotations

import pytest
from seqeval.metrics import f1_score

from sft_helpers import checks
from sft_helpers.checks.core import allow_reference
from sft_helpers.spans import decode_iob2
from sft_helpers.tokenization import align_labels


# ----------------------------------------------------------------------------- learner versions
def good_align(word_ids, word_labels, label_all_subwords=False, b_to_i=None):
    out, previous = [], None
    for wid in word_ids:
        if wid is None:
            out.append(-100)
        elif wid != previous:
            out.append(word_labels[wid])
        elif label_all_subwords:
            out.append(b_to_i.get(word_labels[wid], word_labels[wid]))
        else:
            out.append(-100)
        previous = wid
    return out


def align_all_always(word_ids, word_labels, label_all_subwords=False, b_to_i=None):
    return [-100 if w is None else word_labels[w] for w in word_ids]


def align_no_special_mask(word_ids, word_labels, label_all_subwords=False, b_to_i=None):
    return [
        0 if x == -100 and w is None else x
        for w, x in zip(word_ids, good_align(word_ids, word_labels, label_all_subwords, b_to_i))
    ]


def align_copy_b(word_ids, word_labels, label_all_subwords=False, b_to_i=None):
    return good_align(word_ids, word_labels, label_all_subwords, {})


def align_stub(word_ids, word_labels, label_all_subwords=False, b_to_i=None):
    raise NotImplementedError("walk through word_ids")


def good_decode(tags):
    out, current = [], None
    for i, tag in enumerate(list(tags) + ["O"]):
        kind = None if tag == "O" else tag[2:]
        if tag.startswith("I-") and current and current[0] == kind:
            continue
        if current:
            out.append((current[0], current[1], i))
        current = (kind, i) if kind else None
    return out


def decode_inclusive(tags):
    return [(k, s, e - 1) for k, s, e in good_decode(tags)]


def decode_strict(tags):
    """Drops stray I- tags instead of starting an entity."""
    out, current = [], None
    for i, tag in enumerate(list(tags) + ["O"]):
        if tag.startswith("I-") and current and current[0] == tag[2:]:
            continue
        if current:
            out.append((current[0], current[1], i))
        current = (tag[2:], i) if tag.startswith("B-") else None
    return out


def decode_stub(tags):
    raise NotImplementedError


def good_f1(true_tags, pred_tags):
    t = {(i, *e) for i, s in enumerate(true_tags) for e in good_decode(s)}
    p = {(i, *e) for i, s in enumerate(pred_tags) for e in good_decode(s)}
    tp = len(t & p)
    if tp == 0:
        return 0.0
    precision, recall = tp / len(p), tp / len(t)
    return 2 * precision * recall / (precision + recall)


def f1_token_level(true_tags, pred_tags):
    pairs = [(a, b) for ts, ps in zip(true_tags, pred_tags) for a, b in zip(ts, ps)]
    tp = sum(a == b != "O" for a, b in pairs)
    n_true, n_pred = sum(a != "O" for a, _ in pairs), sum(b != "O" for _, b in pairs)
    return 0.0 if tp == 0 else 2 * tp / (n_true + n_pred)


def f1_pooled_sentences(true_tags, pred_tags):
    """Forgets the sentence index: an entity at (0, 1) in one sentence matches one in another."""
    t = {e for s in true_tags for e in good_decode(s)}
    p = {e for s in pred_tags for e in good_decode(s)}
    tp = len(t & p)
    return 0.0 if tp == 0 else 2 * tp / (len(t) + len(p))


def f1_calls_seqeval(true_tags, pred_tags):
    return f1_score(true_tags, pred_tags)


# ----------------------------------------------------------------------------- tests
def test_references_and_good_versions_pass():
    with allow_reference():
        assert checks.check_align_labels(
            lambda ids, labels, every=False, m=None: align_labels(ids, labels, every, m)
        ).passed
        assert checks.check_decode_iob2(decode_iob2).passed
    for check, fn in [
        (checks.check_align_labels, good_align),
        (checks.check_decode_iob2, good_decode),
        (checks.check_entity_f1, good_f1),
    ]:
        result = check(fn)
        assert result.passed, result.message


@pytest.mark.parametrize(
    ("check", "fn", "advice"),
    [
        (checks.check_align_labels, align_stub, "not implemented"),
        (checks.check_align_labels, align_all_always, "only the first subword"),
        (checks.check_align_labels, align_no_special_mask, "special tokens"),
        (checks.check_align_labels, align_copy_b, "I-X"),
        (checks.check_decode_iob2, decode_stub, "not implemented"),
        (checks.check_decode_iob2, decode_inclusive, "exclusive"),
        (checks.check_decode_iob2, decode_strict, "start a new X entity"),
        (checks.check_entity_f1, f1_token_level, "token-level"),
        (checks.check_entity_f1, f1_pooled_sentences, "sentence index"),
        (checks.check_entity_f1, f1_calls_seqeval, "reference"),
    ],
)
def test_wrong_versions_fail_with_advice(check, fn, advice):
    result = check(fn)
    assert not result.passed
    assert advice.lower() in (result.message + " " + result.hint).lower(), (result.message, result.hint)


def test_library_functions_are_refused():
    assert not checks.check_align_labels(align_labels).passed
    assert not checks.check_decode_iob2(decode_iob2).passed


def test_the_alignment_feeds_the_chapter_only_once_it_passes(capsys):
    """Chapter 5 tokenizes its data with the learner's align_labels when its check passed, else the reference."""
    from sft_helpers import tokenization

    good = checks.check_align_labels(good_align)
    assert checks.learner_or_reference(good, good_align, tokenization.align_labels) is good_align
    stub = checks.check_align_labels(align_stub)
    assert not stub.passed
    assert (
        checks.learner_or_reference(stub, align_stub, tokenization.align_labels) is tokenization.align_labels
    )
    assert "has not passed its check yet" in capsys.readouterr().out


def test_the_align_hint_names_the_idea_not_the_code():
    result = checks.check_align_labels(lambda word_ids, labels, every=False, b_to_i=None: [0] * len(word_ids))
    assert not result.passed
    assert "b_to_i.get" not in result.hint and "->" not in result.hint
