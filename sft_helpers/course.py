"""Run the course: execute notebooks headless with papermill and report what they computed.

``run_course`` writes executed copies under ``build/`` (never touching ``notebooks/``) and
prints a table of seconds, peak memory and the key results each notebook recorded with
``sft_helpers.results.record``. ``refresh_solution_notebooks`` re-executes the solution
notebooks in full mode and stores their outputs back, without papermill's run metadata.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import psutil

from sft_helpers import settings
from sft_helpers.results import read_results
from sft_helpers.settings import HEADLESS_ENV
from sft_helpers.setup_env import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BUILD_DIR = REPO_ROOT / "build"
BENCH_DIR = REPO_ROOT / "bench"
KERNEL_NAME = "python3"  # inside the course's Python, the native kernel is that Python

# What a learner on a 2-core laptop should wait, in full mode (the course's targets).
CHAPTER_BUDGET_S = 240.0
COURSE_BUDGET_S = 900.0
PEAK_BUDGET_MB = 3072.0
PEAK_BUDGET_MB_BY_CHAPTER = {"07": 5120.0}  # the LLM chapter holds a 135M-parameter model and its cache


def budgets(name: str) -> tuple[float, float]:
    """(seconds, peak MB) a chapter may take in full mode."""
    return CHAPTER_BUDGET_S, PEAK_BUDGET_MB_BY_CHAPTER.get(name[:2], PEAK_BUDGET_MB)


def list_notebooks(names: list[str] | None = None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """Notebooks in chapter order; ``names`` keeps those whose file name starts with one of them."""
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if names:
        chosen = [p for p in found if any(p.name.startswith(n) or p.stem == n for n in names)]
        unknown = [n for n in names if not any(p.name.startswith(n) or p.stem == n for p in found)]
        if unknown:
            raise SystemExit(
                f"No notebook matches {unknown}; available: {', '.join(p.stem for p in found)}."
            )
        return chosen
    return found


@dataclass
class NotebookRun:
    """Outcome of one executed notebook."""

    name: str
    ok: bool
    seconds: float
    peak_mb: float
    results: dict[str, Any] = field(default_factory=dict)
    error: str = ""


class _PeakMemory:
    """Polls the resident memory of this process's children (the kernel) in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def execute_notebook(
    source: Path, target: Path, fast: bool, results_file: Path, parameters: dict | None = None
) -> NotebookRun:
    """Execute ``source`` with papermill into ``target``; collect timings and recorded results."""
    import papermill as pm

    target.parent.mkdir(parents=True, exist_ok=True)
    results_file.parent.mkdir(parents=True, exist_ok=True)
    results_file.unlink(missing_ok=True)
    env_backup = dict(os.environ)
    os.environ[settings.FAST_ENV] = "1" if fast else "0"
    os.environ[settings.RESULTS_FILE_ENV] = str(results_file)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.update(HEADLESS_ENV)  # progress bars stored as finished text, not frozen widgets
    start = time.perf_counter()
    error = ""
    try:
        with _PeakMemory() as memory:
            pm.execute_notebook(
                str(source),
                str(target),
                parameters=parameters or {},
                kernel_name=KERNEL_NAME,
                cwd=str(source.parent),
                progress_bar=False,
                log_output=False,
            )
    except Exception as exc:  # papermill raises PapermillExecutionError with the cell's error
        error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else exc!r}"
    finally:
        os.environ.clear()
        os.environ.update(env_backup)
    seconds = time.perf_counter() - start
    results = read_results(results_file) if results_file.exists() else {}
    return NotebookRun(source.stem, not error, seconds, memory.peak / 2**20, results, error)


def _format_results(results: dict[str, Any], width: int = 70) -> str:
    parts = []
    for key, value in results.items():
        parts.append(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}")
    text = ", ".join(parts)
    return text if len(text) <= width else text[: width - 3] + "..."


def print_table(runs: list[NotebookRun], with_budgets: bool = True) -> None:
    """The course's summary table: notebook, status, seconds and peak memory against their
    budgets (full mode), key results; then a total line."""
    header = f"{'notebook':28} {'status':6} {'seconds':>8} {'budget':>6} {'peak MB':>8} {'budget':>6}  key results"
    print(header)
    print("-" * len(header))
    for run in runs:
        status = "ok" if run.ok else "FAILED"
        secs, mb = budgets(run.name)
        over_s = "!" if with_budgets and run.seconds > secs else " "
        over_m = "!" if with_budgets and run.peak_mb > mb else " "
        shown_s, shown_m = (f"{secs:.0f}", f"{mb:.0f}") if with_budgets else ("-", "-")
        print(
            f"{run.name:28} {status:6} {run.seconds:7.1f}{over_s} {shown_s:>6} {run.peak_mb:7.0f}{over_m} "
            f"{shown_m:>6}  {_format_results(run.results)}"
        )
    total = sum(run.seconds for run in runs)
    peak = max((run.peak_mb for run in runs), default=0.0)
    budget_note = f" (budget {COURSE_BUDGET_S:.0f} s: {total / COURSE_BUDGET_S:.2f}x)" if with_budgets else ""
    print("-" * len(header))
    print(f"{'total':28} {'':6} {total:8.1f}{budget_note}; highest peak {peak:.0f} MB")
    if with_budgets:
        over = [r.name for r in runs if r.seconds > budgets(r.name)[0] or r.peak_mb > budgets(r.name)[1]]
        if over:
            print(f"over budget ('!'): {', '.join(over)}")
    for run in runs:
        if not run.ok:
            print(f"\n{run.name} failed: {run.error}")


