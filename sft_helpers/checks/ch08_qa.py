"""Exercise checks of chapter 8 (extractive QA): character span -> token span, the best-span search.

Each check runs the learner's function on a small readable case first, then on fresh random
windows (a question, a context cut by a window, words split into one to three pieces,
answers inside, across the window's edge, or outside it) and random logits, comparing with
the course's reference (``sft_helpers.qa.char_to_token_span``, ``sft_helpers.qa.best_span``).
"""

from __future__ import annotations

import random
from typing import Any

from sft_helpers.checks import references as _ref
from sft_helpers.checks.core import (
    call_learner,
    check,
    compare_types,
    compare_values,
    diagnose,
    fail_if,
    fresh_seed,
    passed,
)
from sft_helpers.qa import CLS_INDEX

__all__ = ["check_char_to_token_span", "check_best_span"]


# ----------------------------------------------------------------------------------------------
# char_to_token_span
# ----------------------------------------------------------------------------------------------
def _pieces(rng: random.Random, n_words: int, start: int = 0) -> tuple[list[tuple[int, int]], list[int]]:
    """Token offsets of ``n_words`` words of 2-9 letters split into 1-3 pieces; the word index of each token."""
    offsets, word_of, pos = [], [], start
    for w in range(n_words):
        length = rng.randint(2, 9)
        cuts = sorted(rng.sample(range(1, length), k=min(length - 1, rng.choice([0, 0, 1, 2]))))
        edges = [0, *cuts, length]
        for a, b in zip(edges, edges[1:]):
            offsets.append((pos + a, pos + b))
            word_of.append(w)
        pos += length + 1  # a space after each word
    return offsets, word_of


