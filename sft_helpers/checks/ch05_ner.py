"""Exercise checks of chapter 5 (NER): label alignment, IOB2 decoding, entity-level F1.

Each check runs the learner's function on hand-picked cases first (so the message names a
small, readable example) and then on fresh random sentences, comparing with the library's
reference (``sft_helpers.tokenization.align_labels``, ``sft_helpers.spans.decode_iob2``,
seqeval's default-mode ``f1_score``).
"""

from __future__ import annotations

import random
import warnings
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

__all__ = ["check_align_labels", "check_decode_iob2", "check_entity_f1"]

LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
B_TO_I = _ref.b_to_i_map(LABELS)
TYPES = ["PER", "ORG", "LOC", "MISC"]


# ----------------------------------------------------------------------------------------------
# align_labels
# ----------------------------------------------------------------------------------------------
def _random_encoding(rng: random.Random) -> tuple[list[int | None], list[int]]:
    """A sentence's word labels and word_ids like a tokenizer's: [CLS] words (1-3 pieces) [SEP] pad."""
    n_words = rng.randint(2, 8)
    labels = [rng.randrange(len(LABELS)) for _ in range(n_words)]
    word_ids: list[int | None] = [None]
    for wid in range(n_words):
        word_ids += [wid] * rng.choice([1, 1, 2, 3])
    if all(word_ids.count(w) == 1 for w in range(n_words)):  # make sure a word is split
        split = rng.randrange(n_words)
        word_ids.insert(word_ids.index(split), split)
    if not any(LABELS[x].startswith("B-") and word_ids.count(w) > 1 for w, x in enumerate(labels)):
        split = next(w for w in range(n_words) if word_ids.count(w) > 1)
        labels[split] = rng.choice(sorted(B_TO_I))  # a split B- word, where the strategies differ most
    word_ids += [None] * rng.randint(1, 3)  # [SEP] and padding
    return word_ids, labels


def _wrong_alignments(word_ids: list[int | None], labels: list[int], every: bool) -> dict[str, Any]:
    """What common mistakes produce on this input, with the advice each deserves."""
    copy_all = [_ref.IGNORE_INDEX if w is None else labels[w] for w in word_ids]
    no_mask = [
        0 if w is None else x for w, x in zip(word_ids, _ref.align_labels(word_ids, labels, every, B_TO_I))
    ]
    last_piece = [
        _ref.IGNORE_INDEX if w is None or (i + 1 < len(word_ids) and word_ids[i + 1] == w) else labels[w]
        for i, w in enumerate(word_ids)
    ]
    variants = {
        "special tokens ([CLS], [SEP], padding: word id None) must get -100, not a real label": no_mask,
        "label the FIRST subword of each word; you labelled the last one": last_piece,
    }
    if every:
        variants["continuation subwords of a B-X word must get I-X (use b_to_i), not B-X again"] = copy_all
        variants["with label_all_subwords=True every subword of a word gets a label, not only the first"] = (
            _ref.align_labels(word_ids, labels)
        )
    else:
        variants["by default only the first subword gets the label; the others get -100"] = copy_all
        variants["by default continuation subwords get -100, not the I- label"] = _ref.align_labels(
            word_ids, labels, True, B_TO_I
        )
    return variants


@check("align_labels", references=[_ref.align_labels])
def check_align_labels(fn: Any) -> Any:
    """``fn(word_ids, word_labels, label_all_subwords=False, b_to_i=None) -> list[int]``."""
    rng = random.Random(fresh_seed())
    example = ([None, 0, 1, 1, 1, 2, None], [0, 1, 0])  # [CLS] met schwarz ##ene ##gger today [SEP]
    cases = [example] + [_random_encoding(rng) for _ in range(20)]
    for word_ids, labels in cases:
        for every in (False, True):
            expected = _ref.align_labels(word_ids, labels, every, B_TO_I)
            got = call_learner(fn, list(word_ids), list(labels), every, dict(B_TO_I))
            where = f"for word_ids={word_ids}, word_labels={labels}, label_all_subwords={every}"
            fail_if(compare_types(got, (list, tuple), name="return value"))
            message = compare_values(list(got), expected, name="labels")
            if message:
                advice = diagnose(list(got), _wrong_alignments(word_ids, labels, every))
                fail_if(
                    f"{message} {where}; expected {expected}, got {list(got)}",
                    advice
                    or "compare each token's word with the previous token's word: that is what tells a "
                    "word's first piece from its continuations; special tokens belong to no word",
                )
    return passed(
        f"both strategies match the reference on {len(cases)} sentences with split words "
        f"(label ids: {', '.join(f'{i}={n}' for i, n in enumerate(LABELS))})"
    )


