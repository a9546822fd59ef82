"""Chapter 8 checks: the reference passes, a stub fails, plausible wrong versions fail with advice."""

from __future__ import annotations

import numpy as np

from sft_helpers import checks
from sft_helpers.checks.core import allow_reference
from sft_helpers.qa import best_span, char_to_token_span


# ----------------------------------------------------------------------------- char_to_token_span
def good_span(offsets, sequence_ids, start_char, end_char):
    ctx = [i for i, s in enumerate(sequence_ids) if s == 1]
    if not ctx or offsets[ctx[0]][0] > start_char or offsets[ctx[-1]][1] < end_char:
        return 0, 0
    i = ctx[0]
    while offsets[i][0] <= start_char and i <= ctx[-1]:  # the Hugging Face course's loop
        i += 1
    j = ctx[-1]
    while offsets[j][1] >= end_char and j >= ctx[0]:
        j -= 1
    return i - 1, j + 1


def span_exclusive_end(offsets, sequence_ids, start_char, end_char):
    s, e = good_span(offsets, sequence_ids, start_char, end_char)
    return (s, e + 1) if (s, e) != (0, 0) else (0, 0)


def span_clipped(offsets, sequence_ids, start_char, end_char):
    ctx = [i for i, s in enumerate(sequence_ids) if s == 1]
    inside = [i for i in ctx if offsets[i][1] > start_char and offsets[i][0] < end_char]
    return (inside[0], inside[-1]) if inside else (0, 0)


def span_all_tokens(offsets, sequence_ids, start_char, end_char):
    starts = [i for i, o in enumerate(offsets) if tuple(o) != (0, 0) and o[0] <= start_char < o[1]]
    ends = [i for i, o in enumerate(offsets) if tuple(o) != (0, 0) and o[0] < end_char <= o[1]]
    return (starts[0], ends[0]) if starts and ends else (0, 0)


def span_stub(offsets, sequence_ids, start_char, end_char):
    raise NotImplementedError


def span_calls_reference(offsets, sequence_ids, start_char, end_char):
    return char_to_token_span(offsets, sequence_ids, start_char, end_char)


def test_char_to_token_span_reference_and_correct_versions_pass() -> None:
    with allow_reference():
        assert checks.check_char_to_token_span(char_to_token_span).passed
    result = checks.check_char_to_token_span(good_span)
    assert result.passed, result


def test_char_to_token_span_wrong_versions_fail_with_advice() -> None:
    r = checks.check_char_to_token_span(span_exclusive_end)
    assert not r.passed and "inclusive" in r.hint
    r = checks.check_char_to_token_span(span_clipped)
    assert not r.passed and "partly inside" in r.hint
    r = checks.check_char_to_token_span(span_all_tokens)
    assert not r.passed
    r = checks.check_char_to_token_span(span_stub)
    assert not r.passed and "not implemented" in r.message
    assert not checks.check_char_to_token_span(span_calls_reference).passed


# ----------------------------------------------------------------------------- best_span
def good_best(start_logits, end_logits, context_mask, max_answer_length):
    s = np.array(start_logits)
    e = np.array(end_logits)
    m = np.array(context_mask)
    best = None
    for a in np.flatnonzero(m):
        for b in range(a, min(len(s), a + max_answer_length)):
            if m[b] and (best is None or s[a] + e[b] > best[2]):
                best = (int(a), int(b), float(s[a] + e[b]))
    return best


def best_independent(start_logits, end_logits, context_mask, max_answer_length):
    m = np.array(context_mask)
    s = np.where(m, start_logits, -np.inf)
    e = np.where(m, end_logits, -np.inf)
    a, b = int(s.argmax()), int(e.argmax())
    return a, b, float(s[a] + e[b])


def best_length_off_by_one(start_logits, end_logits, context_mask, max_answer_length):
    return good_best(start_logits, end_logits, context_mask, max_answer_length + 1)


def best_no_mask(start_logits, end_logits, context_mask, max_answer_length):
    return good_best(start_logits, end_logits, [True] * len(context_mask), max_answer_length)


def test_best_span_reference_and_correct_versions_pass() -> None:
    with allow_reference():
        assert checks.check_best_span(best_span).passed
    assert checks.check_best_span(good_best).passed


def test_best_span_wrong_versions_fail_with_advice() -> None:
    r = checks.check_best_span(best_independent)
    assert not r.passed and "before the start" in r.hint
    r = checks.check_best_span(best_length_off_by_one)
    assert not r.passed and "max_answer_length - 1" in r.hint
    r = checks.check_best_span(best_no_mask)
    assert not r.passed and "context tokens" in r.hint
    assert not checks.check_best_span(lambda *a: (0, 0)).passed
