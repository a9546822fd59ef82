"""Render the data cards (README.md of each bundled data set) from the computed stats."""

from __future__ import annotations

from typing import Any

from sft_helpers.data.reviews import LABELS, METADATA
from sft_helpers.data.schema import CONLL2003_TAGS
from sft_helpers.data.stats import NEAR_DUPLICATE_JACCARD

_HEADER = "<!-- Written by `python -m sft_helpers.data.generate`; do not edit by hand. -->\n"
_SPLITS = ("train", "validation", "test")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def classification_card(st: dict[str, Any]) -> str:
    """The card of the bundled review-sentiment data set."""
    labels = list(LABELS)  # stats.json stores dicts with sorted keys; keep the class order
    bow, bow2 = st["baselines"]["bag_of_words"], st["baselines"]["bag_of_words_bigrams"]
    phen = list(METADATA)
    rows = [[s, st["sizes"][s], *(st["labels"][s][n] for n in labels), st["mean_words"][s]] for s in _SPLITS]
    phen_rows = [[m, *(_pct(st["phenomena_share"][s][m]) for s in _SPLITS),
                  f"{bow['test'][f'accuracy_{m}']:.3f}"] for m in phen]  # fmt: skip
    return f"""{_HEADER}
# Bundled data set: product-review sentiment (3 classes)

Short English product reviews labelled **negative**, **mixed** (neutral or mixed feelings)
or **positive**, written by a compositional grammar in
[`sft_helpers/data/reviews.py`](../../reviews.py) from a fixed seed.

**Why product reviews.** Everyone has read them, so a learner can judge every label at a
glance; they naturally contain what makes sentiment hard for a bag of words: negation
("the lid is not bad at all"), contrast ("great screen, but the battery died"), a closing
verdict that overrides the rest, intensifiers, lukewarm words, and the casing and typos of
real user text. They carry no personal data.

## How it is made
A review is one to three clauses about a product and its parts (battery, zippers, ...):
a copula with an adjective ("the strap is really flimsy"), a verb phrase ("it stopped
working after two days"), a feeling ("I regret buying it") or a noun phrase ("great
screen"), joined by "and", contrast connectives or a closing verdict, sometimes after an
opener ("Bought this for my dad."). The label follows from the composed meaning, as a reader
would give it: negation flips a clause; after "but / however / yet / still / although X,"
the main clause wins; a closing verdict wins; good and bad side by side without a winner,
pros-and-cons lists, and lukewarm words are *mixed*. Noise: typos (swapped, dropped,
doubled or mistyped letters), whole reviews in lower case, a shouted word.

Words are split into pools: training uses only the `train` pool; about 35% of the
validation and of the test reviews are built with a pool held out for that split alone,
from which each word slot then draws with probability 0.6
(new adjectives such as "abysmal" or "flawless", products such as drones, intensifiers,
verdicts, negations such as "anything but", connectives such as "that said"). Those
reviews have `unseen_words = True`. No review text occurs in two splits.

## Schema
`load_classification()` gives a `DatasetDict` with `train`, `validation`, `test`; columns
`text` (string), `label` (ClassLabel {labels}) and the booleans `negation`, `contrast`,
`intensifier`, `unseen_words`, `noise` (what the generator put into the review). Files:
`train.tsv`, `validation.tsv`, `test.tsv` (tab-separated, header, booleans as 0/1).

## Sizes and labels
{_table(["split", "reviews", *labels, "mean words"], rows)}

Distinct patterns (structure, connective, clause kinds and negation forms): {st["distinct_patterns"]["train"]}
in train, {st["distinct_patterns_all"]} in all; {_pct(st["test_patterns_unseen_in_train"])} of the test reviews
use a pattern that never occurs in train. Training vocabulary: {st["vocabulary_size_train"]} lowercased words.

Near duplicates: a review has one when some training review has token Jaccard similarity
>= {NEAR_DUPLICATE_JACCARD} with it (lowercased word sets, punctuation dropped).
Validation: {_pct(st["near_duplicate_share"]["validation"])}, test: {_pct(st["near_duplicate_share"]["test"])}.

## Phenomena and the bag-of-words baseline
Share of reviews with each phenomenon, and the test accuracy of the bag-of-words baseline
on the reviews that have it:

{_table(["phenomenon", "train", "validation", "test", "BoW test accuracy"], phen_rows)}

## Baselines (trained on train only)
| model | validation accuracy | test accuracy | test macro-F1 | test, seen words | test, unseen words |
|---|---|---|---|---|---|
| majority class ({st["baselines"]["majority"]["label"]}) | | {st["baselines"]["majority"]["test_accuracy"]:.3f} | | | |
| bag of words + logistic regression | {bow["validation"]["accuracy"]:.3f} | {bow["test"]["accuracy"]:.3f} | {bow["test"]["macro_f1"]:.3f} | {bow["test"]["accuracy_seen_words"]:.3f} | {bow["test"]["accuracy_unseen_words"]:.3f} |
| same with word pairs (1-2 grams) | {bow2["validation"]["accuracy"]:.3f} | {bow2["test"]["accuracy"]:.3f} | {bow2["test"]["macro_f1"]:.3f} | {bow2["test"]["accuracy_seen_words"]:.3f} | {bow2["test"]["accuracy_unseen_words"]:.3f} |

Word counts cannot tell "good, but bad" from "bad, but good", nor use a word never seen
in training: that gap is what fine-tuning a pretrained encoder (chapter 4) closes.
(`sft_helpers.baselines.bag_of_words`, scikit-learn, default regularisation.)

## Known limits
- Synthetic: a grammar, not real users. Phrasing is cleaner and more regular than real
  reviews, sarcasm and irony are absent, and the labels follow the grammar's rules
  (e.g. "although" clauses are always minor), which real readers may sometimes dispute.
- English only, one domain (consumer products), short texts (one to three sentences).
- Some clause-subject pairs are odd ("the rain fly does not hold a charge").
- Scores move by about a point with scikit-learn versions; `--check` allows 0.02.

## Regenerate and check
`python -m sft_helpers.data.generate` rewrites the files, `stats.json` and this card;
`python -m sft_helpers.data.generate --check` regenerates into a temporary folder and
reports any difference. The data files are reproduced byte for byte and listed with
their SHA-256 in `../MANIFEST.sha256`.

## Licence
MIT, like the rest of the SFT Workbook: written and generated by the project.
"""


