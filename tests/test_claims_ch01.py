"""Chapter 1's prose claims, checked against the stored full-mode run (its recorded results and outputs).

Each test fails when a sentence of the chapter (typed or generated) is not backed by the numbers
the committed run printed beside it.
"""

from __future__ import annotations

import re
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_embeddings.ipynb"
SLICES = ("negation", "contrast", "unseen_words")


def test_the_learners_lookup_passes_and_feeds_section_2(outputs: str) -> None:
    assert "PASSED one-hot embedding lookup" in outputs
    assert "Using your one_hot_embedding" in outputs
    assert "equal the model's lookup: True" in outputs


def test_the_cosine_sentence(results: dict) -> None:
    """'king is closer to queen than to apple, cat closer to dog than to car; good and bad about as
    close as good and great'."""
    assert results["cos_king_queen"] > results["cos_king_apple"]
    assert results["cos_cat_dog"] > results["cos_cat_car"]
    assert abs(results["cos_good_bad"] - results["cos_good_great"]) <= 0.05


def test_morphology_dominates_the_neighbours_of_running(outputs: str) -> None:
    line = re.search(r"running: (.+)", outputs)
    assert line
    first = [w.strip() for w in line.group(1).split(",")][:3]
    assert set(first) == {"run", "ran", "runs"}


def test_the_analogy_sentence(results: dict, outputs: str) -> None:
    """The offset matters where b alone ranks the answer low: every such row improves."""
    rows = re.findall(r"^\s*(\w+ - \w+ \+ \w+)\s+(\w+)\s+(\d+)\s+(\d+)\s*$", outputs, re.M)
    assert len(rows) == 6
    arithmetic = [int(r[2]) for r in rows]
    alone = [int(r[3]) for r in rows]
    assert results["analogies_top1"] == sum(a == 1 for a in arithmetic)
    assert results["analogies_improved"] == sum(a < b for a, b in zip(arithmetic, alone))
    assert all(a < b for a, b in zip(arithmetic, alone) if b > 2)
    assert f"first in {results['analogies_top1']} of 6" in outputs


def test_the_2d_map_loses_part_of_the_groups(results: dict) -> None:
    """'The groups are clearer in the full space than on the map'."""
    assert results["group_neighbour_share_384d"] > results["group_neighbour_share_2d"]


def test_position_sentences_say_only_what_the_curve_shows(results: dict, outputs: str) -> None:
    """Sinusoids: 'falls smoothly with the distance'. Learned: the generated sentence's branch."""
    assert results["sinusoidal_cos_max_rise"] < 0.01
    adjacent, near = results["learned_pos_cos_adjacent"], results["learned_pos_cos_near"]
    far = results["learned_pos_cos_far_mean"]
    if adjacent > near > far:
        assert "the vectors of neighbouring positions are similar" in outputs
        assert "It does not fall smoothly" in outputs
        assert results["learned_pos_cos_far_max"] > near  # the bumps: far positions as similar as near ones
    else:
        assert "inconclusive" in outputs


def test_hidden_states_are_contextual_and_the_gap_sentence_matches(results: dict, outputs: str) -> None:
    for word in ("bank", "apple"):
        assert (
            f"{word}: same-sense pair more similar than different-sense pair in every layer 1-6: True"
            in outputs
        )
    clearer = "apple" if results["context_gap_apple"] > results["context_gap_bank"] else "bank"
    assert f"the separation is clearer for *{clearer}*" in outputs


def test_the_bag_of_embeddings_fails_where_the_prose_says(results: dict) -> None:
    """Q5 and section 6: negation, contrast and unseen-word reviews score below the rest."""
    for name in SLICES:
        assert results[f"slice_accuracy_{name}"] < results[f"slice_accuracy_without_{name}"], name


def test_the_vectors_arranged_themselves_by_sentiment(results: dict, outputs: str) -> None:
    assert (
        results["sentiment_score_negative"]
        < results["sentiment_score_neutral"]
        < results["sentiment_score_positive"]
    )
    assert "the vectors arranged themselves by sentiment" in outputs


def test_the_bag_baseline_is_a_real_baseline(results: dict) -> None:
    """It 'learns the task's structure': well above the 3-class chance level on held-out data."""
    assert results["embedding_bag_test_accuracy"] > 0.5
    assert results["embedding_bag_validation_accuracy"] > 0.5
    assert results["embedding_bag_train_seconds"] < 60  # "trained from scratch in seconds"


def test_the_last_layer_sentence(outputs: str) -> None:
    """'At the last layer all four cosines drop below their layer-5 values ... the gap shrinks for both'."""
    table = {}
    for name in (
        "bank: money vs loan",
        "bank: river vs money",
        "apple: fruit vs pie",
        "apple: fruit vs company",
    ):
        line = re.search(re.escape(name) + r"[^\d]*((?:\s+-?\d\.\d+){7})", outputs)
        assert line, name
        table[name] = [float(v) for v in line.group(1).split()]
    all_lower = all(v[6] < v[5] for v in table.values())
    assert ("all four cosines drop below their layer-5 values" in outputs) == all_lower
    shrinks = all(
        table[s][6] - table[d][6] < table[s][5] - table[d][5]
        for s, d in [
            ("bank: money vs loan", "bank: river vs money"),
            ("apple: fruit vs pie", "apple: fruit vs company"),
        ]
    )
    assert ("the gap between the senses shrinks" in outputs) == shrinks
