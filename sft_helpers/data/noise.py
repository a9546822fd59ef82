"""Casing and typo noise shared by the two data generators (deterministic given the rng)."""

from __future__ import annotations

import random

# Neighbouring keys on a QWERTY keyboard, for "fat finger" substitutions.
_NEIGHBOURS = {
    "a": "qs", "b": "vn", "c": "xv", "d": "sf", "e": "wr", "f": "dg", "g": "fh", "h": "gj",
    "i": "uo", "j": "hk", "k": "jl", "l": "k", "m": "n", "n": "bm", "o": "ip", "p": "o",
    "q": "w", "r": "et", "s": "ad", "t": "ry", "u": "yi", "v": "cb", "w": "qe", "x": "zc",
    "y": "tu", "z": "x",
}  # fmt: skip


def typo(word: str, rng: random.Random) -> str:
    """One plausible typing error in ``word``: swapped, dropped, doubled or mistyped letter.

    Words shorter than four letters are returned unchanged.
    """
    if len(word) < 4 or not word.isalpha():
        return word
    kind = rng.choice(("swap", "drop", "double", "key"))
    i = rng.randrange(1, len(word) - 1)  # keep the first letter: typos rarely hit it
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    lower = word[i].lower()
    if lower not in _NEIGHBOURS:
        return word[:i] + word[i + 1 :]
    new = rng.choice(_NEIGHBOURS[lower])
    new = new.upper() if word[i].isupper() else new
    return word[:i] + new + word[i + 1 :]
