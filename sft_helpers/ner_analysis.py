"""NER predictions per word, and the error analysis of chapter 5.

``predict_word_tags`` runs a token-classification model over pre-split sentences and keeps
each word's first-subword prediction, so scores are word-level whatever labelling strategy
the model was trained with. ``error_breakdown`` sorts every mistake into the kinds that need
different fixes: a wrong type, a wrong boundary, a missed entity, a spurious one.
``seen_unseen_recall`` splits recall by whether the entity's words occurred as an entity in
training (memorised) or not (must be inferred from context). ``error_categories`` refines the
breakdown into the categories chapter 5 counts (boundary errors, type confusions by pair of
types, missed, spurious); ``casing_of``, ``scores_by_group`` and ``capitalised_spans`` measure
what an uncased encoder loses by never seeing capital letters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sft_helpers.spans import decode_iob2, word_tags_from_subwords
from sft_helpers.tokenization import iter_batches

__all__ = [
    "ERROR_CATEGORIES",
    "capitalised_spans",
    "casing_of",
    "entity_strings",
    "error_breakdown",
    "error_categories",
    "scores_by_group",
    "leak_rate",
    "predict_word_tags",
    "recall_by_familiarity",
    "seen_unseen_recall",
    "type_of",
    "untyped",
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


# The categories of ``error_categories``, in the order a table shows them.
ERROR_CATEGORIES = (
    "boundary",
    "type ORG/LOC",
    "type PER/LOC",
    "type PER/ORG",
    "type MISC/other",
    "boundary and type",
    "missed",
    "spurious",
)


def _pair(a: str, b: str) -> str:
    if "MISC" in (a, b):
        return "type MISC/other"
    key = "/".join(sorted((a, b), key=["PER", "ORG", "LOC"].index))
    return f"type {key}" if f"type {key}" in ERROR_CATEGORIES else "type MISC/other"


def error_categories(
    tokens: Sequence[Sequence[str]], true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]
) -> dict[str, Any]:
    """Every test error in one of ``ERROR_CATEGORIES``, with readable examples.

    The bins of ``error_breakdown``, with its *type errors* (exact span, other type) split by
    the pair of types confused: ``"type ORG/LOC"`` (a club named after its city tagged as the
    place, or the reverse), ``"type PER/LOC"``, ``"type PER/ORG"`` and ``"type MISC/other"``
    (MISC confused with any type). *boundary*: right type, wrong span ("Bank of" instead of
    "Bank of Lisbon"); *boundary and type*: both wrong; *missed*: no predicted entity
    overlaps the true one; *spurious*: a predicted entity that overlaps no true one.

    Returns ``{"counts": {category: n}, "examples": {category: [example, ...]}, "correct": n,
    "entities": n}``; an example is ``{"sentence": i, "text": words joined, "true": "PER 'Ana
    Reid'", "predicted": "LOC 'Reid'"}`` (``"nothing"`` when there is no entity on that side).
    """
    if len(tokens) != len(true_tags):
        raise ValueError(f"tokens has {len(tokens)} sentences but true_tags has {len(true_tags)}.")
    breakdown = error_breakdown(true_tags, pred_tags)
    counts = dict.fromkeys(ERROR_CATEGORIES, 0)
    examples: dict[str, list[dict[str, Any]]] = {k: [] for k in ERROR_CATEGORIES}
    rename = {"boundary error": "boundary", "boundary and type": "boundary and type", "missed": "missed",
              "spurious": "spurious"}  # fmt: skip

    def show(words: Sequence[str], entity: Any) -> str:
        return "nothing" if entity is None else f"{entity[0]} '{' '.join(words[entity[1] : entity[2]])}'"

    for kind, found in breakdown["examples"].items():
        if kind == "correct":
            continue
        for i, gold, guess in found:
            category = _pair(gold[0], guess[0]) if kind == "type error" else rename[kind]
            words = tokens[i]
            if len(words) != len(true_tags[i]):
                raise ValueError(f"sentence {i}: {len(words)} tokens but {len(true_tags[i])} tags.")
            counts[category] += 1
            examples[category].append(
                {
                    "sentence": i,
                    "text": " ".join(words),
                    "true": show(words, gold),
                    "predicted": show(words, guess),
                }
            )
    n_correct = breakdown["counts"]["correct"]
    n_entities = n_correct + sum(
        v for k, v in breakdown["counts"].items() if k not in ("correct", "spurious")
    )
    return {"counts": counts, "examples": examples, "correct": n_correct, "entities": n_entities}


def casing_of(words: Sequence[str]) -> str:
    """``"lower"`` when no word has a capital letter, ``"upper"`` when every word with letters
    is in capitals (a headline), ``"mixed"`` otherwise (ordinary sentences)."""
    lettered = [w for w in words if any(c.isalpha() for c in w)]
    if not lettered or all(w == w.lower() for w in lettered):
        return "lower"
    if all(w == w.upper() for w in lettered):
        return "upper"
    return "mixed"


def scores_by_group(
    true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]], groups: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Entity F1 (seqeval strict IOB2) of the sentences of each group, e.g. of each ``casing_of``.

    ``groups`` has one group name per sentence. Returns ``{group: {"sentences", "entities",
    "f1", "precision", "recall"}}`` in order of first appearance of the groups.
    """
    from sft_helpers.metrics import entity_scores

    _check_pair(true_tags, pred_tags)
    if len(groups) != len(true_tags):
        raise ValueError(f"groups has {len(groups)} names but there are {len(true_tags)} sentences.")
    out: dict[str, dict[str, float]] = {}
    for group in dict.fromkeys(groups):
        idx = [i for i, g in enumerate(groups) if g == group]
        t, p = [list(true_tags[i]) for i in idx], [list(pred_tags[i]) for i in idx]
        s = entity_scores(t, p)
        out[group] = {"sentences": len(idx), "entities": sum(len(decode_iob2(x)) for x in t),
                      "f1": s["f1"], "precision": s["precision"], "recall": s["recall"]}  # fmt: skip
    return out


def untyped(tags: Sequence[str]) -> list[str]:
    """The same spans with one type ``ENT``: scores whether a tagger finds names, whatever their type."""
    return [t if t == "O" else f"{t[:2]}ENT" for t in tags]


_NOT_NAMES = frozenset("The A An In On At Mr Ms Dr President Prime Officials Police".split())


def capitalised_spans(words: Sequence[str]) -> list[str]:
    """A capital-letter rule: each run of capitalised words is one entity (``B-ENT I-ENT ...``).

    The sentence's first word counts only when the next word is capitalised too ("Maria
    Costa said"): sentence-initial capitals say nothing. Titles and openers that are never
    part of a name here (``_NOT_NAMES``: The, Mr, President, ...) never count. "of" between
    two capitalised words joins them ("Bank of Lisbon"). A rule a cased model could learn in a moment, and one an
    uncased encoder cannot see: compare it on mixed-case and on lower-cased sentences.
    """
    cap = [bool(w) and w[0].isupper() and any(c.isalpha() for c in w) and w not in _NOT_NAMES for w in words]
    if cap and cap[0] and not (len(cap) > 1 and cap[1]):
        cap[0] = False
    for i in range(1, len(words) - 1):
        if words[i] == "of" and cap[i - 1] and cap[i + 1]:
            cap[i] = True
    tags = []
    for i, c in enumerate(cap):
        tags.append("O" if not c else ("I-ENT" if i > 0 and cap[i - 1] else "B-ENT"))
    return tags


FAMILIARITY = ("seen, one type", "seen, several types", "unseen")


def recall_by_familiarity(
    tokens: Sequence[Sequence[str]],
    true_tags: Sequence[Sequence[str]],
    pred_tags: Sequence[Sequence[str]],
    train_tokens: Sequence[Sequence[str]],
    train_tags: Sequence[Sequence[str]],
) -> dict[str, dict[str, float]]:
    """Recall (exact span and type) for three kinds of test entity, by what training showed of its string.

    *seen, one type*: the string was an entity in training, always of one type ("Reuters");
    *seen, several types*: it was an entity of more than one type ("Jordan" the person and
    the country, "Porto" the club and the city), so memory alone cannot decide;
    *unseen*: never an entity in training. Returns ``{group: {"entities", "recall"}}``.
    """
    _check_pair(true_tags, pred_tags)
    types_seen: dict[str, set[str]] = {}
    for words, tags in zip(train_tokens, train_tags, strict=True):
        for kind, start, end in decode_iob2(list(tags)):
            types_seen.setdefault(" ".join(words[start:end]), set()).add(kind)
    found: Counter = Counter()
    total: Counter = Counter()
    for words, t, p in zip(tokens, true_tags, pred_tags, strict=True):
        predicted = set(decode_iob2(list(p)))
        for entity in decode_iob2(list(t)):
            kinds = types_seen.get(" ".join(words[entity[1] : entity[2]]))
            group = (
                "unseen"
                if kinds is None
                else ("seen, one type" if len(kinds) == 1 else "seen, several types")
            )
            total[group] += 1
            found[group] += entity in predicted
    return {
        g: {"entities": total[g], "recall": found[g] / total[g] if total[g] else 0.0} for g in FAMILIARITY
    }
