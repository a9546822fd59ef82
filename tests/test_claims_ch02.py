"""Chapter 2's claims, checked against the stored full-mode run (its recorded results and outputs).

Section 9 claims to measure why attention replaced recurrent networks. These tests fail when
the quantity a sentence names does not favour attention in the stored numbers, or when a
printed sentence (the CPU timing above all) is not the branch its numbers call for.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_self_attention.ipynb"


@pytest.fixture(scope="module")
def cells() -> list[dict]:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]


def test_the_chapter_runs_on_the_learners_class(results: dict, outputs: str) -> None:
    """Exercise 4 feeds the chapter: the stored run used the notebook's own MultiHeadSelfAttention."""
    assert results["mhsa_check_passed"] is True
    assert "PASSED multi-head self-attention" in outputs
    assert "Using your MultiHeadSelfAttention (its check passed)" in outputs


def test_our_class_reproduces_the_pretrained_attention(results: dict, outputs: str) -> None:
    assert results["max_abs_diff_attention_probs"] <= 1e-5
    assert results["max_abs_diff_attention_output"] <= 1e-5
    assert "probabilities reproduced (<= 1e-5): True" in outputs


def test_scaling_keeps_the_softmax_from_saturating(results: dict, outputs: str) -> None:
    assert results["max_weight_unscaled_largest_d"] > 0.9
    assert results["max_weight_scaled_spread"] < 0.05
    assert "climbs with every step of $d$" in outputs and "the rows look alike whatever the width" in outputs


def test_the_cpu_timing_sentence_matches_the_measured_ratio(results: dict, outputs: str) -> None:
    """Say plainly what the CPU wall clock shows: the sentence is the branch of the stored ratio."""
    ratio = results["gru_over_attention_time_longest"]
    if ratio < 1:
        assert "**On this CPU attention is slower**" in outputs
        assert f"{1 / ratio:.1f}x as long" in outputs
        assert "On this CPU one forward pass of attention is slower than `nn.GRU`" in outputs
    else:
        assert "On this CPU attention is faster" in outputs and f"({ratio:.1f}x less)" in outputs
    assert "does not explain why attention won" in outputs


def test_attention_needs_a_constant_number_of_dependent_steps(results: dict, outputs: str) -> None:
    assert results["sequential_ops_attention_constant"] is True
    assert results["sequential_ops_gru_longest"] > 10 * results["sequential_ops_attention_longest"]
    assert f"attention calls {results['sequential_ops_attention_longest']} at every length" in outputs


def test_the_gradient_reaches_the_first_token_through_attention_not_the_gru(
    results: dict, outputs: str
) -> None:
    assert results["gradient_log10_ratio_longest"] > 20  # orders of magnitude at the longest length
    assert results["gradient_log10_attention_longest"] > -5  # attention's gradient is still usable
    assert (
        results["gradient_decades_lost_per_doubling_gru"]
        > 10 * results["gradient_decades_lost_per_doubling_attention"]
    )
    assert f"{results['gradient_log10_ratio_longest']:.0f} orders of magnitude apart" in outputs
    assert "not the clear gap expected" not in outputs


def test_attention_solves_the_recall_task_the_gru_fails(results: dict, outputs: str) -> None:
    chance = 1 / 16
    assert results["recall_accuracy_attention_longest"] - results["recall_accuracy_gru_longest"] >= 0.5
    assert results["recall_accuracy_gru_longest"] < chance + 0.1
    assert results["recall_accuracy_attention_lowest"] >= 0.9
    # the GRU is not broken: it learns the short version
    if "the GRU learns the task" in outputs:
        assert results["recall_accuracy_gru_shortest"] >= 0.9
    else:
        assert results["recall_accuracy_gru_shortest"] < 0.9
    assert "One attention layer solves every length" in outputs


def test_the_parallel_hardware_sentence_is_the_branch_of_its_numbers(results: dict, outputs: str) -> None:
    gru, att = results["thread_speedup_gru"], results["thread_speedup_attention"]
    if att > gru + 0.1:
        assert "more of attention's work splits over cores" in outputs
        assert "work that parallel hardware can share (9.3)" in outputs
    elif gru > att + 0.1:
        assert "the measurement does not favour attention" in outputs
        assert "work that parallel hardware can share" not in outputs
    else:
        assert "inconclusive here; two cores are too few" in outputs


def test_the_closing_list_names_only_what_the_numbers_show(results: dict, outputs: str) -> None:
    listed = outputs.split("What favours attention here:")[1].split("The cost is")[0]
    assert ("(9.2)" in listed) == (
        results["sequential_ops_attention_constant"]
        and results["sequential_ops_gru_longest"] > 10 * results["sequential_ops_attention_longest"]
    )
    assert ("(9.4)" in listed.split("Not shown")[0]) == (results["gradient_log10_ratio_longest"] > 3)
    assert ("(9.5)" in listed.split("Not shown")[0]) == (
        results["recall_accuracy_attention_longest"] - results["recall_accuracy_gru_longest"] >= 0.5
    )


def test_no_typed_time_estimate_and_the_run_time_is_printed(
    cells: list[dict], outputs: str, run: dict
) -> None:
    title = "".join(cells[0]["source"])
    assert "About a minute" not in title and "a few minutes" not in title
    assert "This run of the chapter took" in outputs and "in full mode" in outputs
    assert math.isfinite(run["seconds"]) and run["seconds"] > 0


def test_a_head_does_attend_to_the_previous_token(outputs: str) -> None:
    """Section 8: 'Some heads attend to the previous or next token': the stored share says so."""
    import re

    match = re.search(
        r"most 'previous-token' head: layer \d+, head \d+ puts (\d+)% of its weight there", outputs
    )
    assert match, "the previous-token line is missing from the stored outputs"
    assert int(match.group(1)) >= 50


def test_a_growth_factor_is_read_only_from_growing_timings(outputs: str) -> None:
    """'grows 0.2x' once came from a short input timed slower than a long one (noise)."""
    import re

    factors = [float(x) for x in re.findall(r"time grows ([\d.]+)x and attention's ([\d.]+)x", outputs)[0]] if (
        "time grows" in outputs) else []
    assert all(f >= 1 for f in factors), f"a timing 'grows' by {factors}: noise must be named, not read as growth"
    assert factors or "no growth factor is read" in outputs
