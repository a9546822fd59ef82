"""Chapter 5's prose claims, checked against the stored full-mode run (recorded results and outputs).

Every sentence the chapter computes picks a branch from its numbers; these tests read the
committed notebook and fail when the branch it stored, or a statement its markdown makes,
is not what the stored numbers support.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "05_sft_ner.ipynb"


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


@pytest.fixture(scope="module")
def markdown() -> str:
    return "\n".join(_text(c["source"]) for c in _cells() if c["cell_type"] == "markdown")


# ------------------------------------------------------------------------------ section 2: the snippet
def test_the_snippet_shows_each_defect_it_names(results: dict, outputs: str) -> None:
    assert results["snippet_uncased_same_ids"] is True  # "Apple" and "apple": the same input ids
    assert "'LABEL_3'" in outputs  # num_labels=9 without id2label: the labels have no names
    assert results["snippet_loss_is_none"] is True
    assert "AttributeError: 'NoneType' object has no attribute 'backward'" in outputs  # the loop crashes
    assert re.search(r"Expected input batch_size \(\d+\) to match target batch_size \(\d+\)", outputs)


def test_the_repaired_snippet_sentence_matches_its_losses(results: dict, outputs: str) -> None:
    first, last = results["snippet_fixed_loss_first"], results["snippet_fixed_loss_last"]
    if "and the loop trains" in outputs:
        assert last < first
    else:
        assert "inconclusive here" in outputs and last >= first
    assert "id2label: {0: 'O', 1: 'B-PER', 2: 'I-PER', 3: 'B-ORG'" in outputs  # the repaired model's names


def test_the_chapter_trains_with_the_learners_alignment(outputs: str) -> None:
    assert "Using your align_labels (its check passed) in the rest of the chapter." in outputs
    source = "\n".join(_text(c["source"]) for c in _cells() if c["cell_type"] == "code")
    assert source.count("align=align") >= 3  # snippet, fine_tune (train and validation), real data


# ------------------------------------------------------------------------------ strategies, baseline
def test_strategy_sentence(results: dict, outputs: str) -> None:
    assert results["strategy_first_loop_f1"] == pytest.approx(results["strategy_first_word_f1"], abs=1e-9)
    gap = results["strategy_first_word_f1"] - results["strategy_all_word_f1"]
    if "too close to call" in outputs:
        assert abs(gap) < 0.03
    else:
        winner = "first subword" if gap > 0 else "all subwords"
        assert f"Per word, {winner} wins here by {abs(gap):.3f}" in outputs


def test_the_baseline_is_a_lookup_table(results: dict, outputs: str) -> None:
    """'finds ... of the test entities whose exact string was an entity in training, and ... of the others'."""
    assert "The baseline finds" in outputs
    assert results["memorising_seen_recall"] > results["memorising_unseen_recall"] + 0.3
    assert results["memorising_unseen_recall"] < 0.05


# ------------------------------------------------------------------------------ sections 5-6
def test_the_tagger_beats_the_baseline_and_tags_unseen_names(results: dict, outputs: str) -> None:
    assert results["test_entity_f1"] > results["memorising_test_f1"] + 0.5
    assert "it tags from the context and the subword pieces" in outputs
    assert results["test_unseen_recall"] >= results["memorising_unseen_recall"] + 0.5


def test_how_to_read_the_test_score(results: dict, outputs: str) -> None:
    f1, wrong, n = results["test_entity_f1"], results["test_entities_wrong"], results["test_entities"]
    assert ("The bundled test set is easy" in outputs) == (f1 >= 0.98)
    assert f"gets {n - wrong} of the {n} test entities exactly right" in outputs or f1 < 0.98
    assert 0 <= wrong <= n


def test_token_accuracy_flatters(results: dict, outputs: str) -> None:
    """'most words are O ... a tagger that says O everywhere is right most of the time and finds nothing'."""
    assert results["share_o_train"] > 0.5
    assert results["all_o_token_accuracy"] > 0.5
    if "token accuracy barely tells the two apart" in outputs:
        assert results["memorising_token_accuracy"] - results["all_o_token_accuracy"] < 0.1
        assert results["memorising_test_f1"] > 0.05


def test_error_analysis_does_not_over_read_a_handful_of_errors(results: dict, outputs: str) -> None:
    if results["tagger_error_count"] < 20:
        assert "too few to say which kind dominates" in outputs
    else:
        assert "the largest bin is" in outputs


def test_seen_unseen_sentence(results: dict, outputs: str) -> None:
    if results["test_entities_wrong"] < 20:
        assert "too few to tell whether names it saw in training are easier" in outputs
    elif results["test_seen_recall"] - results["test_unseen_recall"] > 0.02:
        assert "Names seen in training are easier" in outputs
    else:
        assert "found about equally often" in outputs


def test_redaction_reduces_exposure(results: dict) -> None:
    assert results["redaction_leak_rate"] < 0.1


# ------------------------------------------------------------------------------ pointers and title
def test_the_next_chapter_pointer_names_what_chapter_6_is(markdown: str) -> None:
    assert "Next, chapter 6: SFT in practice" in markdown
    assert "checkpoints and resuming, and" not in markdown  # the old pointer to a section that does not exist
    assert "python -m sft_helpers train --resume" in markdown
    chapter6 = json.loads((ROOT / "notebooks" / "06_sft_in_practice.ipynb").read_text(encoding="utf-8"))
    assert "in practice" in _text(chapter6["cells"][0]["source"]).lower()


def test_the_title_types_no_time_estimate() -> None:
    title = _text(_cells()[0]["source"])
    assert not re.search(r"\d+\s*(seconds?|minutes?|min\b|s\b)", title)
    assert "README" in title
