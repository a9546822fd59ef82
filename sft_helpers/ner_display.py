"""Entities as coloured HTML: tagged word sequences and character spans in free text.

Both functions return an HTML string; in a notebook show it with
``IPython.display.HTML(...)``. Text is escaped, so any input is safe to render.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sft_helpers.spans import decode_iob2

__all__ = ["TYPE_COLOURS", "entities_html", "text_entities_html"]

TYPE_COLOURS = {"PER": "#fbb4ae", "ORG": "#b3cde3", "LOC": "#ccebc5", "MISC": "#decbe4"}
_OTHER_COLOURS = ["#fed9a6", "#ffffcc", "#e5d8bd", "#fddaec", "#f2f2f2"]


def _colour(kind: str) -> str:
    if kind in TYPE_COLOURS:
        return TYPE_COLOURS[kind]
    return _OTHER_COLOURS[sum(map(ord, kind)) % len(_OTHER_COLOURS)]  # stable across runs


def _mark(content: str, kind: str, score: float | None = None) -> str:
    label = html.escape(kind) + (f" {score:.2f}" if score is not None else "")
    return (
        f'<mark style="background:{_colour(kind)};padding:1px 3px;border-radius:3px">{content}'
        f'<sup style="font-size:70%;margin-left:2px">{label}</sup></mark>'
    )


def _wrap(body: str) -> str:
    return f'<div style="line-height:1.9;font-family:sans-serif">{body}</div>'


def entities_html(words: Sequence[str], tags: Sequence[str]) -> str:
    """One sentence of words with its IOB2 entities highlighted by type."""
    if len(words) != len(tags):
        raise ValueError(f"words has {len(words)} items but tags has {len(tags)}; pass one tag per word.")
    pieces, cursor = [], 0
    for kind, start, end in decode_iob2(list(tags)):
        pieces += [html.escape(w) for w in words[cursor:start]]
        pieces.append(_mark(html.escape(" ".join(words[start:end])), kind))
        cursor = end
    pieces += [html.escape(w) for w in words[cursor:]]
    return _wrap(" ".join(pieces))


def text_entities_html(text: str, entities: Iterable[Mapping[str, Any]], show_scores: bool = True) -> str:
    """Free text with character-span entities (as ``extract_entities`` returns) highlighted."""
    chosen = sorted(entities, key=lambda e: e["start"])
    pieces, cursor = [], 0
    for entity in chosen:
        start, end = entity["start"], entity["end"]
        if not (0 <= cursor <= start < end <= len(text)):
            raise ValueError(f"entity {dict(entity)} overlaps another or lies outside the text.")
        pieces.append(html.escape(text[cursor:start]))
        score = entity.get("score") if show_scores else None
        pieces.append(_mark(html.escape(text[start:end]), entity["type"], score))
        cursor = end
    pieces.append(html.escape(text[cursor:]))
    return _wrap("".join(pieces))
