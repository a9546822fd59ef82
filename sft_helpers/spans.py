"""From predicted tags back to entities: IOB2 decoding and repair, character spans, redaction.

The model predicts one tag per *subword*. To get entities out of a text we

1. keep the tag of each word's first subword (the same rule training used: ``align_labels``);
2. repair invalid IOB2 and cut the word tags into entities (``decode_iob2``);
3. turn word spans into character spans of the original text with the tokenizer's offset mapping.

**Repair rule** (the conlleval / seqeval default-mode rule): an ``I-X`` that does not continue
an entity of type X (it follows ``O``, the sentence start, or a tag of another type) starts a
new X entity, exactly as if it were ``B-X``. So ``O I-PER I-PER`` is one PER entity and
``B-PER I-ORG`` is a PER entity followed by an ORG entity. (seqeval's *strict* IOB2 mode, the one
the course's metrics use, instead drops such entities: a model that emits stray ``I-`` tags is
penalised by the metric, but a user of ``extract_entities`` still gets its best guess.)

Spans use Python's convention: ``end`` is exclusive, so ``words[start:end]`` and
``text[start:end]`` are the entity.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sft_helpers.tokenization import IGNORE_INDEX

__all__ = [
    "decode_iob2",
    "extract_entities",
    "redact",
    "repair_iob2",
    "spans_from_subword_tags",
    "split_tag",
    "word_offsets",
    "word_tags_from_subwords",
]


def split_tag(tag: str, position: int | None = None) -> tuple[str, str | None]:
    """``"B-PER" -> ("B", "PER")``, ``"O" -> ("O", None)``; ValueError for anything not IOB2."""
    where = f" at position {position}" if position is not None else ""
    if not isinstance(tag, str):
        raise TypeError(
            f"tag{where} must be a string such as 'B-PER', 'I-PER' or 'O', got {tag!r}; convert label ids "
            "to names first (model.config.id2label or the data set's ClassLabel.int2str)."
        )
    if tag == "O":
        return "O", None
    prefix, dash, kind = tag.partition("-")
    if dash != "-" or prefix not in ("B", "I") or not kind:
        hint = " (IOBES/BILOU tags must be converted to IOB2 first)" if prefix in ("E", "S", "L", "U") else ""
        raise ValueError(f"tag{where} is {tag!r}: IOB2 tags are 'O', 'B-TYPE' or 'I-TYPE'{hint}.")
    return prefix, kind


def _check_tags(tags: Sequence[str]) -> list[tuple[str, str | None]]:
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise TypeError(f"tags must be a list of tag strings (one per word), got {type(tags).__name__}.")
    return [split_tag(tag, i) for i, tag in enumerate(tags)]


def repair_iob2(tags: Sequence[str]) -> list[str]:
    """Valid IOB2 from any IOB2-shaped tags: an ``I-X`` that continues no X entity becomes ``B-X``."""
    parts = _check_tags(tags)
    repaired = []
    previous_type: str | None = None
    for (prefix, kind), tag in zip(parts, tags, strict=True):
        if prefix == "I" and kind != previous_type:
            tag = f"B-{kind}"
        repaired.append(tag)
        previous_type = kind
    return repaired


def decode_iob2(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entities as ``(type, start_word, end_word)`` with ``end_word`` exclusive, in order.

    ``["B-PER", "I-PER", "O", "B-LOC"] -> [("PER", 0, 2), ("LOC", 3, 4)]``. Invalid IOB2 is
    repaired first (see the module docstring): a stray ``I-X`` starts a new entity.
    """
    entities: list[tuple[str, int, int]] = []
    current: tuple[str, int] | None = None  # (type, start) of the open entity
    for i, (prefix, kind) in enumerate(_check_tags(tags)):
        continues = prefix == "I" and current is not None and current[0] == kind
        if continues:
            continue
        if current is not None:
            entities.append((current[0], current[1], i))
            current = None
        if prefix != "O":
            current = (kind, i)  # type: ignore[assignment]
    if current is not None:
        entities.append((current[0], current[1], len(tags)))
    return entities


