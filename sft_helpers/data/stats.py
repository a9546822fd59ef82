"""The numbers on the data cards: sizes, distributions, overlaps between splits, baseline scores."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sft_helpers import baselines

NEAR_DUPLICATE_JACCARD = 0.8
_WORD = re.compile(r"\w+")


def token_set(text_or_tokens: str | Sequence[str]) -> frozenset[str]:
    """Lowercased word tokens (punctuation dropped), as a set."""
    text = text_or_tokens if isinstance(text_or_tokens, str) else " ".join(text_or_tokens)
    return frozenset(_WORD.findall(text.lower()))


def near_duplicate_share(
    queries: Iterable[Any], pool: Iterable[Any], threshold: float = NEAR_DUPLICATE_JACCARD
) -> float:
    """Share of ``queries`` with some item of ``pool`` at token Jaccard similarity >= ``threshold``.

    Items are texts or token lists, compared as sets of lowercased words.
    """
    pool_sets = sorted({token_set(x) for x in pool}, key=len)
    sizes = [len(s) for s in pool_sets]
    queries = [token_set(q) for q in queries]
    if not queries:
        raise ValueError("queries is empty.")
    hits = 0
    for q in queries:
        lo, hi = threshold * len(q), len(q) / threshold  # Jaccard >= t needs t <= |a|/|b| <= 1/t
        for s, n in zip(pool_sets, sizes):
            if n < lo:
                continue
            if n > hi:
                break
            inter = len(q & s)
            if inter and inter / (len(q) + n - inter) >= threshold:
                hits += 1
                break
    return hits / len(queries)


def _share(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def _accuracy(pred: Sequence, gold: Sequence) -> float:
    return round(sum(p == g for p, g in zip(pred, gold)) / len(gold), 4) if gold else float("nan")


# ---------------------------------------------------------------- classification


def classification_stats(rows: dict[str, list[dict]], seed: int = 0) -> dict[str, Any]:
    """Card numbers for the review data set (``rows`` from ``reviews.generate``)."""
    from sft_helpers.data.reviews import LABELS, METADATA

    train, test = rows["train"], rows["test"]
    out: dict[str, Any] = {
        "sizes": {s: len(r) for s, r in rows.items()},
        "labels": {s: {name: sum(x["label"] == name for x in r) for name in LABELS} for s, r in rows.items()},
        "phenomena_share": {s: {m: _share([x[m] for x in r]) for m in METADATA} for s, r in rows.items()},
        "distinct_patterns": {s: len({x["pattern"] for x in r}) for s, r in rows.items()},
        "distinct_patterns_all": len({x["pattern"] for r in rows.values() for x in r}),
        "test_patterns_unseen_in_train": _share(
            [x["pattern"] not in {y["pattern"] for y in train} for x in test]
        ),
        "vocabulary_size_train": len(set().union(*(token_set(x["text"]) for x in train))),
        "mean_words": {s: round(sum(len(x["text"].split()) for x in r) / len(r), 2) for s, r in rows.items()},
        "near_duplicate_share": {
            "validation": round(
                near_duplicate_share([x["text"] for x in rows["validation"]], [x["text"] for x in train]), 4
            ),
            "test": round(near_duplicate_share([x["text"] for x in test], [x["text"] for x in train]), 4),
        },
    }
    texts = [x["text"] for x in train]
    labels = [x["label"] for x in train]
    majority = baselines.majority_class(labels, [x["label"] for x in test])
    bow: dict[str, Any] = {}
    for name, ngrams in (("bag_of_words", (1, 1)), ("bag_of_words_bigrams", (1, 2))):
        bow[name] = {}
        for split in ("validation", "test"):
            gold = [x["label"] for x in rows[split]]
            res = baselines.bag_of_words(texts, labels, [x["text"] for x in rows[split]], gold, ngrams, seed)
            pred = res["predictions"]
            entry = {"accuracy": round(res["accuracy"], 4), "macro_f1": round(res["macro_f1"], 4)}
            for m in METADATA:
                idx = [i for i, x in enumerate(rows[split]) if x[m]]
                entry[f"accuracy_{m}"] = _accuracy([pred[i] for i in idx], [gold[i] for i in idx])
            idx = [i for i, x in enumerate(rows[split]) if not x["unseen_words"]]
            entry["accuracy_seen_words"] = _accuracy([pred[i] for i in idx], [gold[i] for i in idx])
            bow[name][split] = entry
    out["baselines"] = {
        "majority": {"label": majority["label"], "test_accuracy": round(majority["accuracy"], 4)},
        **bow,
    }
    return out


# ---------------------------------------------------------------- NER


def entities(tokens: Sequence[str], tags: Sequence[str]) -> list[tuple[str, str]]:
    """``(entity text, type)`` for every IOB2 span."""
    spans: list[tuple[list[str], str]] = []
    for word, tag in zip(tokens, tags):
        if tag.startswith("B-") or (tag.startswith("I-") and (not spans or spans[-1][1] != tag[2:])):
            spans.append(([word], tag[2:]))
        elif tag.startswith("I-"):
            spans[-1][0].append(word)
        else:
            spans.append(([], "O"))
    return [(" ".join(words), kind) for words, kind in spans if kind != "O"]


def ner_stats(rows: dict[str, list[dict]]) -> dict[str, Any]:
    """Card numbers for the news NER data set (``rows`` from ``news.generate``)."""
    from sft_helpers.data.news import (
        AMBIGUOUS,
        COMMON_NOUN_SENTENCES,
        HEADLINES,
        HELD_OUT_NAME_SHARE,
        HELD_OUT_TEMPLATE_SHARE,
        NO_ENTITY_SENTENCES,
        TEMPLATES,
        TYPES,
    )
    from sft_helpers.data.schema import CONLL2003_TAGS

    train, test = rows["train"], rows["test"]
    train_strings = {e.lower() for x in train for e, _ in entities(x["tokens"], x["tags"])}
    ambiguous = {w.lower() for words in AMBIGUOUS.values() for w in words}

    def mentions(r: list[dict]) -> list[tuple[str, str]]:
        return [m for x in r for m in entities(x["tokens"], x["tags"])]

    test_mentions = mentions(test)
    test_strings = {e.lower() for e, _ in test_mentions}
    out: dict[str, Any] = {
        "sizes": {s: len(r) for s, r in rows.items()},
        "tokens": {s: sum(len(x["tokens"]) for x in r) for s, r in rows.items()},
        "tags": {s: {t: sum(x["tags"].count(t) for x in r) for t in CONLL2003_TAGS} for s, r in rows.items()},
        "entities": {s: dict(Counter(k for _, k in mentions(r)).most_common()) for s, r in rows.items()},
        "types": list(TYPES),
        "templates": len(TEMPLATES) + len(HEADLINES) + len(COMMON_NOUN_SENTENCES) + len(NO_ENTITY_SENTENCES) + 1,
        "held_out_template_share": HELD_OUT_TEMPLATE_SHARE,
        "held_out_name_share": HELD_OUT_NAME_SHARE,
        "held_out_share": {s: _share([x["held_out"] for x in r]) for s, r in rows.items()},
        "distinct_patterns": {s: len({x["pattern"] for x in r}) for s, r in rows.items()},
        "distinct_patterns_all": len({x["pattern"] for r in rows.values() for x in r}),
        "near_duplicate_share": {
            s: round(near_duplicate_share([x["tokens"] for x in rows[s]], [x["tokens"] for x in train]), 4)
            for s in ("validation", "test")
        },
        "test_entity_strings_seen_in_train": _share([e in train_strings for e in sorted(test_strings)]),
        "test_entity_mentions_seen_in_train": _share([e.lower() in train_strings for e, _ in test_mentions]),
        "test_sentences": {
            "entity_at_start": _share([x["tags"][0] != "O" for x in test]),
            "multi_token_entity": _share([any(t.startswith("I-") for t in x["tags"]) for x in test]),
            "ambiguous_word": _share([any(w.lower() in ambiguous for w in x["tokens"]) for x in test]),
            "lowercased": _share([x["noise_kind"] == "lowercase" for x in test]),
            "all_caps": _share([x["pattern"].startswith(("headline", "dateline")) for x in test]),
            "typo": _share([x["noise_kind"] == "typo" for x in test]),
            "held_out": _share([x["held_out"] for x in test]),
            "noise": _share([x["noise"] for x in test]),
            "no_entity": _share([all(t == "O" for t in x["tags"]) for x in test]),
        },
    }
    tokens = [x["tokens"] for x in train]
    tags = [x["tags"] for x in train]
    scores: dict[str, Any] = {}
    for split in ("validation", "test"):
        r = rows[split]
        res = baselines.memorising_tagger(tokens, tags, [x["tokens"] for x in r], [x["tags"] for x in r])
        scores[split] = {k: round(res[k], 4) for k in ("f1", "precision", "recall")}
    unseen = [
        x for x in test
        if entities(x["tokens"], x["tags"]) and all(e.lower() not in train_strings for e, _ in entities(x["tokens"], x["tags"]))
    ]  # fmt: skip
    res = baselines.memorising_tagger(
        tokens, tags, [x["tokens"] for x in unseen], [x["tags"] for x in unseen]
    )
    scores["test_unseen_subset"] = {
        "sentences": len(unseen),
        **{k: round(res[k], 4) for k in ("f1", "precision", "recall")},
    }
    out["baselines"] = {"memorising": scores}
    return out
