"""Statistics and data card of the bundled question-answering data set (``bundled/qa/``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sft_helpers.data.qa import KINDS, SIZES, UNANSWERABLE_SHARE

_HEADER = "<!-- Written by `python -m sft_helpers.data.generate`; do not edit by hand. -->\n"
_SPLITS = ("train", "validation", "test")
WINDOW = 128  # the chapter's max_length: a question + context pair longer than this needs several windows
QUESTION_TYPES = ("who", "when", "where", "which", "what", "how many")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _columns(rows: list[dict[str, Any]]) -> dict[str, list]:
    return {k: [r[k] for r in rows] for k in ("id", "question", "context", "answers")}


def qa_stats(rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Every number the QA card prints, computed from the generated rows (and the bundled tokenizer)."""
    from transformers import AutoTokenizer

    from sft_helpers import baselines_qa
    from sft_helpers.models import bundled_encoder_path

    tokenizer = AutoTokenizer.from_pretrained(str(bundled_encoder_path()), local_files_only=True)
    st: dict[str, Any] = {"sizes": {}, "paragraphs": {}, "unanswerable": {}, "long_pairs": {},
                          "mean_context_words": {}, "answer_after_first_sentence": {}, "question_types": {},
                          "kinds": {}, "max_pair_tokens": {}}  # fmt: skip
    for split in _SPLITS:
        r = rows[split]
        lengths = [len(tokenizer(x["question"], x["context"])["input_ids"]) for x in r]
        answered = [x for x in r if x["answers"]["text"]]
        later = [x for x in answered if "." in x["context"][: x["answers"]["answer_start"][0]]]
        st["sizes"][split] = len(r)
        st["paragraphs"][split] = len({x["context"] for x in r})
        st["unanswerable"][split] = sum(not x["answers"]["text"] for x in r) / len(r)
        st["long_pairs"][split] = sum(n > WINDOW for n in lengths) / len(r)
        st["max_pair_tokens"][split] = max(lengths)
        st["mean_context_words"][split] = sum(len(x["context"].split()) for x in r) / len(r)
        st["answer_after_first_sentence"][split] = len(later) / len(answered)
        st["question_types"][split] = dict(Counter(x["type"] for x in r))
        st["kinds"][split] = dict(Counter(x["kind"] for x in r))
    train_answers = {t.lower() for x in rows["train"] for t in x["answers"]["text"]}
    test_answered = [x for x in rows["test"] if x["answers"]["text"]]
    st["test_answers_seen_in_train"] = sum(x["answers"]["text"][0].lower() in train_answers for x in test_answered) / len(
        test_answered
    )
    train_contexts = {x["context"] for x in rows["train"]}
    st["test_contexts_in_train"] = sum(x["context"] in train_contexts for x in rows["test"]) / len(rows["test"])
    validation, test = _columns(rows["validation"]), _columns(rows["test"])
    result = baselines_qa.evaluate(validation, test)
    no_threshold = baselines_qa.predict(test, threshold=0.0)
    from sft_helpers.qa import squad_v2_scores

    st["baseline"] = {
        "threshold": result["threshold"],
        "test": {k: v for k, v in result["scores"].items() if not k.endswith("total")},
        "test_always_answer": {k: v for k, v in squad_v2_scores(no_threshold, test).items() if not k.endswith("total")},
        "answer_among_candidates": baselines_qa.answer_in_candidates(test),
    }
    return st


