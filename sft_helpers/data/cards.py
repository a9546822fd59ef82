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
(PER), organisations (ORG: companies, banks, universities, parties, newspapers, sports
clubs), locations (LOC: cities, countries, lakes, mountains, provinces) and miscellaneous
(MISC: nationalities, languages, events, titles of books, films and albums). Generated from
a fixed seed by [`sft_helpers/data/news.py`](../../news.py). It is built to be hard in the
ways real news is hard, while every label stays decidable from the sentence itself.

## How it is made
Hand-written templates in the style of wire news (business, politics, sport, culture,
results lines, datelines such as "LISBON 1996-03-04", upper-case headlines) have typed
slots: a person, a bare surname, a company, a club, a city, a country, a region, a
nationality, a language, an event, a title, a party, a newspaper. The words around a slot
make its type inferable ("shares in X rose", "X told reporters", "X beat Y 2-1"), so a
model can tag a name it has never seen. Optional openers ("On Monday ,") and closers
(", a spokesman for X said") multiply the patterns.

**New contexts.** The {st["templates"]} templates are shuffled with the seed and split 70/15/15:
training sentences use only the training templates; a validation or test sentence uses a
template of its own split (a context training never shows) with probability
{st["held_out_template_share"]}.

**New names and new name shapes.** Name pools (first names, surnames, cities, countries,
nationalities, company words, acronyms, lakes and mountains, title words) are split
70/15/15, so most test entities are new strings. Validation and test also have name
*shapes* of their own, used for {st["held_out_name_share"]} of their persons and for some companies, places
and events: in test, Arabic names with "bin" and "Al-"/"al-" ("Abdullah bin Rashid
Al-Mansouri") and Vietnamese family-name-first names ("Nguyen Van Thanh"), companies ending
"S.A.", "Sdn Bhd", "AG", "NV", places "X Province" and "Gulf of X", events "X Accord" and
"X Cup"; in validation, Icelandic patronymics, Thai names, Russian patronymics, "GmbH",
"Valley", "Biennale". Share of sentences with a held-out template or name shape: validation
{_pct(st["held_out_share"]["validation"])}, test {_pct(st["held_out_share"]["test"])}.

**Ambiguity decided by context.** Clubs are often named just like their city, so "Porto
beat Lisbon 2-1 in Lisbon" holds two clubs (ORG) and a place (LOC); words such as Florence,
Austin, Charlotte, Jordan, Houston, Lincoln, Berlin are first names, surnames and places;
Apple, Shell, Total, Next, Sky, Delta, Virgin are companies in some sentences and ordinary
words (tagged O) in others ("Total sales rose"); a nationality is MISC on its own
("Portuguese officials") but part of an ORG ("Portuguese Football Federation") or of a MISC
event ("Portuguese Open"), and a language is MISC ("spoke in Portuguese").

**Nested-looking and long spans.** "Bank of Lisbon", "University of Cape Town", "National
Bank of Portugal", "Lisbon Stock Exchange", "Kenya Airways" are one ORG each (the place
inside is not tagged separately); "Ho Chi Minh City", "Rio de Janeiro" one LOC; persons
with particles ("Jan van der Berg"), initials ("J. R. Tanaka"), second or hyphenated
surnames; titles of two to four ordinary words, quoted or not.

**Surface.** Headlines and datelines in capitals, {_pct(ts["lowercased"])} of test sentences in lower
case, typos (a swapped, dropped, doubled or mistyped letter, in an entity's word 70% of
the time), entities next to punctuation (possessive `'s`, parentheses "( Lisbon )",
quotes, "Lisbon , Portugal", lists "A , B and C"), and sentences with no entity at all
(some of them with capitalised titles such as "The Prime Minister").

Labelling rules: titles (Mr, Dr, President, mayor) are O; a club named after a city is ORG
where it plays, beats, signs or is supported; a city's council or mayor leaves the city LOC
("Lisbon council" = LOC + O); the possessive `'s` is O.

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
  {_pct(ts["multi_token_entity"])}; with an ambiguous word: {_pct(ts["ambiguous_word"])}; lower-cased:
  {_pct(ts["lowercased"])}; in capitals (headline or dateline): {_pct(ts["all_caps"])}; with a typo: {_pct(ts["typo"])};
  with a held-out template or name shape: {_pct(ts["held_out"])}; with no entity: {_pct(ts["no_entity"])}.

## Baseline: memorising tagger
Each word gets its most frequent tag in train (O when unseen); entity-level seqeval scores.

| split | F1 | precision | recall |
|---|---|---|---|
| validation | {mem["validation"]["f1"]:.3f} | {mem["validation"]["precision"]:.3f} | {mem["validation"]["recall"]:.3f} |
| test | {mem["test"]["f1"]:.3f} | {mem["test"]["precision"]:.3f} | {mem["test"]["recall"]:.3f} |
| test, only sentences whose entities are all unseen ({mem["test_unseen_subset"]["sentences"]}) | {mem["test_unseen_subset"]["f1"]:.3f} | {mem["test_unseen_subset"]["precision"]:.3f} | {mem["test_unseen_subset"]["recall"]:.3f} |

Memorising names fails on new names; a fine-tuned encoder (chapter 5) reads the context.

## Known limits
- Synthetic: templates, not real news. Sentences are short, with at most a few entities
  each, no nested or discontinuous entities, and no document context; some fillings are
  odd ("Turkey mayor ..." where a city slot drew an ambiguous place name).
- Its difficulty is made, not found: held-out templates and name shapes stand in for the
  new contexts and new names of real text, so a score here is not a score on real news
  (see chapter 5 for the real-data figure).
- The name pools are international but small; held-out name shapes are few per split.
- The lower-cased sentences remove the capitalisation cue on purpose; an uncased model
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
