"""learner_or_reference: the learner's code feeds the chapter only once its check passed."""

from __future__ import annotations

import pytest

from sft_helpers.checks import CheckResult, learner_or_reference


def mine() -> str:
    return "mine"


def ref() -> str:
    return "ref"


def test_passed_check_uses_the_learner(capsys: pytest.CaptureFixture[str]) -> None:
    assert learner_or_reference(CheckResult(True, "ok"), mine, ref) is mine
    assert "Using your mine" in capsys.readouterr().out


def test_failed_check_uses_the_reference_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert learner_or_reference(CheckResult(False, "not implemented yet"), mine, ref) is ref
    assert "uses the course's ref" in capsys.readouterr().out


def test_something_else_than_a_result_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="CheckResult returned by the exercise's check"):
        learner_or_reference(True, mine, ref)  # type: ignore[arg-type]
