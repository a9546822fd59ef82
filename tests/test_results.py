from __future__ import annotations

import math

import pytest
import torch

from sft_helpers import results


def test_record_writes_the_results_file(tmp_path, monkeypatch) -> None:
    target = tmp_path / "r.json"
    monkeypatch.setenv("SFT_RESULTS_FILE", str(target))
    results.record("acc", torch.tensor(0.5))
    results.record("ok", True)
    assert results.read_results(target) == {"acc": 0.5, "ok": True}
    with pytest.raises(ValueError):
        results.record("bad", math.nan)
    with pytest.raises(TypeError):
        results.record("bad", [1, 2])


def test_compare_results_uses_tolerances() -> None:
    expected = {"acc": 0.80, "f1": {"min": 0.5, "max": 1.0}, "ok": True, "n": {"value": 10, "abs_tol": 0}}
    assert results.compare_results({"acc": 0.82, "f1": 0.7, "ok": True, "n": 10}, expected, 0.0, 0.05) == []
    problems = results.compare_results({"acc": 0.6, "f1": 0.2, "ok": False}, expected, 0.0, 0.05)
    assert len(problems) == 4 and any("missing" in p for p in problems)


def test_stored_full_run_and_outputs_text(tmp_path) -> None:
    import nbformat
    import pytest

    from sft_helpers.results import stored_full_run, stored_outputs_text

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="hello\n"),
        nbformat.v4.new_output("display_data", data={"text/markdown": "**F1 0.9**"}),
    ]
    nb.cells.append(cell)
    nb.metadata["sft_workbook"] = {"mode": "fast", "results": {}}
    path = tmp_path / "04_x.ipynb"
    nbformat.write(nb, path)
    assert "hello" in stored_outputs_text(path) and "**F1 0.9**" in stored_outputs_text(path)
    with pytest.raises(ValueError, match="must be full mode"):
        stored_full_run(path)


def test_relations_hold_or_say_what_broke() -> None:
    actual = {"test_f1": 0.9, "baseline_f1": 0.6, "loss_after": 0.4, "loss_before": 1.2, "flag": True}
    relations = [
        {"a": "test_f1", "op": ">", "b": "baseline_f1", "margin": 0.2, "why": "fine-tuning beats memorising"},
        {"a": "loss_after", "op": "<", "b": "loss_before", "margin": 0.5, "why": "training lowers the loss"},
        {"a": "test_f1", "op": ">=", "b": 0.85, "modes": ["full"], "why": "full mode reaches 0.85"},
    ]
    assert results.check_relations(actual, relations, "fast") == []
    assert results.check_relations(actual, relations, "full") == []
    # a margin that is not met, on either side of the comparison
    worse = actual | {"test_f1": 0.75, "loss_after": 0.8}
    problems = results.check_relations(worse, relations, "full")
    assert len(problems) == 3
    assert (
        "relation test_f1 > baseline_f1 + 0.2 fails: test_f1=0.75, baseline_f1=0.6 (fine-tuning beats memorising)"
        in problems
    )
    assert any("loss_after < loss_before - 0.5 fails" in p for p in problems)
    # modes: the full-only relation is not checked in fast mode
    assert len(results.check_relations(worse, relations, "fast")) == 2
    # the bound is strict where the operator is: 0.75 > 0.5 + 0.25 is false, 0.75 >= 0.5 + 0.25 true
    edge = {"a": 0.75, "b": 0.5}
    assert results.check_relations(edge, [{"a": "a", "op": ">", "b": "b", "margin": 0.25}], "fast")
    assert not results.check_relations(edge, [{"a": "a", "op": ">=", "b": "b", "margin": 0.25}], "fast")
    assert not results.check_relations(edge, [{"a": "b", "op": "<=", "b": "a", "margin": 0.25}], "fast")
    assert results.check_relations(edge, [{"a": "b", "op": "<", "b": "a", "margin": 0.25}], "fast")
    # a key that was not recorded, or is not a number, is a problem, not a pass
    missing = results.check_relations({"test_f1": 0.9, "flag": True}, relations[:1], "fast")
    assert missing == ["relation test_f1 > baseline_f1 + 0.2: baseline_f1 not recorded as a number"]
    assert results.check_relations(actual, [{"a": "flag", "op": ">", "b": 0}], "fast")


@pytest.mark.parametrize(
    ("relation", "message"),
    [
        ({"a": "x", "op": "=>", "b": "y"}, "op"),
        ({"a": "x", "op": ">", "b": None}, "b"),
        ({"op": ">", "b": "y"}, "a"),
        ({"a": "x", "op": ">", "b": "y", "margin": -1}, "margin"),
        ({"a": "x", "op": ">", "b": "y", "modes": ["slow"]}, "modes"),
        ({"a": "x", "op": ">", "b": "y", "reason": "typo of why"}, "unknown fields"),
        ("x > y", "JSON object"),
    ],
)
def test_malformed_relations_are_rejected_with_the_format(relation, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        results.check_relations({"x": 1, "y": 0}, [relation], "fast")
    assert '"op": ">"' in str(info.value)  # the error shows what a relation looks like


def test_unexpected_keys() -> None:
    assert results.unexpected_keys({"a": 1, "b": 2, "c": 3}, {"b": 2, "d": 4}) == ["a", "c"]


@pytest.mark.parametrize(
    ("key", "want"),
    [
        ("test_accuracy", {"min": 0.0, "max": 1.0}),  # every share passes
        ("test_f1", {"min": 0.3, "max": 1.0}),  # chance (3 classes: 0.33) and perfect alike
        ("o_token_share", {"min": 0.5, "max": 1.0}),  # at the default chance 0.5
        ("macro_f1", {"min": 0.2, "max": 1.0, "chance": 0.25}),  # at or below its own chance
        ("steps", {"min": 0}),  # a bare >= 0
        ("train_loss", {"min": -1.0}),
        ("gflops", {"min": 0.05, "max": 100000.0}),  # six orders of magnitude
        ("val_accuracy", {"value": 0.5, "abs_tol": 0.5}),  # [0, 1] written as a value
    ],
)
def test_meaningless_expectations_are_found(key: str, want) -> None:
    assert results.meaningless_expectations({key: want}, 0.1, 0.05), f"{key}: {want} was accepted"


@pytest.mark.parametrize(
    ("key", "want"),
    [
        ("test_accuracy", {"min": 0.6, "max": 0.8}),
        ("test_accuracy", {"min": 0.9, "max": 1.0}),  # near perfect, far above chance
        ("recall_accuracy", {"min": 0.5, "max": 1.0, "chance": 0.0625}),  # 16 classes
        ("max_abs_diff", {"min": 0, "max": 1e-5}),  # an error bound
        ("high_lr_train_loss", {"min": 0.8}),  # a positive lower bound: the loss stays high
        ("recall_seconds", {"min": 0.5, "max": 90}),  # a time, not a recall
        ("test_f1", 0.9),  # a number with the global tolerances
        ("passed", True),
        ("encoder_parameters", {"value": 22713216, "abs_tol": 0}),
    ],
)
def test_meaningful_expectations_pass(key: str, want) -> None:
    assert results.meaningless_expectations({key: want}, 0.1, 0.05) == []


def test_score_keys_by_the_words_of_their_names() -> None:
    assert results.is_score_key("test_accuracy") and results.is_score_key("ner_o_token_share")
    assert results.is_score_key("ch07_f1_after") and results.is_score_key("leak_rate")
    assert not results.is_score_key("recall_seconds") and not results.is_score_key("thread_speedup_attention")
    assert not results.is_score_key("f1ab") and not results.is_score_key("grad_gain_plain")
