"""Key results of a notebook run (accuracy, F1, reproduction errors, timings).

A notebook calls ``record("name", value)`` for each number the course promises; the course
runner (``python -m sft_helpers course``) and the regression tests read them back. Values
go to the JSON file named by ``SFT_RESULTS_FILE`` when it is set, so a run in another
process (papermill, nbval) can be compared with committed expectations.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

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
    path = os.environ.get("SFT_RESULTS_FILE")
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


def stored_outputs_text(notebook: str | os.PathLike, kinds: tuple[str, ...] = ("text/markdown", "text/plain")) -> str:
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
