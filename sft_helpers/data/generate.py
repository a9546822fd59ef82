"""Regenerate the bundled data sets, their manifest and their data cards.

    python -m sft_helpers.data.generate            # rewrite sft_helpers/data/bundled/
    python -m sft_helpers.data.generate --check    # regenerate into a temporary folder and compare

The data files depend only on the seed and are reproduced byte for byte. The cards'
numbers (baseline scores, overlaps) are computed here; ``--check`` accepts scores within
``TOLERANCE`` of the committed ones, since library versions move them slightly.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from sft_helpers.data import bundled, news, qa, reviews

SEED = 13
TOLERANCE = 0.02  # absolute, for every float in stats.json
STATS_FILE = "stats.json"


def write_data(folder: str | Path, seed: int = SEED) -> tuple[dict, dict]:
    """Generate the data sets into ``folder`` (plus the manifest); returns the generators' rows.

    The question-answering files (``qa/*.json``) are written too, by :func:`write_qa`.
    """
    folder = Path(folder)
    review_rows = reviews.generate(seed)
    news_rows = news.generate(seed)
    (folder / "classification").mkdir(parents=True, exist_ok=True)
    (folder / "ner").mkdir(parents=True, exist_ok=True)
    for split in bundled.SPLITS:
        text = bundled.classification_tsv(review_rows[split])
        (folder / "classification" / f"{split}.tsv").write_text(text, encoding="utf-8", newline="\n")
        sentences = [(r["tokens"], r["tags"]) for r in news_rows[split]]
        (folder / "ner" / f"{split}.txt").write_text(
            bundled.conll_text(sentences), encoding="utf-8", newline="\n"
        )
    write_qa(folder, seed)
    bundled.write_manifest(folder)
    return review_rows, news_rows


def write_qa(folder: str | Path, seed: int = SEED) -> dict[str, list[dict]]:
    """The question-answering data set (``qa/{split}.json``, SQuAD 2.0 layout); returns its rows."""
    rows = qa.generate(seed)
    (Path(folder) / "qa").mkdir(parents=True, exist_ok=True)
    for split in bundled.SPLITS:
        (Path(folder) / "qa" / f"{split}.json").write_text(qa.squad_json(rows[split]), encoding="utf-8", newline="\n")
    return rows


def compute_stats(review_rows: dict, news_rows: dict, seed: int = SEED) -> dict[str, dict[str, Any]]:
    """Every number the two cards print, computed from the generated rows."""
    from sft_helpers.data import qa_card, stats

    return {
        "classification": stats.classification_stats(review_rows, seed),
        "ner": stats.ner_stats(news_rows),
        "qa": qa_card.qa_stats(qa.generate(seed)),
    }


def write_cards(folder: str | Path, all_stats: dict[str, dict[str, Any]]) -> None:
    """Write ``stats.json`` and the ``README.md`` card into each data set's folder."""
    from sft_helpers.data import cards, qa_card

    folder = Path(folder)
    renderers = (("classification", cards.classification_card), ("ner", cards.ner_card), ("qa", qa_card.qa_card))
    for name, render in renderers:
        st = all_stats[name]
        (folder / name / STATS_FILE).write_text(
            json.dumps(st, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        (folder / name / "README.md").write_text(render(st), encoding="utf-8", newline="\n")


def compare_stats(expected: Any, actual: Any, where: str = "", tolerance: float = TOLERANCE) -> list[str]:
    """Differences between two stats trees: floats beyond ``tolerance``, anything else unequal."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        problems = []
        for key in sorted(set(expected) | set(actual)):
            if key not in expected or key not in actual:
                problems.append(f"{where}/{key}: present in only one of the two")
            else:
                problems += compare_stats(expected[key], actual[key], f"{where}/{key}", tolerance)
        return problems
    if isinstance(expected, float) or isinstance(actual, float):
        if abs(float(expected) - float(actual)) > tolerance:
            return [f"{where}: {expected} committed, {actual} recomputed (tolerance {tolerance})"]
        return []
    return [] if expected == actual else [f"{where}: {expected!r} committed, {actual!r} recomputed"]


def check(reference: Path, seed: int = SEED, with_stats: bool = True) -> list[str]:
    """Regenerate into a temporary folder; list every difference from ``reference``."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        review_rows, news_rows = write_data(tmp, seed)
        for rel in [*bundled.data_files(), bundled.MANIFEST]:
            ours, theirs = Path(tmp) / rel, reference / rel
            if not theirs.is_file():
                problems.append(f"{theirs} is missing")
            elif ours.read_bytes() != theirs.read_bytes():
                problems.append(f"{theirs} differs from the regenerated file")
    if with_stats:
        recomputed = compute_stats(review_rows, news_rows, seed)
        for name, st in recomputed.items():
            committed = reference / name / STATS_FILE
            if not committed.is_file():
                problems.append(f"{committed} is missing")
                continue
            problems += compare_stats(json.loads(committed.read_text(encoding="utf-8")), st, name)
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare a regeneration with the committed files"
    )
    parser.add_argument("--out", type=Path, default=bundled.bundled_dir(), help="folder to write (or check)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--data-only", action="store_true", help="skip the baselines and the cards")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out, args.seed, with_stats=not args.data_only)
        for p in problems:
            print(f"[DIFF] {p}")
        print("OK: regenerated files match." if not problems else f"{len(problems)} difference(s).")
        return 1 if problems else 0
    review_rows, news_rows = write_data(args.out, args.seed)
    print(f"wrote the data files and {bundled.MANIFEST} under {args.out}")
    if not args.data_only:
        all_stats = compute_stats(review_rows, news_rows, args.seed)
        write_cards(args.out, all_stats)
        c, n = all_stats["classification"], all_stats["ner"]
        print(
            f"classification: bag-of-words accuracy on test {c['baselines']['bag_of_words']['test']['accuracy']:.3f}"
        )
        print(f"ner: memorising tagger F1 on test {n['baselines']['memorising']['test']['f1']:.3f}")
        print(f"qa: word-overlap baseline F1 on test {all_stats['qa']['baseline']['test']['f1']:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
