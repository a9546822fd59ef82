"""Key results of a notebook run (accuracy, F1, reproduction errors, timings).

A notebook calls ``record("name", value)`` for each number the course promises; the course
runner (``python -m sft_helpers course``) and the regression tests read them back. Values
go to the JSON file named by ``SFT_RESULTS_FILE`` when it is set, so a run in another
process (papermill, nbval) can be compared with committed expectations.
"""

from __future__ import annotations

import json
import math
import operator
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sft_helpers import settings

_RESULTS: dict[str, Any] = {}


def _clean(value: Any) -> Any:
    """Plain JSON values: tensors and numpy scalars become floats/ints/bools."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"refusing to record a non-finite value {value!r}.")
        return value
    raise TypeError(f"record() takes numbers, booleans or strings, got {type(value).__name__}.")


def record(name: str, value: Any) -> Any:
    """Remember ``value`` under ``name`` (and write it to ``SFT_RESULTS_FILE``); returns it."""
    if not isinstance(name, str) or not name:
        raise ValueError("record() needs a non-empty string name, e.g. record('test_accuracy', acc).")
    value = _clean(value)
    _RESULTS[name] = value
    path = os.environ.get(settings.RESULTS_FILE_ENV)
    if path:
        target = Path(path)
        stored = read_results(target) if target.exists() else {}
        stored[name] = value
        tmp = target.with_suffix(target.suffix + ".tmp")
        tmp.write_text(json.dumps(stored, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, target)
    return value


def recorded() -> dict[str, Any]:
    """Everything recorded in this process so far."""
    return dict(_RESULTS)


def read_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results file written through ``SFT_RESULTS_FILE``."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not a valid results file: {error}") from error


def compare_results(
    actual: dict[str, Any], expected: dict[str, Any], rel_tol: float, abs_tol: float
) -> list[str]:
    """Differences between two result dicts, as readable lines (empty when they agree).

    ``expected`` values may be a number or ``{"value": v, "abs_tol": t}`` / ``{"min": a, "max": b}``
    for keys that need their own tolerance.
    """
    problems = []
    for key, want in expected.items():
        if key not in actual:
            problems.append(f"{key}: missing (expected {want!r})")
            continue
        got = actual[key]
        if isinstance(want, dict):
            low, high = want.get("min", -math.inf), want.get("max", math.inf)
            if "value" in want:
                tol = want.get("abs_tol", abs_tol)
                low, high = want["value"] - tol, want["value"] + tol
            if not (isinstance(got, int | float) and low <= got <= high):
                problems.append(f"{key}: {got!r} outside [{low}, {high}]")
        elif isinstance(want, bool) or isinstance(want, str) or want is None:
            if got != want:
                problems.append(f"{key}: {got!r} != expected {want!r}")
        elif not (isinstance(got, int | float) and math.isclose(got, want, rel_tol=rel_tol, abs_tol=abs_tol)):
            problems.append(f"{key}: {got!r} differs from expected {want!r} (rel {rel_tol}, abs {abs_tol})")
    return problems


RELATION_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
MODES = ("fast", "full")
_RELATION_FIELDS = {"a", "op", "b", "margin", "modes", "why"}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _relation_error(index: int, relation: Any, what: str) -> ValueError:
    return ValueError(
        f"relations[{index}] {relation!r}: {what}. A relation reads "
        '{"a": "test_f1", "op": ">", "b": "baseline_f1" (a key or a number), "margin": 0.2, '
        '"modes": ["fast", "full"], "why": "..."}.'
    )


def validate_relation(relation: Any, index: int = 0) -> None:
    """Raise a ValueError that says what to fix when ``relation`` is not a well-formed relation."""
    if not isinstance(relation, dict):
        raise _relation_error(index, relation, "must be a JSON object")
    unknown = sorted(set(relation) - _RELATION_FIELDS)
    if unknown:
        raise _relation_error(index, relation, f"unknown fields {unknown}")
    if not isinstance(relation.get("a"), str) or not relation["a"]:
        raise _relation_error(index, relation, '"a" must name a recorded key')
    if relation.get("op") not in RELATION_OPS:
        raise _relation_error(index, relation, f'"op" must be one of {sorted(RELATION_OPS)}')
    b = relation.get("b")
    if not (isinstance(b, str) and b) and not _number(b):
        raise _relation_error(index, relation, '"b" must name a recorded key or be a number')
    margin = relation.get("margin", 0)
    if not _number(margin) or margin < 0:
        raise _relation_error(index, relation, '"margin" must be a number >= 0')
    modes = relation.get("modes", list(MODES))
    if not isinstance(modes, list) or not modes or not set(modes) <= set(MODES):
        raise _relation_error(index, relation, f'"modes" must be a non-empty list of {list(MODES)}')
    if not isinstance(relation.get("why", ""), str):
        raise _relation_error(index, relation, '"why" must be a sentence')


def check_relations(actual: dict[str, Any], relations: list[dict[str, Any]], mode: str) -> list[str]:
    """The relations between key results that ``actual`` breaks in ``mode``, as readable lines.

    Each relation (``tests/expected/<notebook>.json``'s ``"relations"`` list) says
    ``a op b + margin`` (``a op b - margin`` for ``<`` and ``<=``), where ``a`` is a recorded key
    and ``b`` a recorded key or a number, e.g. ``{"a": "test_f1", "op": ">", "b": "baseline_f1",
    "margin": 0.2, "why": "..."}``; ``"modes"`` (default both) limits it to fast or full runs.
    A key that was not recorded (or is not a number) is a problem too.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}, got {mode!r}.")
    if not isinstance(relations, list):
        raise ValueError(f'"relations" must be a list of relations, got {type(relations).__name__}.')
    problems = []
    for index, relation in enumerate(relations):
        validate_relation(relation, index)
        if mode not in relation.get("modes", MODES):
            continue
        a, op, b = relation["a"], relation["op"], relation["b"]
        margin = relation.get("margin", 0)
        names = [a] + ([b] if isinstance(b, str) else [])
        absent = [name for name in names if not _number(actual.get(name))]
        text = f"{a} {op} {b}" + (f" {'-' if op.startswith('<') else '+'} {margin}" if margin else "")
        if absent:
            problems.append(f"relation {text}: {', '.join(absent)} not recorded as a number")
            continue
        left, right = actual[a], actual[b] if isinstance(b, str) else b
        bound = right - margin if op.startswith("<") else right + margin
        if not RELATION_OPS[op](left, bound):
            why = f" ({relation['why']})" if relation.get("why") else ""
            shown = f"{a}={left!r}" + (f", {b}={right!r}" if isinstance(b, str) else "")
            problems.append(f"relation {text} fails: {shown}{why}")
    return problems