def _random_window(rng: random.Random) -> dict[str, Any]:
    """One window: [CLS] question [SEP] part of the context [SEP] padding, and an answer's characters."""
    q_offsets, _ = _pieces(rng, rng.randint(2, 6))
    c_offsets, word_of = _pieces(rng, rng.randint(6, 25))
    lo = rng.randrange(0, max(1, len(c_offsets) // 2))
    hi = rng.randint(lo + 1, len(c_offsets))
    window = c_offsets[lo:hi]
    offsets = [(0, 0), *q_offsets, (0, 0), *window, (0, 0)] + [(0, 0)] * rng.randint(0, 3)
    sequence_ids = [None] + [0] * len(q_offsets) + [None] + [1] * len(window) + [None]
    sequence_ids += [None] * (len(offsets) - len(sequence_ids))
    n_words = word_of[-1] + 1
    roll = rng.random()
    if roll < 0.7:  # inside the window
        w0, w1 = word_of[lo], word_of[hi - 1]
    elif roll < 0.9:  # across an edge of the window, or outside it
        w0, w1 = 0, n_words - 1
    else:
        w0 = w1 = rng.randrange(n_words)
    a = rng.randint(w0, w1)
    b = min(n_words - 1, a + rng.choice([0, 0, 1, 2]))
    first = word_of.index(a)
    last = len(word_of) - 1 - word_of[::-1].index(b)
    return {
        "offsets": offsets,
        "sequence_ids": sequence_ids,
        "start_char": c_offsets[first][0],
        "end_char": c_offsets[last][1],
    }


def _clipped(case: dict[str, Any]) -> tuple[int, int]:
    """The mistake of returning whatever part of the answer is in the window."""
    ctx = [i for i, s in enumerate(case["sequence_ids"]) if s == 1]
    offsets, a, b = case["offsets"], case["start_char"], case["end_char"]
    inside = [i for i in ctx if offsets[i][1] > a and offsets[i][0] < b]
    return (inside[0], inside[-1]) if inside else (CLS_INDEX, CLS_INDEX)


def _all_tokens(case: dict[str, Any]) -> tuple[int, int]:
    """The mistake of searching the question's tokens too (their offsets count from the question's start)."""
    offsets, a, b = case["offsets"], case["start_char"], case["end_char"]
    starts = [i for i, o in enumerate(offsets) if o != (0, 0) and o[0] <= a < o[1]]
    ends = [i for i, o in enumerate(offsets) if o != (0, 0) and o[0] < b <= o[1]]
    if not starts or not ends:
        return CLS_INDEX, CLS_INDEX
    return starts[0], ends[0]


@check("char_to_token_span", references=["sft_helpers.qa.char_to_token_span"])
def check_char_to_token_span(fn: Any) -> Any:
    """``fn(offsets, sequence_ids, start_char, end_char) -> (start_token, end_token)``, (0, 0) outside."""
    rng = random.Random(fresh_seed())
    example = {  # [CLS] who won [SEP] lyon beat porto [SEP]; answer "lyon" = characters 0..4
        "offsets": [(0, 0), (0, 3), (4, 7), (0, 0), (0, 2), (2, 4), (5, 9), (10, 15), (0, 0)],
        "sequence_ids": [None, 0, 0, None, 1, 1, 1, 1, None],
        "start_char": 0,
        "end_char": 4,
    }
    cases = [example] + [_random_window(rng) for _ in range(60)]
    outside = 0
    for case in cases:
        expected = _ref.char_to_token_span(**case)
        outside += expected == (CLS_INDEX, CLS_INDEX)
        got = call_learner(
            fn, list(case["offsets"]), list(case["sequence_ids"]), case["start_char"], case["end_char"]
        )
        fail_if(compare_types(got, (list, tuple), name="return value"))
        got_t = tuple(int(x) if hasattr(x, "__index__") else x for x in got)
        message = compare_values(got_t, tuple(expected), name="(start_token, end_token)")
        if message:
            s, e = expected
            advice = diagnose(
                got_t,
                {
                    "the end token is inclusive: the last token that holds a character of the answer, "
                    "not one past it": (s, e + 1) if expected != (CLS_INDEX, CLS_INDEX) else None,
                    "an answer only partly inside this window must be labelled (0, 0) (the [CLS] token), "
                    "not clipped to the part that is visible": _clipped(case),
                    "only context tokens count: question tokens have offsets into the question, so check "
                    "sequence_ids == 1": _all_tokens(case),
                },
            )
            where = (
                f"for offsets={case['offsets']}, sequence_ids={case['sequence_ids']}, "
                f"start_char={case['start_char']}, end_char={case['end_char']}"
            )
            fail_if(
                f"{message} {where}",
                advice
                or "find the first and the last context token of this window; if the answer's characters are not "
                "all between them, the window has no answer; otherwise walk in from both ends",
            )
    return passed(
        f"matches the reference on {len(cases)} windows ({outside} of them without the whole answer, labelled (0, 0))"
    )


# ----------------------------------------------------------------------------------------------
# best_span
# ----------------------------------------------------------------------------------------------
def _random_logits(rng: random.Random) -> dict[str, Any]:
    n_question = rng.randint(2, 6)
    n_context = rng.randint(3, 30)
    n_pad = rng.randint(0, 4)
    n = 1 + n_question + 1 + n_context + 1 + n_pad
    mask = [False] * (n_question + 2) + [True] * n_context + [False] * (1 + n_pad)
    start = [round(rng.gauss(0, 2), 3) for _ in range(n)]
    end = [round(rng.gauss(0, 2), 3) for _ in range(n)]
    context = [i for i, m in enumerate(mask) if m]
    trap = rng.random()
    if trap < 0.3:  # the best start lies after the best end: independent argmaxes give end < start
        end[context[0]] += 6
        start[context[-1]] += 6
    elif trap < 0.5:  # the highest logits sit on question tokens or [CLS]
        start[rng.randrange(0, n_question + 1)] += 8
        end[rng.randrange(0, n_question + 1)] += 8
    elif trap < 0.7:  # a long span: its length matters
        a = rng.choice(context[: max(1, len(context) // 3)])
        start[a] += 6
        end[min(context[-1], a + rng.randint(3, 12))] += 6
    return {
        "start_logits": start,
        "end_logits": end,
        "context_mask": mask,
        "max_answer_length": rng.randint(2, 8),
    }


def _span_by(case: dict[str, Any], ok: Any) -> tuple[int, int, float] | None:
    s, e = case["start_logits"], case["end_logits"]
    spans = [(s[a] + e[b], -a, -b) for a in range(len(s)) for b in range(len(e)) if ok(a, b)]
    if not spans:
        return None
    score, a, b = max(spans)
    return -a, -b, score


def _independent(case: dict[str, Any]) -> tuple[int, int, float]:
    """The mistake of taking the best start and the best end separately."""
    m = case["context_mask"]
    a = max((i for i in range(len(m)) if m[i]), key=lambda i: case["start_logits"][i])
    b = max((i for i in range(len(m)) if m[i]), key=lambda i: case["end_logits"][i])
    return a, b, case["start_logits"][a] + case["end_logits"][b]


def _span_mistakes(case: dict[str, Any]) -> dict[str, Any]:
    """What common mistakes of the best-span search return on ``case``, with the advice each deserves."""
    m, n = case["context_mask"], case["max_answer_length"]
    return {
        "a span of max_answer_length tokens has end - start = max_answer_length - 1 at most": lambda: (
            _span_by(case, lambda a, b: m[a] and m[b] and 0 <= b - a <= n)
        ),
        "spans longer than max_answer_length tokens are not allowed": lambda: _span_by(
            case, lambda a, b: m[a] and m[b] and 0 <= b - a
        ),
        "both ends must be context tokens (context_mask True): no [CLS], question or padding": lambda: (
            _span_by(case, lambda a, b: 0 <= b - a < n)
        ),
        "the end may not come before the start: search pairs, not two separate argmaxes": lambda: (
            _independent(case)
        ),
    }


@check("best_span", references=["sft_helpers.qa.best_span", "sft_helpers.qa.top_spans"])
def check_best_span(fn: Any) -> Any:
    """``fn(start_logits, end_logits, context_mask, max_answer_length) -> (start, end, score)``."""
    rng = random.Random(fresh_seed())
    example = {  # the best start (index 4) is after the best end (index 3)
        "start_logits": [0.0, 0.1, 0.2, 1.0, 3.0, 0.5, 0.0],
        "end_logits": [0.0, 0.1, 0.3, 2.5, 0.2, 1.5, 0.0],
        "context_mask": [False, False, False, True, True, True, False],
        "max_answer_length": 3,
    }
    cases = [example] + [_random_logits(rng) for _ in range(60)]
    for case in cases:
        expected = _ref.best_span(**case)
        got = call_learner(
            fn, list(case["start_logits"]), list(case["end_logits"]), list(case["context_mask"]),
            case["max_answer_length"],
        )  # fmt: skip
        fail_if(compare_types(got, (list, tuple), name="return value"))
        fail_if(
            None if len(got) == 3 else f"your function returned {len(got)} values; return (start, end, score)"
        )
        got_t = (int(got[0]), int(got[1]), float(got[2]))
        message = compare_values(got_t, tuple(expected), name="(start, end, score)", atol=1e-6)
        if message:
            L = case["max_answer_length"]
            advice = diagnose(got_t, _span_mistakes(case))
            fail_if(
                f"{message} for start_logits={case['start_logits']}, end_logits={case['end_logits']}, "
                f"context_mask={case['context_mask']}, max_answer_length={L}",
                advice
                or "score every allowed (start, end) pair by start_logits[start] + end_logits[end] and keep the "
                "best; allowed means both in the context, start <= end, and not too long",
            )
    return passed(f"matches the reference on {len(cases)} windows, traps included (end before start, "
                  "logits on the question, long spans)")  # fmt: skip
