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