# ----------------------------------------------------------------------------------------------
# decode_iob2
# ----------------------------------------------------------------------------------------------
def _random_tags(rng: random.Random, n: int, stray: float = 0.15) -> list[str]:
    """IOB2-looking tags: entities of 1-3 words, sometimes a stray I- (as models emit)."""
    tags: list[str] = []
    while len(tags) < n:
        roll = rng.random()
        if roll < 0.45:
            tags.append("O")
        elif roll < 0.45 + stray:
            tags.append(f"I-{rng.choice(TYPES)}")
        else:
            kind = rng.choice(TYPES)
            tags += [f"B-{kind}"] + [f"I-{kind}"] * rng.choice([0, 0, 1, 2])
    return tags[:n]


def _decode_inclusive(tags: list[str]) -> list[tuple[str, int, int]]:
    return [(k, s, e - 1) for k, s, e in _ref.decode_iob2(tags)]


def _decode_dropping_stray(tags: list[str]) -> list[tuple[str, int, int]]:
    """seqeval-strict-like: an I- that continues nothing is dropped."""
    out, current = [], None
    for i, tag in enumerate([*tags, "O"]):
        prefix, kind = tag[0], tag[2:]
        if prefix == "I" and current and current[0] == kind:
            continue
        if current:
            out.append((current[0], current[1], i))
        current = (kind, i) if prefix == "B" else None
    return out


def _decode_ignoring_type(tags: list[str]) -> list[tuple[str, int, int]]:
    """Any I- continues the open entity, whatever its type."""
    out, current = [], None
    for i, tag in enumerate([*tags, "O"]):
        if tag.startswith("I-") and current:
            continue
        if current:
            out.append((current[0], current[1], i))
        current = (tag[2:], i) if tag != "O" else None
    return out


def _decode_merging_b(tags: list[str]) -> list[tuple[str, int, int]]:
    """Adjacent tags of one type are merged, so B-PER B-PER becomes one entity."""
    out, current = [], None
    for i, tag in enumerate([*tags, "O"]):
        kind = tag[2:] if tag != "O" else None
        if current and kind == current[0]:
            continue
        if current:
            out.append((current[0], current[1], i))
        current = (kind, i) if kind else None
    return out


@check("decode_iob2", references=[_ref.decode_iob2, _ref.repair_iob2])
def check_decode_iob2(fn: Any) -> Any:
    """``fn(tags) -> list of (type, start, end)`` with ``end`` exclusive and stray I- repaired."""
    rng = random.Random(fresh_seed())
    fixed = [
        ["B-PER", "I-PER", "O", "B-LOC"],
        ["O", "O"],
        ["B-PER", "B-PER", "I-PER"],
        ["O", "I-ORG", "I-ORG", "O"],
        ["B-PER", "I-LOC", "I-LOC"],
        ["B-MISC"],
    ]
    cases = fixed + [_random_tags(rng, rng.randint(1, 14)) for _ in range(40)]
    for tags in cases:
        expected = _ref.decode_iob2(tags)
        got = call_learner(fn, list(tags))
        fail_if(compare_types(got, (list, tuple), name="return value"))
        got_list = [tuple(x) if isinstance(x, (list, tuple)) else x for x in got]
        message = compare_values(got_list, expected, name="entities")
        if message:
            advice = diagnose(
                got_list,
                {
                    "end must be exclusive (one past the last word), so that words[start:end] is the entity": (
                        _decode_inclusive(tags)
                    ),
                    "an I-X that continues no X entity must start a new X entity, not be dropped": (
                        _decode_dropping_stray(tags)
                    ),
                    "an I-X only continues an entity of the same type X; after B-Y it starts a new X entity": (
                        _decode_ignoring_type(tags)
                    ),
                    "a B- tag always starts a new entity, even right after an entity of the same type": (
                        _decode_merging_b(tags)
                    ),
                    "return entities in order as (type, start, end) tuples": list(reversed(expected)),
                },
            )
            fail_if(
                f"{message} for tags {tags}: expected {expected}, got {got_list}",
                advice
                or "close the open entity on O, on B-, and on an I- of another type; close it at the end too",
            )
    return passed(f"entities match on {len(cases)} tag sequences, stray I- tags included")


# ----------------------------------------------------------------------------------------------
# entity-level F1
# ----------------------------------------------------------------------------------------------
def _perturb(rng: random.Random, tags: list[str]) -> list[str]:
    """A 'prediction': the truth with some types swapped, boundaries moved, entities missed or added."""
    pred = list(tags)
    for i in range(len(pred)):
        roll = rng.random()
        if roll < 0.08 and pred[i] != "O":
            pred[i] = f"{pred[i][:2]}{rng.choice(TYPES)}"  # type error
        elif roll < 0.14:
            pred[i] = "O"  # miss (or cut an entity short)
        elif roll < 0.20 and pred[i] == "O":
            pred[i] = rng.choice(["B-", "I-"]) + rng.choice(TYPES)  # spurious or extended entity
    return pred