def unexpected_keys(actual: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Recorded keys that have no expectation: each needs one, or a change to it goes unnoticed."""
    return sorted(set(actual) - set(expected))


# Words of a key that make it a share of something (accuracy, F1, ...): values in [0, 1].
SCORE_WORDS = frozenset({"accuracy", "acc", "f1", "share", "precision", "recall", "rate"})
# Words that make it something else even so (recall_seconds is a time, not a recall).
NOT_SCORE_WORDS = frozenset({"seconds", "second", "ms", "time", "times", "speedup", "mb", "gflops", "ratio"})
DEFAULT_CHANCE = 0.5  # a score range reaching 1 must start above chance; an entry may say its own "chance"
MAX_DECADES = 3  # a range of positive values wider than a factor 1000 says nothing


def is_score_key(key: str) -> bool:
    """Whether ``key`` names a share, accuracy, F1, precision or recall (by the words of its name)."""
    words = set(key.lower().replace("-", "_").split("_"))
    return bool(words & SCORE_WORDS) and not words & NOT_SCORE_WORDS


def expectation_range(want: Any, rel_tol: float, abs_tol: float) -> tuple[float, float] | None:
    """The interval an expectation accepts (``compare_results``'s rules), None for exact non-numbers."""
    if isinstance(want, dict):
        if "value" in want:
            tol = want.get("abs_tol", abs_tol)
            return want["value"] - tol, want["value"] + tol
        return want.get("min", -math.inf), want.get("max", math.inf)
    if _number(want):
        tol = max(rel_tol * abs(want), abs_tol)
        return want - tol, want + tol
    return None


def meaningless_expectations(expected: dict[str, Any], rel_tol: float, abs_tol: float) -> list[str]:
    """Expectations that cannot fail or barely can, as readable lines (empty when all mean something).

    Rejected: a bare lower bound of 0 or less (``{"min": 0}``); a share, accuracy or F1 allowed
    anywhere from 0 to 1; one whose range reaches 1 (perfect) while starting at or below chance
    (``DEFAULT_CHANCE`` unless the entry gives its own ``"chance"``); a range of positive values
    wider than a factor 10**MAX_DECADES.
    """
    problems = []
    for key, want in expected.items():
        bounds = expectation_range(want, rel_tol, abs_tol)
        if bounds is None:
            continue
        low, high = bounds
        if isinstance(want, dict) and "value" not in want and "max" not in want and low <= 0:
            problems.append(
                f"{key}: only min {low}, a bound nothing measured here can fall below; give a range"
            )
            continue
        if is_score_key(key):
            chance = want.get("chance", DEFAULT_CHANCE) if isinstance(want, dict) else DEFAULT_CHANCE
            if low <= 0 and high >= 1:
                problems.append(f"{key}: [{low}, {high}] admits every possible share")
                continue
            if high >= 1 and low <= chance:
                problems.append(
                    f"{key}: [{low}, {high}] admits chance ({chance}) and perfect alike; narrow it around "
                    'the measured value (or give the entry the task\'s "chance" if that is below the min)'
                )
                continue
        if 0 < low and high < math.inf and high / low > 10**MAX_DECADES:
            problems.append(f"{key}: [{low}, {high}] spans more than {MAX_DECADES} orders of magnitude")
    return problems


def stored_run(notebook: str | os.PathLike) -> dict[str, Any]:
    """What a committed notebook's outputs came from: ``metadata["sft_workbook"]``.

    Written by ``python -m sft_helpers notebooks`` (mode, results, seconds, peak_mb, cpu);
    an error that names the command when the notebook was never refreshed that way.
    """
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    run = nb.get("metadata", {}).get("sft_workbook")
    if not run:
        raise ValueError(
            f"{notebook} has no stored run metadata: refresh it with `python -m sft_helpers notebooks "
            f"{Path(notebook).stem[:2]}` (full mode) so its outputs and key results come from one run."
        )
    return run


def stored_results(notebook: str | os.PathLike) -> dict[str, Any]:
    """The key results recorded by the run whose outputs a committed notebook stores."""
    return dict(stored_run(notebook)["results"])


def stored_full_run(notebook: str | os.PathLike) -> dict[str, Any]:
    """``stored_run`` of a notebook whose outputs must come from a full-mode run (claims tests)."""
    run = stored_run(notebook)
    if run.get("mode") != "full":
        raise ValueError(
            f"{notebook}'s stored outputs come from a {run.get('mode')!r} run; the committed outputs must "
            f"be full mode: `python -m sft_helpers notebooks {Path(notebook).stem[:2]}`."
        )
    return run


def stored_outputs_text(
    notebook: str | os.PathLike, kinds: tuple[str, ...] = ("text/markdown", "text/plain")
) -> str:
    """Every stored text output of a notebook (streams and the given MIME types), joined by newlines."""
    parts = []
    for cell in json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]:
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append("".join(out["text"]))
            for key in kinds:
                if key in out.get("data", {}):
                    parts.append("".join(out["data"][key]))
    return "\n".join(parts)
