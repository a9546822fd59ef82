"""Chapter 3's prose claims, checked against the stored full-mode run (its recorded results and outputs).

Each test fails when a sentence of the chapter (typed or generated) is not backed by the numbers
the committed run printed beside it.
"""

from __future__ import annotations

import re
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "03_transformer_block.ipynb"


def test_the_feed_forward_holds_two_thirds_of_a_layers_weights(outputs: str) -> None:
    share = re.search(r"feed-forward share (\d+)%", outputs)
    assert share and 66 <= int(share.group(1)) <= 67


def test_residuals_keep_the_gradient_and_the_generated_sentence_says_so(results: dict, outputs: str) -> None:
    """'Without the residual path the gradient all but vanishes ... With it, ... carries the gradient through'."""
    assert results["grad_gain_plain"] < 1e-3 <= results["grad_gain_residual"]
    assert "all but vanishes" in outputs and "Inconclusive here" not in outputs
    assert ("here it even grows" in outputs) == (results["grad_gain_residual"] > 1)


def test_dropout_acts_only_in_training_mode(outputs: str) -> None:
    assert "train mode, same input twice, same output: False" in outputs
    assert "eval mode, same input twice, same output: True" in outputs


def test_the_learners_block_passes_its_check_and_feeds_the_reproduction(outputs: str) -> None:
    """Section 6 runs six copies of the exercise's own layer, not the course's."""
    assert "PASSED post-LN encoder layer" in outputs
    assert "Using your MyEncoderLayer" in outputs
    assert "layer class used: MyEncoderLayer" in outputs


def test_our_layers_reproduce_the_pretrained_model_up_to_rounding(results: dict, outputs: str) -> None:
    """'reproduce its final hidden states'; 'the differences are float32 rounding' (float64 shrinks them)."""
    assert results["max_abs_diff_hidden"] <= 1e-5
    assert "final hidden states reproduced within 1e-5 (float32): True" in outputs
    assert results["max_abs_diff_hidden_float64"] <= 1e-10
    assert results["max_abs_diff_hidden_float64"] < 1e-6 * results["max_abs_diff_hidden"]


def test_the_parameter_sentence_matches_the_share(results: dict, outputs: str) -> None:
    share = results["word_embedding_parameter_share"]
    assert ("is more than half of the" in outputs) == (share > 0.5)
    assert f"({share:.0%})" in outputs


def test_the_flop_estimate_is_within_the_stated_range_and_the_verdict_matches(
    results: dict, outputs: str
) -> None:
    """'It must lie below the peak ... and not far below it: between 0.05x and 1x'."""
    ratio = results["encoder_gflops_fraction_of_peak"]
    assert 0.05 <= ratio <= 1.0
    assert "within 0.05x to 1x the matmul peak: True" in outputs
    if ratio >= 0.5:
        assert "FLOP counts predict Transformer training and inference costs well" in outputs
    else:
        assert "predicts its time only to within a factor of" in outputs
    assert results["encoder_achieved_gflops"] <= results["matmul_peak_gflops"]