def word_tags_from_subwords(
    word_ids: Sequence[int | None], subword_tags: Sequence[Any], n_words: int | None = None, fill: Any = "O"
) -> list[Any]:
    """One tag per word: the tag of its first subword (the rule ``align_labels`` trains with).

    ``subword_tags`` has one entry per token (names, ids or ``-100``: only first subwords are
    read). Words with no token (cut by truncation, or empty) get ``fill``. ``n_words`` defaults
    to the last word id + 1.
    """
    if len(word_ids) != len(subword_tags):
        raise ValueError(
            f"word_ids has {len(word_ids)} tokens but subword_tags has {len(subword_tags)}; pass the tags "
            "predicted for the same encoding."
        )
    present = [w for w in word_ids if w is not None]
    if any(not isinstance(w, int) or isinstance(w, bool) or w < 0 for w in present):
        raise ValueError("word_ids must contain only None and non-negative ints (from encoding.word_ids()).")
    if n_words is None:
        n_words = max(present) + 1 if present else 0
    elif present and max(present) >= n_words:
        raise ValueError(f"word_ids refer to word {max(present)} but n_words={n_words}.")
    words: list[Any] = [fill] * n_words
    seen: set[int] = set()
    previous: int | None = None
    for wid, tag in zip(word_ids, subword_tags, strict=True):
        if wid is not None and wid != previous:
            if wid in seen:
                raise ValueError(
                    f"word {wid} appears in two separate places in word_ids; they are not one sentence's."
                )
            seen.add(wid)
            words[wid] = tag
        if wid is not None:
            previous = wid
    return words


def word_offsets(
    word_ids: Sequence[int | None], offsets: Sequence[Sequence[int]]
) -> dict[int, tuple[int, int]]:
    """Character span ``(start, end)`` of each word: from its first subword's start to its last one's end."""
    if len(word_ids) != len(offsets):
        raise ValueError(f"word_ids has {len(word_ids)} tokens but offsets has {len(offsets)}.")
    spans: dict[int, tuple[int, int]] = {}
    for wid, pair in zip(word_ids, offsets, strict=True):
        if wid is None:
            continue
        start, end = int(pair[0]), int(pair[1])
        if start > end:
            raise ValueError(f"offset {tuple(pair)} of word {wid} ends before it starts.")
        if wid in spans:
            start, end = min(start, spans[wid][0]), max(end, spans[wid][1])
        spans[wid] = (start, end)
    return spans


