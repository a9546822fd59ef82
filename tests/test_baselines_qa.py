"""The sliding-window word-overlap QA baseline: candidates, scoring, the tuned threshold, its scores."""

from __future__ import annotations

import pytest

from sft_helpers import baselines_qa as b
from sft_helpers.data import load_qa


def test_candidates_are_name_like_chunks_within_a_clause() -> None:
    context = "In 1904 Arjun Smith set up Westfield Foods in Sfax. Today it makes solar panels, says the University of Lyon."
    words = [w for w, _, _ in b.words_with_offsets(context)]
    chunks = [" ".join(words[i:j]) for i, j in b.candidates(context)]
    assert chunks == ["1904", "Arjun Smith", "Westfield Foods", "Sfax", "University of Lyon"]


def test_predict_one_picks_the_name_near_the_question_words() -> None:
    context = "Lena Berg was born in Porto. Her brother Tomas Berg lives in Kyoto."
    assert b.predict_one("Where was Lena Berg born?", context)[0] == "Porto"
    assert b.predict_one("Where does Tomas Berg live?", context)[0] == "Kyoto"
    text, score = b.predict_one("When was Lena Berg born?", context)  # no number: nothing fits
    assert text == "" and score == 0.0
    assert b.predict_one("the of a?", context) == ("", 0.0)


def test_threshold_turns_weak_matches_into_no_answer() -> None:
    data = {"id": ["1", "2"], "question": ["Where was Lena Berg born?", "Which river flows through Oslo?"],
            "context": ["Lena Berg was born in Porto."] * 2,
            "answers": [{"text": ["Porto"], "answer_start": [22]}, {"text": [], "answer_start": []}]}  # fmt: skip
    assert b.predict(data, threshold=0.0)["2"] != ""
    threshold, f1 = b.tune_threshold(data)
    assert f1 == pytest.approx(100.0)
    assert b.predict(data, threshold) == {"1": "Porto", "2": ""}


def test_on_the_bundled_data_it_is_a_weak_but_real_baseline() -> None:
    dd = load_qa()
    out = b.evaluate(dd["validation"], dd["test"])
    s = out["scores"]
    assert 20 <= s["f1"] <= 60  # far from the fine-tuned reader, far above nothing
    always = b.predict(dd["test"], threshold=0.0)
    from sft_helpers.qa import squad_v2_scores

    answered = squad_v2_scores(always, dd["test"])
    assert 20 <= answered["HasAns_f1"] <= 60
    assert 0.6 <= b.answer_in_candidates(dd["test"]) <= 1.0
