"""NER predictions per word, and the error analysis of chapter 5.

``predict_word_tags`` runs a token-classification model over pre-split sentences and keeps
each word's first-subword prediction, so scores are word-level whatever labelling strategy
the model was trained with. ``error_breakdown`` sorts every mistake into the kinds that need
different fixes: a wrong type, a wrong boundary, a missed entity, a spurious one.
``seen_unseen_recall`` splits recall by whether the entity's words occurred as an entity in
training (memorised) or not (must be inferred from context).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sft_helpers.spans import decode_iob2, word_tags_from_subwords
from sft_helpers.tokenization import iter_batches

__all__ = [
    "entity_strings",
    "error_breakdown",
    "leak_rate",
    "predict_word_tags",
    "seen_unseen_recall",
    "type_of",
]


def type_of(tag: str) -> str:
    """``"B-PER" -> "PER"``, ``"O" -> "O"`` (for type-level confusion matrices)."""
    return "O" if tag == "O" else tag.split("-", 1)[1]


def predict_word_tags(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[Sequence[str]],
    batch_size: int = 64,
    max_length: int | None = None,
) -> list[list[str]]:
    """One predicted IOB2 tag per word of each sentence (the word's first subword's argmax).

    Sentences are run longest-first in batches (little padding) and returned in input order.
    Words cut off by ``max_length`` get ``"O"``.
    """
    import torch

    if isinstance(sentences, str) or not isinstance(sentences, Sequence):
        raise TypeError("sentences must be a list of sentences, each a list of words.")
    for i, words in enumerate(sentences):
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise TypeError(f"sentences[{i}] must be a list of word strings, got {words!r:.60}.")
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    device = next(model.parameters()).device
    limit = max_length if max_length is not None else getattr(tokenizer, "model_max_length", 512)
    order = sorted(range(len(sentences)), key=lambda i: -len(sentences[i]))
    out: list[list[str]] = [[] for _ in sentences]
    was_training = model.training
    model.eval()
    try:
        for batch in iter_batches(order, batch_size):
            words = [list(sentences[i]) for i in batch]
            enc = tokenizer(
                words,
                is_split_into_words=True,
                truncation=True,
                max_length=limit,
                padding=True,
                return_tensors="pt",
            )
            with torch.no_grad():
                logits = model(**{k: v.to(device) for k, v in enc.items()}).logits  # (batch, seq, labels)
            best = logits.argmax(-1).cpu().tolist()
            for row, i in enumerate(batch):
                tags = [id2label[t] for t in best[row]]
                out[i] = word_tags_from_subwords(enc.word_ids(row), tags, n_words=len(sentences[i]), fill="O")
    finally:
        if was_training:
            model.train()
    return out


def entity_strings(
    sentences: Iterable[Sequence[str]], tags: Iterable[Sequence[str]], lowercase: bool = False
) -> set[str]:
    """The surface strings of all entities (``"Maria Costa"``), e.g. to know which names training saw."""
    names = set()
    for words, sentence_tags in zip(sentences, tags, strict=True):
        for _, start, end in decode_iob2(list(sentence_tags)):
            name = " ".join(words[start:end])
            names.add(name.lower() if lowercase else name)
    return names


def _check_pair(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> None:
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"true_tags has {len(true_tags)} sentences but pred_tags has {len(pred_tags)}.")
    for i, (t, p) in enumerate(zip(true_tags, pred_tags, strict=True)):
        if len(t) != len(p):
            raise ValueError(f"sentence {i}: {len(t)} true tags but {len(p)} predicted tags.")


def error_breakdown(true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Count true entities as correct / type error / boundary error / both / missed, and spurious predictions.

    - *type error*: a predicted entity has exactly the same span but another type;
    - *boundary error*: the best-overlapping predicted entity has the right type, another span;
    - *boundary and type*: it overlaps, with another span and another type;
    - *missed*: no predicted entity overlaps it;
    - *spurious*: a predicted entity that overlaps no true entity.

    Returns the counts and, per kind, a few ``(sentence, true entity, predicted entity)`` examples.
    """
    _check_pair(true_tags, pred_tags)
    counts: Counter = Counter()
    examples: dict[str, list[tuple[int, Any, Any]]] = {}
    for i, (t, p) in enumerate(zip(true_tags, pred_tags, strict=True)):
        true_entities, pred_entities = decode_iob2(list(t)), decode_iob2(list(p))
        for gold in true_entities:
            overlapping = [e for e in pred_entities if e[1] < gold[2] and gold[1] < e[2]]
            if gold in pred_entities:
                kind, match = "correct", gold
            elif not overlapping:
                kind, match = "missed", None
            else:
                match = max(overlapping, key=lambda e: min(e[2], gold[2]) - max(e[1], gold[1]))
                same_span = (match[1], match[2]) == (gold[1], gold[2])
                same_type = match[0] == gold[0]
                kind = "type error" if same_span else ("boundary error" if same_type else "boundary and type")
            counts[kind] += 1
            examples.setdefault(kind, []).append((i, gold, match))
        for guess in pred_entities:
            if not any(e[1] < guess[2] and guess[1] < e[2] for e in true_entities):
                counts["spurious"] += 1
                examples.setdefault("spurious", []).append((i, None, guess))
    kinds = ["correct", "type error", "boundary error", "boundary and type", "missed", "spurious"]
    return {"counts": {k: counts.get(k, 0) for k in kinds}, "examples": examples}


def seen_unseen_recall(
    tokens: Sequence[Sequence[str]],
    true_tags: Sequence[Sequence[str]],
    pred_tags: Sequence[Sequence[str]],
    train_names: set[str],
) -> dict[str, dict[str, float]]:
    """Recall (exact span and type) for entities whose string was / was not an entity in training."""
    _check_pair(true_tags, pred_tags)
    found: Counter = Counter()
    total: Counter = Counter()
    for words, t, p in zip(tokens, true_tags, pred_tags, strict=True):
        predicted = set(decode_iob2(list(p)))
        for entity in decode_iob2(list(t)):
            group = "seen" if " ".join(words[entity[1] : entity[2]]) in train_names else "unseen"
            total[group] += 1
            found[group] += entity in predicted
    return {
        group: {"entities": total[group], "recall": found[group] / total[group] if total[group] else 0.0}
        for group in ("seen", "unseen")
    }


def leak_rate(
    true_tags: Sequence[Sequence[str]],
    pred_tags: Sequence[Sequence[str]],
    types: Iterable[str] = ("PER", "LOC"),
) -> dict[str, float]:
    """For redaction: the share of true entities of ``types`` with a word no predicted entity of ``types`` covers.

    Such an entity would be (at least partly) left readable by ``redact``. Returns
    ``{"entities": n, "leaked": k, "rate": k / n}``.
    """
    _check_pair(true_tags, pred_tags)
    wanted = set(types)
    total = leaked = 0
    for t, p in zip(true_tags, pred_tags, strict=True):
        covered = {i for kind, s, e in decode_iob2(list(p)) if kind in wanted for i in range(s, e)}
        for kind, s, e in decode_iob2(list(t)):
            if kind in wanted:
                total += 1
                leaked += any(i not in covered for i in range(s, e))
    return {"entities": total, "leaked": leaked, "rate": leaked / total if total else 0.0}