def run_course(
    names: list[str] | None = None,
    fast: bool | None = None,
    folder: Path = NOTEBOOK_DIR,
    build_dir: Path = BUILD_DIR,
) -> int:
    """Execute every notebook of ``folder`` in order into ``build_dir``; print the table; 0 when all succeed.

    The table and ``build_dir/course_<mode>.json`` hold each chapter's seconds and peak memory
    with its budget (``budgets``).
    """
    if fast is None:
        from sft_helpers.runtime import fast_mode

        fast = fast_mode()
    mode = "fast" if fast else "full"
    notebooks = list_notebooks(names, folder)
    print(f"Running {len(notebooks)} notebooks in {mode} mode; executed copies go to {build_dir}/notebooks/.")
    runs = []
    for nb in notebooks:
        print(f"  {nb.stem} ...", flush=True)
        run = execute_notebook(
            nb, build_dir / "notebooks" / nb.name, fast, build_dir / "results" / mode / f"{nb.stem}.json"
        )
        print(f"  {nb.stem}: {'ok' if run.ok else 'FAILED'} in {run.seconds:.0f} s", flush=True)
        runs.append(run)
    print()
    print_table(runs, with_budgets=not fast)
    summary = {
        r.name: {"ok": r.ok, "seconds": round(r.seconds, 1), "peak_mb": round(r.peak_mb),
                 "budget_s": budgets(r.name)[0], "budget_mb": budgets(r.name)[1], **r.results}
        for r in runs
    }
    (build_dir / f"course_{mode}.json").write_text(json.dumps(summary, indent=1, sort_keys=True))
    return 0 if all(r.ok for r in runs) else 1


def cpu_description() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux, else platform.processor())."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def store_run_metadata(path: Path, run: NotebookRun, mode: str) -> None:
    """Record in the notebook's metadata what its stored outputs came from.

    ``metadata["sft_workbook"]`` holds the mode, the key results the run recorded, its seconds
    and peak memory and the CPU: the claims tests read them, so a stored conclusion is always
    checked against the numbers of the same run.
    """
    nb = nbformat.read(path, as_version=4)
    nb.metadata["sft_workbook"] = {
        "mode": mode,
        "results": run.results,
        "seconds": round(run.seconds, 1),
        "peak_mb": round(run.peak_mb),
        "cpu": cpu_description(),
        "cores": os.cpu_count(),
    }
    nbformat.write(nb, path)


def strip_run_metadata(path: Path) -> None:
    """Remove papermill's and the kernel's run metadata so stored notebooks diff cleanly."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            for output in cell.get("outputs", []):
                output.get("metadata", {}).pop("papermill", None)
    nbformat.write(nb, path)


def refresh_solution_notebooks(names: list[str] | None = None) -> int:
    """Re-execute solution notebooks in full mode and write their outputs back into notebooks/."""
    runs = []
    for nb in list_notebooks(names):
        print(f"  {nb.stem} (full mode) ...", flush=True)
        tmp = BUILD_DIR / "refresh" / nb.name
        run = execute_notebook(nb, tmp, False, BUILD_DIR / "results" / "full" / f"{nb.stem}.json")
        runs.append(run)
        if run.ok:
            strip_run_metadata(tmp)
            store_run_metadata(tmp, run, "full")
            nb.write_bytes(tmp.read_bytes())
        else:
            print(f"  {nb.stem} failed, left unchanged: {run.error}")
    update_readme_times()
    print_table(runs)
    return 0 if all(r.ok for r in runs) else 1


def run_benchmarks(names: list[str] | None = None, quick: bool = False) -> int:
    """Run the scripts in bench/ one after another (they print JSON lines)."""
    scripts = sorted(s for s in BENCH_DIR.glob("*.py") if not s.name.startswith("_"))
    if names:
        scripts = [s for s in scripts if s.stem in names]
    code = 0
    for script in scripts:
        print(f"# {script.name}", flush=True)
        cmd = [sys.executable, str(script)] + (["--quick"] if quick else [])
        code |= subprocess.call(cmd, cwd=REPO_ROOT)
    return code


def measured_time(notebook: Path) -> str:
    """The README's time cell for a notebook: its stored full-mode run, e.g. '3.9 min, 1.4 GB'.

    Read from the metadata that ``refresh_solution_notebooks`` writes; '(not measured)' when the
    notebook was never refreshed that way.
    """
    from sft_helpers.results import stored_run

    try:
        run = stored_run(notebook)
    except ValueError:
        return "(not measured)"
    return f"{run['seconds'] / 60:.1f} min, {run['peak_mb'] / 1024:.1f} GB"


README_TABLES = (REPO_ROOT / "README.md", REPO_ROOT / "exercises" / "README.md")


def update_readme_times(paths: tuple[Path, ...] = README_TABLES) -> None:
    """Rewrite the last cell of each chapter row (``| `NN_name` | ... |``) with its measured time.

    Called after a refresh, so the README's chapter table always quotes the stored runs.
    """
    notebooks = {p.stem: p for p in list_notebooks()}
    for path in paths:
        if not path.exists():
            continue
        lines = path.read_text(encoding="utf-8").split("\n")
        for i, line in enumerate(lines):
            if not line.startswith("| `0"):
                continue
            stem = line.split("`")[1]
            if stem in notebooks:
                cells = line.rstrip().rstrip("|").split("|")
                cells[-1] = f" {measured_time(notebooks[stem])} "
                lines[i] = "|".join(cells) + "|"
        path.write_text("\n".join(lines), encoding="utf-8")
