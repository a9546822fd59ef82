"""Extractive question answering: features with doc_stride windows, span post-processing, SQuAD scores.

The pipeline of chapter 8, one function per step:

1. ``prepare_train_features``: question and context tokenized as a pair with
   ``truncation="only_second"`` (only the context is cut), ``max_length``, ``stride`` (the
   ``doc_stride`` overlap between windows) and ``return_overflowing_tokens``, so one long
   context gives several windows. Each window's label is the answer's first and last token
   (``char_to_token_span`` via the offset mapping), or the ``[CLS]`` index 0 when the
   window does not contain the whole answer or the question has none.
2. ``prepare_eval_features``: the same windows, with ``example_id`` and an offset mapping
   that is ``None`` outside the context (so a predicted span can only be context).
3. ``postprocess``: for each example, the best span over all its windows
   (``top_spans``: start <= end, at most ``max_answer_length`` tokens, both in the
   context), its score ``start_logit + end_logit``, and the null score (the ``[CLS]``
   score, its minimum over windows); ``null_minus_best`` > threshold means "no answer".
4. ``squad_v2_scores``: exact match and F1 as the official SQuAD 2.0 evaluation script
   computes them (normalised answers; an unanswerable question counts as right only when
   the prediction is empty), overall and for answerable / unanswerable questions, in
   percent. ``best_null_threshold`` tunes the threshold on validation data as the
   official script's ``find_best_thresh`` does.

``SpanQAModel`` lets the course's training loop (``sft_helpers.training.train``, which
reads one ``labels`` column) train an ``AutoModelForQuestionAnswering``; ``answer``
answers one question with a model or a saved folder, as ``pipeline("question-answering")``
did before transformers 5.3 removed it.
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "CLS_INDEX",
    "char_to_token_span",
    "prepare_train_features",
    "prepare_eval_features",
    "SpanQAModel",
    "best_span",
    "top_spans",
    "postprocess",
    "question_type",
    "per_question_scores",
    "normalize_answer",
    "exact_match",
    "f1_score",
    "squad_v2_scores",
    "best_null_threshold",
    "apply_threshold",
    "answer",
]

CLS_INDEX = 0  # where BERT's [CLS] sits: the label of "no answer in this window"


# ---------------------------------------------------------------------------------- character <-> token
def char_to_token_span(
    offsets: Sequence[Sequence[int] | None],
    sequence_ids: Sequence[int | None],
    start_char: int,
    end_char: int,
    context_id: int = 1,
) -> tuple[int, int]:
    """The first and last token (inclusive) of the characters ``[start_char, end_char)`` in one window.

    ``offsets[i]`` is token i's ``(start, end)`` in its own text (the tokenizer's offset
    mapping), ``sequence_ids[i]`` says which text it belongs to (``None`` special token,
    0 question, ``context_id`` context). Returns ``(CLS_INDEX, CLS_INDEX)`` when the answer
    is not entirely inside this window's part of the context.
    """
    context = [i for i, s in enumerate(sequence_ids) if s == context_id]
    if not context or end_char <= start_char:
        return CLS_INDEX, CLS_INDEX
    first, last = context[0], context[-1]
    if offsets[first][0] > start_char or offsets[last][1] < end_char:
        return CLS_INDEX, CLS_INDEX
    start = first
    while start <= last and offsets[start][1] <= start_char:  # tokens ending before the answer starts
        start += 1
    end = last
    while end >= first and offsets[end][0] >= end_char:  # tokens starting after the answer ends
        end -= 1
    return start, end


def _pair_inputs(examples: Mapping[str, Sequence[Any]], tokenizer: Any, max_length: int, doc_stride: int):
    if doc_stride >= max_length // 2:
        raise ValueError(
            f"doc_stride={doc_stride} is the overlap between windows and must be well below max_length="
            f"{max_length} (e.g. max_length // 4); otherwise windows barely advance."
        )
    questions = [q.lstrip() for q in examples["question"]]  # leading spaces would waste tokens
    return tokenizer(
        questions,
        list(examples["context"]),
        truncation="only_second",  # cut the context, never the question
        max_length=max_length,
        stride=doc_stride,  # consecutive windows share this many context tokens
        return_overflowing_tokens=True,  # one long context -> several windows
        return_offsets_mapping=True,
    )


def prepare_train_features(
    examples: Mapping[str, Sequence[Any]],
    tokenizer: Any,
    max_length: int = 128,
    doc_stride: int = 32,
    span_fn: Any = None,
) -> dict[str, list]:
    """``Dataset.map(batched=True)`` function: windows with ``labels = [start_token, end_token]``.

    Columns out: ``input_ids``, ``attention_mask``, ``token_type_ids`` (when the tokenizer
    makes them) and ``labels``. A window without the whole answer (or a question without
    answer) is labelled ``[CLS_INDEX, CLS_INDEX]``. ``span_fn`` (default
    :func:`char_to_token_span`, same signature) maps characters to tokens: chapter 8 passes
    the learner's own.
    """
    span_fn = span_fn or char_to_token_span
    enc = _pair_inputs(examples, tokenizer, max_length, doc_stride)
    sample_map = enc.pop("overflow_to_sample_mapping")
    offsets_all = enc.pop("offset_mapping")
    labels = []
    for i, offsets in enumerate(offsets_all):
        answers = examples["answers"][sample_map[i]]
        if not answers["text"]:
            labels.append([CLS_INDEX, CLS_INDEX])
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        labels.append([int(x) for x in span_fn(offsets, enc.sequence_ids(i), start_char, end_char)])
    enc["labels"] = labels
    return dict(enc)


def prepare_eval_features(
    examples: Mapping[str, Sequence[Any]], tokenizer: Any, max_length: int = 128, doc_stride: int = 32
) -> dict[str, list]:
    """``Dataset.map(batched=True)`` function: windows with ``example_id`` and context-only offsets.

    ``offset_mapping[i]`` is ``None`` for every token outside the context, so
    ``postprocess`` never returns a piece of the question or a special token.
    """
    enc = _pair_inputs(examples, tokenizer, max_length, doc_stride)
    sample_map = enc.pop("overflow_to_sample_mapping")
    enc["example_id"] = [examples["id"][s] for s in sample_map]
    enc["offset_mapping"] = [
        [tuple(o) if s == 1 else None for o, s in zip(offsets, enc.sequence_ids(i))]
        for i, offsets in enumerate(enc["offset_mapping"])
    ]
    return dict(enc)


class SpanQAModel(torch.nn.Module):
    """An ``AutoModelForQuestionAnswering`` that reads ``labels`` ``(batch, 2)`` and returns ``logits``.

    The course's training loop passes one ``labels`` column and reads ``loss`` and
    ``logits``; this adapter splits the labels into ``start_positions`` and
    ``end_positions`` and stacks the two logit vectors into ``logits (batch, seq, 2)``.
    ``self.model`` is the wrapped model: save and load that one.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        if labels is not None:
            kwargs["start_positions"], kwargs["end_positions"] = labels[:, 0], labels[:, 1]
        out = self.model(**kwargs)
        result = {"logits": torch.stack([out.start_logits, out.end_logits], dim=-1)}  # (batch, seq, 2)
        if out.loss is not None:
            result["loss"] = out.loss  # mean of the start and end cross-entropies
        return result


