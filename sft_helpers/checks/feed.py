"""Let an exercise's result feed the rest of its chapter.

A chapter uses the learner's own implementation once its check has passed, and otherwise
continues with the course's reference, saying so, so that a notebook run from the top still
reaches its experiments before every exercise is done::

    result = checks.check_multi_head_attention(MyMultiHeadSelfAttention)
    result
    Attention = checks.learner_or_reference(result, MyMultiHeadSelfAttention,
                                            attention.MultiHeadSelfAttention)
"""

from __future__ import annotations

from typing import TypeVar

from sft_helpers.checks.core import CheckResult

T = TypeVar("T")


def learner_or_reference(result: CheckResult, learner: T, reference: T, quiet: bool = False) -> T:
    """``learner`` when its check ``result`` passed, else ``reference`` (with a printed note)."""
    if not isinstance(result, CheckResult):
        raise TypeError(
            "learner_or_reference needs the CheckResult returned by the exercise's check, e.g. "
            "result = checks.check_x(my_fn); then learner_or_reference(result, my_fn, reference)."
        )
    if result.passed:
        if not quiet:
            print(f"Using your {_name(learner)} (its check passed) in the rest of the chapter.")
        return learner
    print(
        f"Your {_name(learner)} has not passed its check yet, so the rest of the chapter uses "
        f"the course's {_name(reference)}. Come back to the exercise, and re-run from there."
    )
    return reference


def _name(obj: object) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__
