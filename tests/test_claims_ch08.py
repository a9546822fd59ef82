"""Chapter 8's prose claims, checked against the stored full-mode run (recorded results and outputs).

Each computed sentence picks a branch from the run's numbers; these tests fail when the
branch stored, or a statement the markdown makes, is not what the stored numbers support.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "08_extractive_qa.ipynb"


def _cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def test_about_a_third_of_the_questions_are_unanswerable(results: dict, markdown: str) -> None:
    assert "about a third" in markdown
    assert 0.25 <= results["share_unanswerable_train"] <= 0.4


def test_long_paragraphs_need_several_windows_and_the_answer_is_labelled(results: dict, outputs: str) -> None:
    """Section 4: 'The windows overlap ... the answer is labelled in the window or windows that hold it whole'."""
    assert results["long_example_windows"] >= 2
    windows = re.findall(r"window (\d+): \d+ tokens, context characters \[(\d+), (\d+)\), label \[(\d+), (\d+)\]", outputs)
    assert len(windows) == results["long_example_windows"]
    for (_, _, end_a, *_), (_, start_b, *_) in zip(windows, windows[1:]):
        assert int(start_b) < int(end_a)  # consecutive windows overlap
    assert any(label != ("0", "0") for *_, s, e in windows for label in [(s, e)])


def test_the_chapter_runs_on_the_learners_functions(outputs: str) -> None:
    assert "Using your char_to_token_span (its check passed) in the rest of the chapter." in outputs
    assert "Using your best_span (its check passed) in the rest of the chapter." in outputs
    source = "\n".join(_text(c["source"]) for c in _cells() if c["cell_type"] == "code")
    assert '"span_fn": span_fn' in source and source.count("best_span_fn=span_search") >= 3 and "span_search(s_w.tolist()" in source


def test_baseline_sentence_matches_its_scores(results: dict, outputs: str) -> None:
    if "it scores by abstaining" in outputs:
        assert results["baseline_noans_f1"] > results["baseline_hasans_f1"] + 30
    else:
        assert "word overlap finds the right sentence" in outputs


def test_the_reader_beats_the_baseline_and_is_not_perfect(results: dict, outputs: str, markdown: str) -> None:
    gap = results["test_f1"] - results["baseline_f1"]
    assert f"{gap:.1f} F1 points above the word-overlap baseline" in outputs
    assert gap >= 20
    assert "It is not perfect although the paragraphs come from templates" in outputs
    assert results["test_f1"] < 95
    assert "reader does much better" in markdown


def test_threshold_sentence(results: dict, outputs: str) -> None:
    delta = results["test_f1"] - results["test_f1_threshold0"]
    if abs(delta) < 1:
        assert f"changed test F1 by {delta:+.1f} points: hardly at all" in outputs
    else:
        assert f"moved test F1 by {delta:+.1f} points" in outputs


def test_long_paragraph_sentence(results: dict, outputs: str) -> None:
    n, diff = results["test_long_questions"], results["test_f1_long"] - results["test_f1_short"]
    if n < 10:
        assert "too few to compare" in outputs
    elif abs(diff) < 5:
        assert "no clear difference at this size" in outputs
    else:
        assert ("lower" if diff < 0 else "higher") in outputs


def test_error_sentence_names_the_largest_kind(results: dict, outputs: str) -> None:
    counts = dict(re.findall(r"^(answered an unanswerable question|no answer, but there was one|partly right span|"
                             r"wrong span)\s+(\d+)$", outputs, flags=re.M))  # fmt: skip
    counts = {k: int(v) for k, v in counts.items()}
    assert sum(counts.values()) == results["test_errors"]
    assert counts["answered an unanswerable question"] == results["test_answered_unanswerable"]
    top = max(counts, key=counts.get)
    assert f"The largest kind of error is *{top}*" in outputs


def test_the_pipeline_is_gone_and_the_saved_folder_answers(outputs: str) -> None:
    assert "pipeline('question-answering') -> KeyError" in outputs
    assert "Which company did Marta Lindqvist join?" in outputs
    assert re.search(r"Which company did Marta Lindqvist join\?\s+-> 'Halcyon Energy'", outputs)


def test_the_baseline_scores_mostly_by_abstaining(results: dict, markdown: str) -> None:
    assert 'earns most of its score by saying "no answer"' in markdown
    assert results["baseline_noans_f1"] > 90 and results["baseline_hasans_f1"] < 25
    assert results["test_hasans_f1"] > results["baseline_hasans_f1"] + 50  # much better on answerable questions