def spans_from_subword_tags(
    text: str,
    word_ids: Sequence[int | None],
    offsets: Sequence[Sequence[int]],
    subword_tags: Sequence[str],
    subword_scores: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """Entities with character offsets from per-subword tags of an encoding of ``text``.

    ``offsets`` is the tokenizer's ``offset_mapping`` of ``text`` (not of pre-split words).
    Each entity is ``{"type", "start", "end", "text", "score"}`` with ``text == text[start:end]``;
    ``score`` is the mean, over the entity's words, of the probability of the first subword's
    predicted tag (``None`` when ``subword_scores`` is not given).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}.")
    if subword_scores is not None and len(subword_scores) != len(subword_tags):
        raise ValueError(
            f"subword_scores has {len(subword_scores)} entries but subword_tags has {len(subword_tags)}."
        )
    spans = word_offsets(word_ids, offsets)
    if not spans:
        return []
    for wid, (_start, end) in spans.items():
        if end > len(text):
            raise ValueError(
                f"word {wid} ends at character {end} but the text has {len(text)}: offsets of another text?"
            )
    n_words = max(spans) + 1
    tags = word_tags_from_subwords(word_ids, subword_tags, n_words)
    tags = ["O" if tag == IGNORE_INDEX else tag for tag in tags]
    scores = (
        word_tags_from_subwords(word_ids, subword_scores, n_words, fill=None)
        if subword_scores is not None
        else None
    )
    entities = []
    for kind, first, last in decode_iob2(tags):
        words = [w for w in range(first, last) if w in spans]
        if not words:
            continue
        start, end = spans[words[0]][0], spans[words[-1]][1]
        score = None
        if scores is not None:
            values = [float(scores[w]) for w in words if scores[w] is not None]
            score = sum(values) / len(values) if values else None
        entities.append({"type": kind, "start": start, "end": end, "text": text[start:end], "score": score})
    return entities


def extract_entities(
    text: str, model: Any, tokenizer: Any, max_length: int | None = None
) -> list[dict[str, Any]]:
    """Run a token-classification ``model`` on raw ``text`` and return its entities.

    Each entity is ``{"type", "start", "end", "text", "score"}`` (character offsets into
    ``text``, ``end`` exclusive; ``score`` as in ``spans_from_subword_tags``). Words are the
    tokenizer's pre-tokenizer words (whitespace and punctuation split). Text past
    ``max_length`` tokens (default: the tokenizer's limit) is not read: a warning says so.
    """
    import torch

    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}; call it once per text.")
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("tokenizer must be a fast tokenizer: offsets and word ids come from it.")
    id2label = getattr(getattr(model, "config", None), "id2label", None)
    if not isinstance(id2label, Mapping) or not id2label:
        raise ValueError("model.config.id2label is missing: load the model with labels=[...] (IOB2 names).")
    names = {int(k): v for k, v in id2label.items()}
    for i, name in names.items():
        split_tag(name, i)  # IOB2 names only, else a clear error now rather than odd spans later
    limit = max_length if max_length is not None else getattr(tokenizer, "model_max_length", 512)
    encoding = tokenizer(
        text, return_offsets_mapping=True, truncation=True, max_length=limit, return_overflowing_tokens=False
    )
    full = tokenizer(text, add_special_tokens=True)["input_ids"]
    if len(full) > limit:
        warnings.warn(
            f"text is {len(full)} tokens long; only the first {limit} were read. Split long texts into "
            "sentences or paragraphs and call extract_entities on each.",
            stacklevel=2,
        )
    device = next(model.parameters()).device
    inputs = {k: torch.tensor([v], device=device) for k, v in encoding.items() if k != "offset_mapping"}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(**inputs).logits[0]  # (seq, num_labels)
    if was_training:
        model.train()
    probs = logits.float().softmax(-1)
    best = probs.argmax(-1)
    tags = [names[int(i)] for i in best]
    scores = probs.gather(-1, best[:, None])[:, 0].tolist()
    return spans_from_subword_tags(text, encoding.word_ids(), encoding["offset_mapping"], tags, scores)


def redact(
    text: str,
    entities: Iterable[Mapping[str, Any]],
    types: Iterable[str] | None = ("PER", "LOC"),
    placeholder: str = "[{type}]",
) -> str:
    """Replace the entities of the given ``types`` (None: all) by ``placeholder.format(type=...)``.

    ``entities`` are dicts with ``type``, ``start``, ``end`` (as ``extract_entities`` returns);
    they must lie inside ``text`` and not overlap.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}.")
    if isinstance(types, str):
        raise TypeError(
            f"types must be a collection of type names such as ('PER', 'LOC'), got the string {types!r}."
        )
    wanted = None if types is None else set(types)
    chosen = []
    for i, entity in enumerate(entities):
        if not isinstance(entity, Mapping) or not {"type", "start", "end"} <= set(entity):
            raise ValueError(f"entities[{i}] must be a dict with 'type', 'start' and 'end', got {entity!r}.")
        start, end = entity["start"], entity["end"]
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise ValueError(
                f"entities[{i}] spans [{start}, {end}) which is not inside the text of length {len(text)}; "
                "were these entities extracted from another text?"
            )
        if wanted is None or entity["type"] in wanted:
            chosen.append((start, end, entity["type"]))
    chosen.sort()
    for (_s1, e1, _), (s2, _, _) in zip(chosen, chosen[1:], strict=False):
        if s2 < e1:
            raise ValueError(f"entities overlap at characters [{s2}, {e1}); pass non-overlapping spans.")
    pieces, cursor = [], 0
    for start, end, kind in chosen:
        pieces.append(text[cursor:start])
        pieces.append(placeholder.format(type=kind))
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)