# ---------------------------------------------------------------------------------- span search
def best_span(
    start_logits: Sequence[float],
    end_logits: Sequence[float],
    context_mask: Sequence[bool],
    max_answer_length: int = 30,
) -> tuple[int, int, float] | None:
    """The ``(start, end, score)`` maximising ``start_logits[start] + end_logits[end]``.

    Only spans with both ends in the context (``context_mask`` True), ``start <= end`` and
    at most ``max_answer_length`` tokens count; ``None`` when there is none.
    """
    spans = top_spans(start_logits, end_logits, context_mask, max_answer_length, n_best=1)
    return spans[0] if spans else None


def top_spans(
    start_logits: Sequence[float],
    end_logits: Sequence[float],
    context_mask: Sequence[bool],
    max_answer_length: int = 30,
    n_best: int = 20,
) -> list[tuple[int, int, float]]:
    """The ``n_best`` valid spans with the highest scores, best first (an exact search, not a pruned one)."""
    s = np.asarray(start_logits, dtype=np.float64)
    e = np.asarray(end_logits, dtype=np.float64)
    mask = np.asarray(context_mask, dtype=bool)
    if not (s.shape == e.shape == mask.shape) or s.ndim != 1:
        raise ValueError(
            f"start_logits, end_logits and context_mask must be 1-D of one length; got {s.shape}, {e.shape}, "
            f"{mask.shape}."
        )
    if max_answer_length < 1:
        raise ValueError(f"max_answer_length must be >= 1, got {max_answer_length}.")
    n = len(s)
    scores = s[:, None] + e[None, :]  # (start, end)
    offset = np.arange(n)[None, :] - np.arange(n)[:, None]  # end - start
    valid = (offset >= 0) & (offset < max_answer_length) & mask[:, None] & mask[None, :]
    flat = np.where(valid, scores, -np.inf).ravel()
    k = min(n_best, int(valid.sum()))
    if k == 0:
        return []
    idx = np.argpartition(-flat, k - 1)[:k]
    idx = idx[np.lexsort((idx, -flat[idx]))]  # by score, then by (start, end) for ties
    return [(int(i // n), int(i % n), float(flat[i])) for i in idx]


def postprocess(
    examples: Any,
    features: Any,
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    n_best: int = 20,
    max_answer_length: int = 30,
    best_span_fn: Any = None,
) -> dict[str, dict[str, Any]]:
    """For each example id: the best span over its windows and the no-answer evidence.

    ``best_span_fn`` (same signature as :func:`best_span`) replaces the search inside a
    window; each window then offers its best span only (chapter 8 passes the learner's).

    Returns ``{id: {"text", "start", "end" (characters), "score" (best span's logit sum),
    "null_score" (the [CLS] score, minimum over windows), "null_minus_best", "window",
    "n_windows", "candidates" (the n_best texts and scores)}}``. ``start_logits`` and
    ``end_logits`` are ``(n_windows, seq)`` arrays in the order of ``features``.
    """
    contexts = dict(zip(examples["id"], examples["context"]))
    windows: dict[str, list[int]] = collections.defaultdict(list)
    for i, example_id in enumerate(features["example_id"]):
        windows[example_id].append(i)
    offsets_all = features["offset_mapping"]
    out: dict[str, dict[str, Any]] = {}
    for example_id, context in contexts.items():
        candidates, null_score = [], np.inf
        for w in windows.get(example_id, []):
            offsets = offsets_all[w]
            n = len(offsets)
            s, e = np.asarray(start_logits[w][:n]), np.asarray(end_logits[w][:n])
            null_score = min(null_score, float(s[CLS_INDEX] + e[CLS_INDEX]))
            mask = [o is not None for o in offsets]
            if best_span_fn is None:
                found = top_spans(s, e, mask, max_answer_length, n_best)
            else:
                one = best_span_fn(s.tolist(), e.tolist(), mask, max_answer_length)
                found = [] if one is None else [(int(one[0]), int(one[1]), float(one[2]))]
            for a, b, score in found:
                candidates.append((score, offsets[a][0], offsets[b][1], w))
        candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
        if candidates:
            score, a, b, w = candidates[0]
        else:
            score, a, b, w = -np.inf, 0, 0, -1
        out[example_id] = {
            "text": context[a:b],
            "start": a,
            "end": b,
            "score": score,
            "null_score": null_score,
            "null_minus_best": null_score - score,
            "window": w,
            "n_windows": len(windows.get(example_id, [])),
            "candidates": [(context[c[1] : c[2]], c[0]) for c in candidates[:n_best]],
        }
    return out


def apply_threshold(results: Mapping[str, Mapping[str, Any]], threshold: float) -> dict[str, str]:
    """``{id: text}``, the empty string where ``null_minus_best > threshold`` (the model says: no answer)."""
    return {k: ("" if r["null_minus_best"] > threshold else r["text"]) for k, r in results.items()}


# ---------------------------------------------------------------------------------- the official metric
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, drop the articles a/an/the, collapse whitespace (SQuAD's rule)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> int:
    """1 when the normalised strings are equal, else 0."""
    return int(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token-overlap F1 of the normalised strings; two empty strings score 1, one empty one 0."""
    pred, true = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not pred or not true:
        return float(pred == true)
    common = collections.Counter(pred) & collections.Counter(true)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(true)
    return 2 * precision * recall / (precision + recall)


def _gold_texts(answers: Mapping[str, Sequence[Any]]) -> list[str]:
    texts = [t for t in answers["text"] if normalize_answer(t)]
    return texts or [""]  # an unanswerable question: only the empty prediction is right


def per_question_scores(
    predictions: Mapping[str, str], references: Any
) -> dict[str, tuple[int, float, bool]]:
    """``{id: (exact, f1, has_answer)}``, each the maximum over the question's gold answers."""
    out = {}
    for example_id, answers in zip(references["id"], references["answers"]):
        if example_id not in predictions:
            raise KeyError(f"no prediction for question {example_id!r}; predict every question (use '' for none).")
        golds, pred = _gold_texts(answers), predictions[example_id]
        out[example_id] = (
            max(exact_match(pred, g) for g in golds),
            max(f1_score(pred, g) for g in golds),
            golds != [""],
        )
    return out


def squad_v2_scores(predictions: Mapping[str, str], references: Any) -> dict[str, float]:
    """Exact match and F1 in percent, overall and split into ``HasAns`` / ``NoAns``, as SQuAD 2.0's script.

    ``references`` has columns ``id`` and ``answers`` (a Dataset or a dict of lists);
    ``predictions`` maps each id to a string, ``""`` meaning "no answer".
    """
    scores = per_question_scores(predictions, references)
    out: dict[str, float] = {}
    for prefix, keep in (("", lambda h: True), ("HasAns_", bool), ("NoAns_", lambda h: not h)):
        chosen = [(em, f1) for em, f1, has in scores.values() if keep(has)]
        out[f"{prefix}total"] = len(chosen)
        if chosen:
            out[f"{prefix}exact"] = 100.0 * sum(em for em, _ in chosen) / len(chosen)
            out[f"{prefix}f1"] = 100.0 * sum(f1 for _, f1 in chosen) / len(chosen)
    return out


def best_null_threshold(
    results: Mapping[str, Mapping[str, Any]], references: Any, metric: str = "f1"
) -> tuple[float, float]:
    """The threshold on ``null_minus_best`` that maximises ``metric`` ("exact" or "f1") on ``references``.

    The official script's ``find_best_thresh``: start from "no answer everywhere" and, in order
    of increasing null-minus-best, let one question at a time be answered by its best span;
    keep the best running total. Returns ``(threshold, best score in percent)``; when saying
    "no answer" everywhere is best, the threshold is 1 below the smallest null-minus-best.
    """
    if metric not in ("exact", "f1"):
        raise ValueError(f"metric must be 'exact' or 'f1', got {metric!r}.")
    spans = {k: r["text"] for k, r in results.items()}
    scores = per_question_scores(spans, references)
    column = 0 if metric == "exact" else 1
    total = sum(1 for *_, has in scores.values() if not has)  # all unanswered: every NoAns is right
    order = sorted(scores, key=lambda k: results[k]["null_minus_best"])
    # "no answer" everywhere: a finite threshold below every question's null-minus-best
    best, threshold = total, (results[order[0]]["null_minus_best"] - 1.0) if order else 0.0
    for k in order:
        em_f1, has = scores[k][column], scores[k][2]
        total += em_f1 if has else (-1 if spans[k] else 0)
        if total > best:
            best, threshold = total, results[k]["null_minus_best"]
    return float(threshold), 100.0 * best / max(len(scores), 1)


_TYPES = (
    ("how many", ("how many", "how much", "how large", "by what score")),
    ("when", ("when", "in what year", "in which year", "on which day", "what day", "since when", "how old")),
    ("where", ("where", "in which city", "in which country", "which country", "in which stadium")),
    ("who", ("who", "what is the name")),
    ("which", ("which", "in which", "on which")),
    ("what", ("what",)),
)


def question_type(question: str) -> str:
    """A coarse type from the question's first words: who, when, where, which, what, how many (or other)."""
    q = " ".join(question.lower().split())
    for name, starts in _TYPES:
        if q.startswith(starts):
            return name
    return "other"


# ---------------------------------------------------------------------------------- one question
@torch.no_grad()
def answer(
    question: str,
    context: str,
    model: Any,
    tokenizer: Any = None,
    max_length: int = 128,
    doc_stride: int = 32,
    max_answer_length: int = 30,
    null_threshold: float = 0.0,
) -> dict[str, Any]:
    """``{"answer", "start", "end", "score", "null_minus_best"}`` for one question; ``answer`` "" = none.

    ``model`` is an ``AutoModelForQuestionAnswering`` (or a ``SpanQAModel``) with its
    ``tokenizer``, or the path of a folder written by ``save_pretrained`` (both are loaded
    from it, offline).
    """
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        from sft_helpers.models import quiet_transformers

        with quiet_transformers():  # no load report, no progress bar
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(model), local_files_only=True)
            model = AutoModelForQuestionAnswering.from_pretrained(str(model), local_files_only=True)
    if tokenizer is None:
        raise ValueError("pass the tokenizer with the model (or a saved folder, which holds both).")
    if isinstance(model, SpanQAModel):
        model = model.model
    if not question.strip() or not context.strip():
        raise ValueError("question and context must both be non-empty strings.")
    examples = {"id": ["q"], "question": [question], "context": [context]}
    features = prepare_eval_features(examples, tokenizer, max_length, doc_stride)
    device = next(model.parameters()).device
    inputs = {
        k: torch.nn.utils.rnn.pad_sequence([torch.tensor(x) for x in features[k]], batch_first=True).to(device)
        for k in ("input_ids", "attention_mask", "token_type_ids")
        if k in features
    }
    was_training = model.training
    model.eval()
    out = model(**inputs)
    model.train(was_training)
    result = postprocess(
        examples, features, out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy(),
        n_best=1, max_answer_length=max_answer_length,
    )["q"]  # fmt: skip
    said = result["text"] if result["null_minus_best"] <= null_threshold else ""
    return {
        "answer": said,
        "start": result["start"] if said else None,
        "end": result["end"] if said else None,
        "score": result["score"],
        "null_minus_best": result["null_minus_best"],
    }
