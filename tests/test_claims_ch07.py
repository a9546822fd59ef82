"""Chapter 7's claims, checked against its stored full-mode run (notebook metadata and outputs).

Every sentence the chapter's prose or generated text states about its results is asserted here
from the recorded numbers, so a run that does not support a claim turns this test red.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sft_helpers.results import stored_results, stored_run

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "07_instruction_sft.ipynb"
HEADLINE = {  # recorded name: higher is better
    "json_valid": True,
    "entity_f1": True,
    "sentiment_accuracy": True,
    "redact_leak": False,
    "redact_exact": True,
    "translate_chrf": True,
}


@pytest.fixture(scope="module")
def results() -> dict:
    run = stored_run(NOTEBOOK)
    assert run["mode"] == "full", "the stored outputs must come from a full-mode run"
    return stored_results(NOTEBOOK)


@pytest.fixture(scope="module")
def outputs_text() -> str:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    parts = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            text = output.get("text") or output.get("data", {}).get("text/markdown") or ""
            parts.append("".join(text) if isinstance(text, list) else text)
    return "\n".join(parts)


def _verdict(r: dict, name: str) -> str:
    low, high = r[f"ch07_{name}_change_low"], r[f"ch07_{name}_change_high"]
    if not HEADLINE[name]:
        low, high = -high, -low
    return "improved" if low > 0 else "got worse" if high < 0 else "no clear change"


def test_full_run_is_large_enough_to_conclude(results):
    assert results["ch07_conclusive"] is True
    assert results["ch07_n_test_per_task"] >= 10


@pytest.mark.parametrize("name", sorted(HEADLINE))
def test_each_verdict_follows_from_its_interval_and_is_printed(results, outputs_text, name):
    r = results
    assert r[f"ch07_{name}_change_low"] <= r[f"ch07_{name}_after"] - r[f"ch07_{name}_before"] + 1e-9
    assert r[f"ch07_{name}_after"] - r[f"ch07_{name}_before"] <= r[f"ch07_{name}_change_high"] + 1e-9
    assert r[f"ch07_{name}_verdict"] == _verdict(r, name)
    assert f"**{r[f'ch07_{name}_verdict']}**" in outputs_text
    improved = [n for n in HEADLINE if r[f"ch07_{n}_verdict"] == "improved"]
    assert f"Improved beyond the prompt-sampling spread: {', '.join(improved) or 'none'}." in outputs_text


def test_redaction_leaks_fewer_names_after_training(results):
    """The issue's claim for chapter 7: the redaction leak rate after training is below before."""
    assert results["ch07_redact_leak_after"] < results["ch07_redact_leak_before"]
    assert results["ch07_redact_leak_verdict"] == "improved"
    assert results["ch07_redact_names_left"] < results["ch07_redact_names_total"]


def test_json_validity_rises_after_training(results):
    assert results["ch07_json_valid_after"] > results["ch07_json_valid_before"]
    assert results["ch07_json_valid_verdict"] == "improved"


def test_training_lowered_the_loss(results):
    assert results["ch07_final_train_loss"] < results["ch07_initial_train_loss"]


def test_summary_tagger_is_faster_and_better_on_entities(results, outputs_text):
    """The summary says chapter 5's tagger is still faster and usually better on the entity task."""
    assert results["ch07_tagger_seconds_per_sentence"] < results["ch07_llm_seconds_per_sentence"]
    assert results["ch07_tagger_entity_f1"] > results["ch07_entity_f1_after"]
    assert "higher than the LLM's." in outputs_text


def test_mechanism_checks_printed_true(outputs_text):
    for line in (
        "RMSNorm, SwiGLU MLP, RoPE, grouped-query attention and all of layer 0 == the model's own modules: True",
        "labels from mask_fn == labels encode_example wrote per pair: True",
        "hand-computed loss over response tokens == model loss: True",
        "gradient only at positions that predict a response token: True",
        "merged model == base + adapters: True",
        "trl builds the same input ids and prompt mask as sft_helpers.instructions: True",
    ):
        assert line in outputs_text, line
    assert "Using your label_mask (its check passed)" in outputs_text  # the learner's mask fed the training


def test_translation_section_says_what_it_measured(results, outputs_text):
    """Section 10: the encoder argument is backed by a count, and the verdict sentence follows the interval."""
    n = results["ch07_translate_other_length"]
    assert 0 < n <= 8
    assert f"{n} of the 8 held-out pairs have a different number of words in Spanish" in outputs_text
    assert results["ch07_translate_chrf_after"] > results["ch07_translate_chrf_before"]
    verdict = results["ch07_translate_chrf_verdict"]
    assert f"the verdict for translation is **{verdict}**" in outputs_text
    if verdict == "improved":
        assert results["ch07_translate_chrf_change_low"] > 0
    assert 0.0 <= results["ch07_translate_exact_after"] <= 1.0
