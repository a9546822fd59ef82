"""A sliding-window word-overlap baseline for extractive QA (SQuAD 2.0 style), no learning involved.

For each question:

1. *candidates*: the name-like chunks of the context (runs of capitalised words or numbers,
   "of" allowed inside: "University of Kigali", "13,700", "2-1"), minus those made only of
   question words (the question's own subject is not its answer);
2. *score*: the share of the question's content words (lower-cased, stop words removed)
   found in a window of ``window`` words on either side of the candidate;
3. the best-scoring candidate (ties: the nearest to a matching word, then the first) is
   the answer, unless its score is below ``threshold`` (then: no answer). ``tune_threshold``
   picks the threshold that maximises F1 on validation data.

It finds the sentence that shares words with the question, and then guesses a name near
those words: right when the sentence has one candidate of the right kind, wrong with a
distractor nearby, with lower-case answers ("solar panels"), or when the matching words
belong to another entity (the unanswerable questions).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sft_helpers.qa import normalize_answer, squad_v2_scores

STOP_WORDS = frozenset(
    """a an the of in on at to for by with from and or is was were are be been does do did has have had
    which what who whom whose when where why how many much in what year name it its this that his her
    their there as into after before since""".split()
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9,'\-]*[A-Za-z0-9]|[A-Za-z0-9]")


def words_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """``(word, start, end)`` for each word of ``text`` (punctuation at the edges left out)."""
    return [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]


def _norm(word: str) -> str:
    word = word.lower()
    return word[:-2] if word.endswith("'s") else word


def _content(words: Sequence[str]) -> set[str]:
    return {_norm(w) for w in words if w.lower() not in STOP_WORDS}


_EDGE_WORDS = STOP_WORDS | {"today", "she", "he", "later", "born", "then", "visitors", "police"}
DAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())


def _name_like(word: str) -> bool:
    return word[0].isupper() or word[0].isdigit()


def sentences_of(text: str) -> list[int]:
    """The sentence index of each word of ``words_with_offsets(text)`` (a new one after '.', '?' or '!')."""
    out, sentence = [], 0
    for _, _, end in words_with_offsets(text):
        out.append(sentence)
        if text[end : end + 1] in (".", "?", "!"):
            sentence += 1
    return out


def candidates(context: str) -> list[tuple[int, int]]:
    """Word-index spans ``[i, j)`` of the name-like chunks of ``context``, within one sentence and clause."""
    located = words_with_offsets(context)
    words = [w for w, _, _ in located]
    spans, i = [], 0
    while i < len(words):
        if not _name_like(words[i]) or words[i].lower() in _EDGE_WORDS:
            i += 1
            continue
        j = i + 1
        while j < len(words) and context[located[j - 1][2] : located[j - 1][2] + 1] not in (".", ",", ";"):
            nxt = words[j]
            if nxt[0].isdigit() != words[j - 1][0].isdigit() and nxt != "of" and words[j - 1] != "of":
                break  # "1904 Arjun Smith": a number and a name are two chunks
            if _name_like(nxt) or (nxt == "of" and j + 1 < len(words) and _name_like(words[j + 1])):
                j += 1
            else:
                break
        spans.append((i, j))
        i = j
    return spans


def _fits(question_words: list[str], chunk: list[str]) -> bool:
    """A rough answer-type filter: numbers for when/how many, no bare numbers for who/where."""
    q = " ".join(question_words[:3]).lower()
    has_digit = any(ch.isdigit() for w in chunk for ch in w)
    if q.startswith(("when", "in what year", "in which year", "how many", "how much", "by what")):
        return has_digit or (q.startswith("when") and chunk[0].lower() in DAYS)
    if q.startswith(("who", "where", "in which city", "in which country")):
        return not has_digit
    return True


def predict_one(question: str, context: str, window: int = 8) -> tuple[str, float]:
    """``(answer text, score)`` of the best candidate; ``("", 0.0)`` when there is none."""
    q_list = [w for w, _, _ in words_with_offsets(question)]
    q_words = _content(q_list)
    located = words_with_offsets(context)
    lowered = [_norm(w) for w, _, _ in located]
    sentence = sentences_of(context)
    if not q_words:
        return "", 0.0
    best: tuple[float, int, int, int, int] | None = None  # (score, -distance, -start, i, j)
    for i, j in candidates(context):
        chunk = [w for w, _, _ in located[i:j]]
        if _content(lowered[i:j]) <= q_words or not _fits(q_list, chunk):
            continue  # only question words (the question's subject), or the wrong kind of answer
        lo, hi = max(0, i - window), min(len(located), j + window)
        hits = {k for k in range(lo, hi) if not i <= k < j and lowered[k] in q_words and sentence[k] == sentence[i]}
        score = len({lowered[k] for k in hits}) / len(q_words)
        distance = min((min(abs(k - i), abs(k - (j - 1))) for k in hits), default=window + 1)
        key = (score, -distance, -i, i, j)
        if best is None or key[:3] > best[:3]:
            best = key
    if best is None:
        return "", 0.0
    _, _, _, i, j = best
    return context[located[i][1] : located[j - 1][2]], best[0]


def predict(dataset: Any, threshold: float = 0.0, window: int = 8) -> dict[str, str]:
    """``{id: answer}`` for a Dataset (or dict of lists) with ``id``, ``question``, ``context``; "" = none."""
    out = {}
    for qid, question, context in zip(dataset["id"], dataset["question"], dataset["context"]):
        text, score = predict_one(question, context, window)
        out[qid] = text if score >= threshold and text else ""
    return out


def tune_threshold(dataset: Any, window: int = 8, grid: Sequence[float] | None = None) -> tuple[float, float]:
    """``(threshold, F1)``: the overlap share below which the baseline says "no answer", best F1 on ``dataset``."""
    raw = {q: predict_one(question, context, window) for q, question, context in
           zip(dataset["id"], dataset["question"], dataset["context"])}  # fmt: skip
    grid = grid if grid is not None else [i / 20 for i in range(21)]
    best = (-1.0, 0.0)
    for t in grid:
        preds = {q: (text if score >= t and text else "") for q, (text, score) in raw.items()}
        f1 = squad_v2_scores(preds, dataset)["f1"]
        if f1 > best[0]:
            best = (f1, t)
    return best[1], best[0]


def evaluate(train_or_validation: Any, test: Any, window: int = 8) -> dict[str, Any]:
    """Tune the threshold on the first data set, score the second: ``{threshold, scores, predictions}``."""
    threshold, _ = tune_threshold(train_or_validation, window)
    predictions = predict(test, threshold, window)
    return {"threshold": threshold, "scores": squad_v2_scores(predictions, test), "predictions": predictions}


def answer_in_candidates(dataset: Any) -> float:
    """Share of answerable questions whose (normalised) answer is one of the candidate chunks: the ceiling."""
    hits = total = 0
    for context, answers in zip(dataset["context"], dataset["answers"]):
        if not answers["text"]:
            continue
        total += 1
        located = words_with_offsets(context)
        chunks = {normalize_answer(context[located[i][1] : located[j - 1][2]]) for i, j in candidates(context)}
        hits += any(normalize_answer(t) in chunks for t in answers["text"])
    return hits / total if total else 0.0