def qa_card(st: dict[str, Any]) -> str:
    """The card of the bundled QA data set."""

    def row(name: str, values: dict[str, Any], fmt=str) -> str:
        return f"| {name} | " + " | ".join(fmt(values[s]) for s in _SPLITS) + " |"

    types = "\n".join(
        f"| {t} | " + " | ".join(str(st["question_types"][s].get(t, 0)) for s in _SPLITS) + " |" for t in QUESTION_TYPES
    )
    kinds = "\n".join(
        f"| {k} | " + " | ".join(str(st["kinds"][s].get(k, 0)) for s in _SPLITS) + " |" for k in KINDS
    )
    b, a = st["baseline"]["test"], st["baseline"]["test_always_answer"]
    return f"""{_HEADER}
# Bundled data set: extractive question answering (SQuAD 2.0 style)

Short English paragraphs about invented people, companies, cup finals and cities, with
questions whose answer is a span of the paragraph, and questions the paragraph cannot
answer (target share {_pct(UNANSWERABLE_SHARE)}), as in SQuAD 2.0. Generated from a fixed
seed by [`sft_helpers/data/qa.py`](../../qa.py); read with `sft_helpers.data.load_qa()`.

## How it is made
Each paragraph states a random record of facts (a person's birthplace, studies, employer,
prize, home; a company's founder, product, chief executive, staff, acquisition; a final's
teams, score, scorers, coaches, crowd; a city's country, river, population, mayor, twin
town), each fact in one of two or three wordings, and a second entity of the same type
with some facts of its own (a sibling, a rival company, the losing team, a twin town).
Questions ask for a fact in other words ("Which city does X come from?" against "X, a
native of Lyon"); later sentences refer to the entity as "she" or "the company".
Unanswerable questions ask for a fact the paragraph leaves out, or for a fact it states
only about the *other* entity ("Where was X's sister born?" next to X's own birthplace),
so a word-matching reader finds a plausible wrong answer. A quarter of the paragraphs
start with filler and extra distractor sentences, so the question and paragraph together
exceed the chapter's {WINDOW}-token window and the answer lies in a later window. Name pools
are split 70/15/15 by the seed, so most validation and test names never occur in training.

## Schema
`load_qa()` gives a `DatasetDict` with `train`, `validation`, `test`; columns `id`,
`title`, `context`, `question`, `answers` (`text`: list of strings, `answer_start`: list of
character offsets; both empty for an unanswerable question), the schema of the hub's
squad_v2. Files: `train.json`, `validation.json`, `test.json` in the official SQuAD 2.0
layout (`data` > `paragraphs` > `qas`, with `is_impossible`).

## Sizes
| | train | validation | test |
|---|---|---|---|
{row("questions", st["sizes"])}
{row("paragraphs", st["paragraphs"])}
{row("unanswerable", st["unanswerable"], _pct)}
{row(f"question + paragraph > {WINDOW} tokens", st["long_pairs"], _pct)}
{row("longest pair (tokens)", st["max_pair_tokens"])}
{row("mean paragraph length (words)", st["mean_context_words"], lambda x: f"{x:.1f}")}
{row("answer after the first sentence", st["answer_after_first_sentence"], _pct)}

Questions by type (first words of the question):

| type | train | validation | test |
|---|---|---|---|
{types}

Paragraphs by kind (questions):

| kind | train | validation | test |
|---|---|---|---|
{kinds}

Requested sizes: {SIZES}.

## Overlap between test and train
- Test answers whose string also answers some training question: {_pct(st["test_answers_seen_in_train"])}
  (years, days, scores and numbers recur; names mostly do not).
- Test paragraphs that also occur in train: {_pct(st["test_contexts_in_train"])}.

## Baseline: sliding-window word overlap
`sft_helpers.baselines_qa`: candidate answers are the name-like chunks of the paragraph
(capitalised words, numbers); each scores the share of the question's content words within
eight words of it in its sentence; the best is the answer unless its score is below a
threshold tuned on validation ({st["baseline"]["threshold"]:.2f}), then "no answer". Scores
on test, in percent, as the official SQuAD 2.0 script computes them:

| | EM | F1 | answerable EM | answerable F1 | unanswerable (EM = F1) |
|---|---|---|---|---|---|
| tuned threshold | {b["exact"]:.1f} | {b["f1"]:.1f} | {b["HasAns_exact"]:.1f} | {b["HasAns_f1"]:.1f} | {b["NoAns_exact"]:.1f} |
| always answer | {a["exact"]:.1f} | {a["f1"]:.1f} | {a["HasAns_exact"]:.1f} | {a["HasAns_f1"]:.1f} | {a["NoAns_exact"]:.1f} |

The right answer is among its candidates for {_pct(st["baseline"]["answer_among_candidates"])} of the
answerable test questions (lower-case answers such as "solar panels" never are).

## Known limits
- Synthetic: four kinds of paragraph from templates, short and regular; a model can learn
  the templates, so scores here are far above what the same recipe reaches on SQuAD.
- One gold answer per question (SQuAD's dev set has up to five).
- Unanswerable questions come from two recipes only (a left-out fact, a fact of the other
  entity); SQuAD 2.0's crowd workers wrote more varied ones.

## Regenerate and check
`python -m sft_helpers.data.generate` rewrites the files, `stats.json` and this card;
`python -m sft_helpers.data.generate --check` regenerates into a temporary folder and
reports any difference. The data files are listed with their SHA-256 in `../MANIFEST.sha256`.

## Licence
MIT, like the rest of the SFT Workbook: written and generated by the project. Names are
common given names and surnames combined at random; companies, clubs and prizes are
invented; any resemblance to real ones is coincidental.
"""