def ner_card(st: dict[str, Any]) -> str:
    """The card of the bundled news NER data set."""
    tags = list(CONLL2003_TAGS)
    types = st["types"]
    size_rows = [
        [s, st["sizes"][s], st["tokens"][s], *(st["entities"][s].get(t, 0) for t in types)] for s in _SPLITS
    ]
    tag_rows = [[t, *(st["tags"][s][t] for s in _SPLITS)] for t in tags]
    ts = st["test_sentences"]
    mem = st["baselines"]["memorising"]
    return f"""{_HEADER}
# Bundled data set: news named-entity recognition (PER, ORG, LOC, MISC)

English news-style sentences tagged in IOB2 with the four CoNLL-2003 types: persons
(PER), organisations (ORG: companies, banks, universities, sports clubs), locations (LOC:
cities, countries) and miscellaneous (MISC: nationalities and events). Generated from a
fixed seed by [`sft_helpers/data/news.py`](../../news.py).

## How it is made
Hand-written templates in the style of wire news (business, politics, sport, culture,
datelines such as "LISBON 1996-03-04", upper-case headlines) have typed slots: a person,
a surname after "Mr", a company, a club, a city, a country, a nationality, an event. The
words around a slot make its type inferable ("shares in X rose", "X told reporters",
"police in X"), so a model can tag a name it has never seen. Optional openers ("On
Monday ,") and closers (", a spokesman for X said") multiply the patterns.

Name pools (first names, surnames, cities, countries, nationalities, company words,
acronyms) are shuffled with the seed and split 70/15/15 into train, validation and test
pools, so most validation and test entities are new. Names are composed (first name plus
one or two surnames, "Bank of <city>", "<word> Holdings", "<city> Rovers", "<nationality>
Open"), which gives multi-token entities. A small pool of ambiguous words appears in every
split with the type its context gives it: Jordan and Washington (person or place), Apple,
Amazon, Orange, Shell, Jaguar (company) and Chelsea (club or person), Paris, Georgia,
Sydney, Victoria (place or person); sentences about apples, orange juice or turkey tag
those words O. A few big places (London, China, ...) and organisations (Reuters, NATO, ...)
recur in every split. Noise: 8% of sentences in lower case, 6% with a typo.

## Schema
`load_ner()` gives a `DatasetDict` with `train`, `validation`, `test`; columns `tokens`
(list of strings) and `ner_tags` (list of ClassLabel, the hub's CoNLL-2003 order
{tags}). Files: `train.txt`, `validation.txt`, `test.txt` in CoNLL columns (`word tag`,
a blank line between sentences).

## Sizes
{_table(["split", "sentences", "tokens", *(f"{t} entities" for t in types)], size_rows)}

Tag counts:

{_table(["tag", *_SPLITS], tag_rows)}

Hand-written templates: {st["templates"]}; distinct patterns (template plus opener and closer):
{st["distinct_patterns"]["train"]} in train, {st["distinct_patterns_all"]} in all.

## Overlap between test and train
- Test entity strings also seen (as an entity) in train: {_pct(st["test_entity_strings_seen_in_train"])} of the
  distinct strings, {_pct(st["test_entity_mentions_seen_in_train"])} of the mentions (the ambiguous
  words, a few big places such as London or China, and common organisations such as Reuters,
  which recur in every split as they do in real news).
- Near duplicates (token Jaccard >= {NEAR_DUPLICATE_JACCARD}, lowercased word sets, with some
  training sentence): validation {_pct(st["near_duplicate_share"]["validation"])}, test {_pct(st["near_duplicate_share"]["test"])}.
- Test sentences that start with an entity: {_pct(ts["entity_at_start"])}; with a multi-token entity:
  {_pct(ts["multi_token_entity"])}; with an ambiguous word: {_pct(ts["ambiguous_word"])}; all lower case:
  {_pct(ts["lowercased"])}; with any noise: {_pct(ts["noise"])}; with no entity: {_pct(ts["no_entity"])}.

## Baseline: memorising tagger
Each word gets its most frequent tag in train (O when unseen); entity-level seqeval scores.

| split | F1 | precision | recall |
|---|---|---|---|
| validation | {mem["validation"]["f1"]:.3f} | {mem["validation"]["precision"]:.3f} | {mem["validation"]["recall"]:.3f} |
| test | {mem["test"]["f1"]:.3f} | {mem["test"]["precision"]:.3f} | {mem["test"]["recall"]:.3f} |
| test, only sentences whose entities are all unseen ({mem["test_unseen_subset"]["sentences"]}) | {mem["test_unseen_subset"]["f1"]:.3f} | {mem["test_unseen_subset"]["precision"]:.3f} | {mem["test_unseen_subset"]["recall"]:.3f} |

Memorising names fails on new names; a fine-tuned encoder (chapter 5) reads the context.

## Known limits
- Synthetic: templates, not real news; sentences are short and regular, with at most a
  few entities each, and no nested or discontinuous entities.
- The name pools are international but small; MISC covers only nationalities and events.
- The all-lower-case sentences remove the capitalisation cue on purpose; an uncased model
  (the course's MiniLM) never sees it anyway.

## Regenerate and check
`python -m sft_helpers.data.generate` rewrites the files, `stats.json` and this card;
`python -m sft_helpers.data.generate --check` regenerates into a temporary folder and
reports any difference. The data files are listed with their SHA-256 in `../MANIFEST.sha256`.

## Licence
MIT, like the rest of the SFT Workbook: written and generated by the project. Person
names are common given names and surnames combined at random; any resemblance to real
people is coincidental.
"""
