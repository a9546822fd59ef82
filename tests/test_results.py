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
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hello\n"),
                    nbformat.v4.new_output("display_data", data={"text/markdown": "**F1 0.9**"})]
    nb.cells.append(cell)
    nb.metadata["sft_workbook"] = {"mode": "fast", "results": {}}
    path = tmp_path / "04_x.ipynb"
    nbformat.write(nb, path)
    assert "hello" in stored_outputs_text(path) and "**F1 0.9**" in stored_outputs_text(path)
    with pytest.raises(ValueError, match="must be full mode"):
        stored_full_run(path)
