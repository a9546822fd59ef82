"""Tests of the exercise-check machinery in ``sft_helpers.checks.core``."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
import torch

from sft_helpers.checks import core
from sft_helpers.checks.core import (
    CheckResult,
    allow_reference,
    call_learner,
    check,
    compare_tensors,
    compare_types,
    compare_values,
    diagnose,
    fail_if,
    fresh_generator,
    passed,
)


def reference_double(x: torch.Tensor) -> torch.Tensor:
    """A stand-in 'reference implementation' (the guard accepts objects, not only sft_helpers names)."""
    return x * 2


class ReferenceScaler(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


@check("double a tensor", references=[reference_double, ReferenceScaler], timeout=1.0)
def check_double(fn):
    gen = fresh_generator()
    for shape in [(3,), (2, 4), (2, 3, 5)]:
        x = torch.randn(*shape, generator=gen)
        got = call_learner(fn, x)
        fail_if(
            compare_tensors(got, x * 2, name="output"),
            hint=diagnose(got, {"did you add instead of multiply?": x + 2, "you returned the input": x}),
        )
    return passed("matches on 3 shapes")


@check("scaler module", references=[ReferenceScaler], timeout=1.0)
def check_scaler(cls):
    module = call_learner(cls)
    x = torch.randn(2, 3)
    fail_if(compare_tensors(call_learner(module, x), x * 2))
    return passed("ok")


def good_double(x):
    return x + x


def blank_double(x):
    """Double x."""
    raise NotImplementedError("multiply by two")


# ---------------------------------------------------------------- results and rendering
def test_result_renders_green_and_red_boxes():
    ok = CheckResult(True, "all good", name="ex")
    bad = CheckResult(False, "shape <wrong>", hint="transpose K", name="ex")
    assert bool(ok) and not bool(bad)
    assert "#2e7d32" in ok._repr_html_() and "#c62828" in bad._repr_html_()
    assert "&lt;wrong&gt;" in bad._repr_html_() and "transpose K" in bad._repr_html_()
    assert str(ok).startswith("PASSED ex: all good")
    assert str(bad) == "NOT YET ex: shape <wrong>\nhint: transpose K"
    with pytest.raises(TypeError, match="passed"):
        CheckResult("yes", "x")  # type: ignore[arg-type]


def test_reference_passes_only_when_allowed_and_good_solution_passes():
    assert check_double(good_double).passed
    result = check_double(reference_double)
    assert not result.passed and "reference implementation" in result.message
    with allow_reference():
        assert check_double(reference_double).passed
    assert check_double.exercise_name == "double a tensor"
    assert core.registered_checks()["check_double"] == "double a tensor"


def test_blank_exercise_reports_not_implemented_with_builder_hint():
    result = check_double(blank_double)
    assert not result.passed
    assert result.message == core.NOT_IMPLEMENTED_MESSAGE
    assert result.hint == "multiply by two"
    assert result.name == "double a tensor"


def test_learner_exception_quotes_learner_line_not_the_check():
    def buggy(x):
        y = x.view(7, -1)  # the line to quote
        return y

    result = check_double(buggy)
    assert not result.passed
    assert "RuntimeError" in result.message
    assert "y = x.view(7, -1)  # the line to quote" in result.message
    assert "in `buggy`" in result.message
    assert "core.py" not in result.message


def test_wrong_answers_give_teaching_messages_and_diagnosis():
    result = check_double(lambda x: x + 2)
    assert not result.passed and "different values" in result.message
    assert result.hint == "did you add instead of multiply?"
    result = check_double(lambda x: x.unsqueeze(0) * 2)
    assert "shape" in result.message and "dimensions" in result.message
    assert "tensor" in check_double(lambda x: (x * 2).tolist()).message


@pytest.mark.parametrize("in_thread", [False, True])
def test_infinite_loop_is_stopped_in_bounded_time(in_thread):
    def forever(x):
        while True:
            x = x  # noqa: PLW0127

    def sleepy(x):
        time.sleep(60)

    results = []

    def run():
        for fn in (forever, sleepy):
            start = time.monotonic()
            results.append((check_double(fn), time.monotonic() - start))

    if in_thread:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join(20)
    else:
        run()
    assert len(results) == 2
    for result, seconds in results:
        assert not result.passed and "did not finish within 1 s" in result.message
        assert seconds < 5
    message = results[0][0].message
    assert "stopped in `forever`" in message  # quotes the loop's line where it was stopped
    assert "`x = x" in message or "`while True:`" in message


def test_learner_cannot_swallow_the_timeout():
    def stubborn(x):
        while True:
            try:
                while True:
                    pass
            except Exception:
                continue

    start = time.monotonic()
    result = check_double(stubborn)
    assert not result.passed and "did not finish" in result.message
    assert time.monotonic() - start < 5


def test_check_never_mutates_learner_objects_and_learner_cannot_mutate_check_inputs():
    seen = []

    def vandal(x):
        seen.append(x)
        x.mul_(0)  # would corrupt the check's expected value if not copied
        return x

    result = check_double(vandal)
    assert not result.passed and "different values" in result.message  # the check kept its own x

    class Stateful(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            return x * 2

    learner_module = Stateful()
    learner_input = torch.ones(3)
    out = call_learner(learner_module, learner_input)
    assert learner_module.calls == 0 and torch.equal(learner_input, torch.ones(3))
    assert torch.equal(out, torch.full((3,), 2.0))


def test_reference_calls_are_detected_however_imported():
    alias = reference_double

    def wrapper(x):
        return alias(x)

    def via_module(x):
        return ReferenceScaler()(x)

    class Subclass(ReferenceScaler):
        pass

    class Composes(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = ReferenceScaler()

        def forward(self, x):
            return self.inner(x)

    for fn in (wrapper, via_module):
        result = check_double(fn)
        assert not result.passed and "reference implementation" in result.message, fn
    assert "reference" in check_scaler(Subclass).message
    assert "calls the library's reference" in check_scaler(Composes).message
    from sft_helpers import runtime

    assert "sft_helpers.runtime" in core._is_reference(runtime.pick, [])  # any sft_helpers object is flagged

    class Own(torch.nn.Module):
        def forward(self, x):
            return x + x

    assert check_scaler(Own).passed


def test_bug_in_check_becomes_result_and_rng_is_preserved():
    @check("broken")
    def check_broken(fn):
        torch.randn(100)
        random.random()
        raise KeyError("oops")

    torch.manual_seed(0)
    random.seed(0)
    result = check_broken(good_double)
    assert not result.passed and "the check could not finish: KeyError" in result.message
    after_check = (torch.rand(1).item(), random.random())
    torch.manual_seed(0)
    random.seed(0)
    assert after_check == (torch.rand(1).item(), random.random())


def test_results_are_recorded_for_the_grader(tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"
    monkeypatch.setenv(core.RESULTS_ENV, str(path))
    monkeypatch.setenv(core.CELL_ENV, "cell-7")
    check_double(good_double)
    check_double(blank_double)
    by_hand = CheckResult(True, "made by hand", name="manual")  # building a result writes nothing
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["name"], r["check"], r["passed"], r["cell"]) for r in lines] == [
        ("double a tensor", "check_double", True, "cell-7"),
        ("double a tensor", "check_double", False, "cell-7"),
    ]
    by_hand.record()  # only an explicit record() (what a decorated check does) appends it
    assert json.loads(path.read_text().splitlines()[-1])["name"] == "manual"


def test_compare_helpers_messages():
    a = torch.zeros(2, 5, 8)
    assert compare_tensors(a, a.clone()) is None
    msg = compare_tensors(torch.zeros(2, 5, 8), torch.zeros(2, 8, 5))
    assert msg.startswith("your output has shape (2, 5, 8) but (2, 8, 5) was expected")
    assert "transpose" in msg
    assert "dtype torch.int64" in compare_tensors(torch.zeros(3, dtype=torch.long), torch.zeros(3))
    assert "NaN" in compare_tensors(torch.tensor([0.0, float("nan")]), torch.zeros(2))
    msg = compare_tensors(torch.tensor([[0.0, 1.0], [0.0, 0.0]]), torch.zeros(2, 2), name="weights")
    assert "weights" in msg and "index (0, 1)" in msg and "1 of 4" in msg
    assert "tuple" in compare_tensors((a, a), a)
    assert "None" in compare_tensors(None, a)
    assert compare_tensors(torch.tensor([True, False]), torch.tensor([True, True])).startswith(
        "your output differs at 1 of 2"
    )
    with pytest.raises(TypeError, match="expected"):
        compare_tensors(a, [1, 2])
    assert compare_values(0.5, 0.5 + 1e-9) is None
    assert "0.4" in compare_values(0.4, 0.5)
    assert compare_values([1, [2, 3]], [1, [2, 4]]) == "your output[1][1] is 3 but 4 was expected"
    assert "2 items" in compare_values([1, 2], [1, 2, 3])
    assert ".item()" in compare_values(torch.tensor(0.5), 0.5)
    assert compare_values({"a": 1}, {"a": 1}) is None
    assert compare_types(3, (list, tuple)) == "your output is an int, but a list or tuple was expected"
    assert diagnose(torch.ones(2), {"no": torch.zeros(2), "lazy": lambda: torch.ones(2)}) == "lazy"
    assert diagnose(torch.ones(2), {"broken": lambda: 1 / 0}) == ""


def test_fresh_generator_is_independent_of_global_seed():
    torch.manual_seed(0)
    a = torch.randn(4, generator=fresh_generator())
    torch.manual_seed(0)
    b = torch.randn(4, generator=fresh_generator())
    assert not torch.equal(a, b)
    assert torch.equal(
        torch.randn(3, generator=fresh_generator(5)), torch.randn(3, generator=fresh_generator(5))
    )


def test_an_outer_timer_keeps_what_is_left_of_it() -> None:
    """A check inside a running ITIMER_REAL (e.g. a grader's own limit) must not cut it short."""
    import signal

    from sft_helpers.checks.core import call_learner

    fired = []
    old = signal.signal(signal.SIGALRM, lambda *_: fired.append(True))
    try:
        signal.setitimer(signal.ITIMER_REAL, 10.0)
        assert call_learner(lambda: 41 + 1, timeout=8) == 42
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 9.0 < left <= 10.0, f"the outer timer has {left:.2f} s left, it should still have about 10"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert not fired


def test_check_timeout_is_read_when_a_check_runs(monkeypatch) -> None:
    import pytest

    from sft_helpers.checks.core import DEFAULT_TIMEOUT, default_timeout

    monkeypatch.delenv("SFT_CHECK_TIMEOUT", raising=False)
    assert default_timeout() == DEFAULT_TIMEOUT
    monkeypatch.setenv("SFT_CHECK_TIMEOUT", "3.5")
    assert default_timeout() == 3.5
    monkeypatch.setenv("SFT_CHECK_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="positive number of seconds"):
        default_timeout()