def _token_f1(true: list[list[str]], pred: list[list[str]]) -> float:
    """Micro F1 over tokens whose tag is not O (the mistake: tokens instead of entities)."""
    pairs = [(t, p) for ts, ps in zip(true, pred) for t, p in zip(ts, ps)]
    tp = sum(t == p != "O" for t, p in pairs)
    n_pred, n_true = sum(p != "O" for _, p in pairs), sum(t != "O" for t, _ in pairs)
    return 0.0 if tp == 0 else 2 * tp / (n_pred + n_true)


def _token_accuracy(true: list[list[str]], pred: list[list[str]]) -> float:
    pairs = [(t, p) for ts, ps in zip(true, pred) for t, p in zip(ts, ps)]
    return sum(t == p for t, p in pairs) / len(pairs)


def _macro_f1(true: list[list[str]], pred: list[list[str]]) -> float:
    f1_score = _ref.third_party("seqeval.metrics.f1_score")
    return float(f1_score(true, pred, average="macro", zero_division=0))


def _untyped_f1(true: list[list[str]], pred: list[list[str]]) -> float:
    """Spans compared without their types."""
    t = {(i, s, e) for i, ts in enumerate(true) for _, s, e in _ref.decode_iob2(ts)}
    p = {(i, s, e) for i, ps in enumerate(pred) for _, s, e in _ref.decode_iob2(ps)}
    tp = len(t & p)
    return 0.0 if tp == 0 else 2 * tp / (len(t) + len(p))


def _pooled_f1(true: list[list[str]], pred: list[list[str]]) -> float:
    """Entities of all sentences pooled without their sentence index."""
    t = {e for ts in true for e in _ref.decode_iob2(ts)}
    p = {e for ps in pred for e in _ref.decode_iob2(ps)}
    tp = len(t & p)
    return 0.0 if tp == 0 else 2 * tp / (len(t) + len(p))


def _seqeval_f1(true: list[list[str]], pred: list[list[str]]) -> float:
    f1_score = _ref.third_party("seqeval.metrics.f1_score")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns when there are no predicted entities
        return float(f1_score(true, pred, zero_division=0))


@check(
    "entity-level F1",
    references=[
        "seqeval.metrics.f1_score",
        "seqeval.metrics.classification_report",
        "sft_helpers.metrics.entity_scores",
    ],
)
def check_entity_f1(fn: Any) -> Any:
    """``fn(true_tags, pred_tags) -> float``: micro F1 over exact (sentence, type, start, end) entities."""
    rng = random.Random(fresh_seed())
    fixed = [
        ([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]]),  # perfect: 1.0
        ([["B-PER", "I-PER", "O"]], [["B-PER", "O", "O"]]),  # boundary error: 0.0 (token F1 would be 0.67)
        (
            [["B-PER", "O", "B-LOC"], ["B-ORG"]],
            [["B-PER", "O", "B-ORG"], ["O"]],
        ),  # 1 of 2 predicted, 1 of 3 true
        ([["B-LOC", "O"]], [["O", "O"]]),  # nothing predicted: 0.0
        ([["B-PER", "O"], ["O", "O"]], [["O", "O"], ["B-PER", "O"]]),  # same span, other sentence: 0.0
    ]
    randoms = []
    for _ in range(25):
        true = [_random_tags(rng, rng.randint(3, 12), stray=0.0) for _ in range(rng.randint(1, 6))]
        if not any(t != "O" for ts in true for t in ts):
            true[0][0] = "B-PER"
        randoms.append((true, [_perturb(rng, ts) for ts in true]))
    for true, pred in fixed + randoms:
        expected = _seqeval_f1(true, pred)
        got = call_learner(fn, [list(t) for t in true], [list(p) for p in pred])
        message = compare_values(got, expected, name="F1", atol=1e-6, rtol=1e-6)
        if message:
            advice = diagnose(
                got,
                {
                    "this is a token-level F1: count whole entities (type, start and end must all match)": (
                        _token_f1(true, pred)
                    ),
                    "this is token accuracy; entity F1 ignores the O tokens and counts whole entities": (
                        _token_accuracy(true, pred)
                    ),
                    "this is the macro average over types; use the micro average (pool all entities)": (
                        _macro_f1(true, pred)
                    ),
                    "an entity is correct only if its TYPE also matches": _untyped_f1(true, pred),
                    "keep the sentence index with each entity: the same span in another sentence is "
                    "another entity": _pooled_f1(true, pred),
                },
                atol=1e-6,
                rtol=1e-6,
            )
            fail_if(
                f"{message} for true={true}, pred={pred}",
                advice
                or "an entity is identified by its sentence, type, start and end; precision and recall "
                "count whole entities, and F1 is 0.0 when nothing matches",
            )
    return passed(f"your entity F1 equals seqeval's on {len(fixed) + len(randoms)} sets of sentences")
