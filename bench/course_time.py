"""How long the whole course takes: every notebook in full mode, per chapter against its budget.

    python bench/course_time.py            # the course in full mode (about 15 minutes on 2 cores)
    python bench/course_time.py 04 05      # only these chapters
    python bench/course_time.py --fast     # fast mode (what the tests run)

Prints one JSON line per chapter (seconds, peak MB, and their ratio to the budgets in
``sft_helpers.course``) and a total line. Run it with nothing else busy on the machine: the
figures are wall-clock time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
from pathlib import Path

import _common  # noqa: F401 - puts the repository on sys.path

from sft_helpers import course


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="only these chapters (e.g. 04 05)")
    parser.add_argument("--fast", action="store_true", help="fast mode instead of full mode")
    parser.add_argument("--notebooks", type=Path, default=course.NOTEBOOK_DIR, help="folder of notebooks")
    parser.add_argument("--build-dir", type=Path, default=course.BUILD_DIR / "course_time")
    parser.add_argument("--quick", action="store_true", help="same as --fast (what `make bench --quick` passes)")
    args = parser.parse_args()
    fast = args.fast or args.quick
    with contextlib.redirect_stdout(sys.stderr):  # the runner's table; stdout carries only JSON lines
        code = course.run_course(args.names or None, fast=fast, folder=args.notebooks, build_dir=args.build_dir)
    mode = "fast" if fast else "full"
    summary = json.loads((args.build_dir / f"course_{mode}.json").read_text())
    machine = {"cpu": course.cpu_description(), "cores": os.cpu_count(), "python": platform.python_version()}
    total = 0.0
    for name, run in summary.items():
        total += run["seconds"]
        _common.emit({
            "chapter": name, "mode": mode, "ok": run["ok"], "seconds": run["seconds"],
            "budget_s": run["budget_s"], "seconds_over_budget": round(run["seconds"] / run["budget_s"], 3),
            "peak_mb": run["peak_mb"], "budget_mb": run["budget_mb"],
            "peak_over_budget": round(run["peak_mb"] / run["budget_mb"], 3),
        })
    _common.emit({
        "total_seconds": round(total, 1), "mode": mode, "budget_s": course.COURSE_BUDGET_S,
        "total_over_budget": round(total / course.COURSE_BUDGET_S, 3),
        "chapters_over_budget": [n for n, r in summary.items()
                                 if r["seconds"] > r["budget_s"] or r["peak_mb"] > r["budget_mb"]],
        **machine,
    })
    return code


if __name__ == "__main__":
    raise SystemExit(main())
