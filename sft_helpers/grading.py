"""Grade a class's exercise notebooks: ``python -m sft_helpers grade SUBMISSIONS --out grades.csv``.

Who is who (the student rule), for each ``.ipynb`` (other files are not graded; the log and the
summary list them):

* ``SUBMISSIONS/<student>/<notebook>.ipynb``: one folder per student, or
* ``SUBMISSIONS/<student>__<notebook>.ipynb``: flat, student and notebook joined by two underscores.

``<notebook>`` is matched with the exercise notebooks in ``--exercises`` (default ``exercises/``)
by its name (``02_self_attention``) or, failing that, its two-digit chapter number
(``02_self_attention (1).ipynb`` is chapter 2).

How one submission is graded, never in the instructor's process:

1. The check cells (code cells calling ``check_*``) of the generated exercise notebook are put
   back by cell id, replacing whatever the submission has there (or inserted when deleted),
   so a submission cannot grade itself; every cell is tagged ``raises-exception`` so a
   failing exercise does not stop the later ones.
2. The notebook runs in a child process (papermill, fast mode unless ``--full``) in a
   temporary folder that holds only the prepared notebook, with a private HOME, a wall-clock
   limit (``--timeout``, the child and its kernel are killed at the limit; ``--cell-timeout``
   interrupts one slow cell and lets the rest run) and a memory cap (``--memory-mb``:
   ``resource.setrlimit(RLIMIT_AS)`` in the child, inherited by its kernel). Where Linux lets an
   unprivileged user create namespaces (``--isolation auto``, the default), the child starts in
   its own user, mount and network namespaces (``sft_helpers.isolation``): no network at all,
   and the solution notebooks, the submissions folder and (when the course is not installed in
   it) your home folder are hidden under empty mounts. Elsewhere it falls back, with a printed
   warning, to ``sft_helpers.offline``'s in-process socket patch, and the submission can read
   your files. ``HF_HUB_OFFLINE=1`` either way.
3. A first cell imports the checks before any submission code runs (their snapshot of the
   references, ``sft_helpers.checks.integrity``), and a last cell records which of those names
   the submission rebound: a submission that rebound any scores 0 on every exercise, flagged.
   Each check appends its result to ``SFT_CHECK_RESULTS``; the grader sets ``SFT_CHECK_CELL`` to
   the check cell's id just before it, so only results of the re-inserted cells count. A check
   that never ran (time-out, dead kernel) scores 0 with the reason.

The CSV (student, notebook, exercise, points, passed, message) is written after each
submission, with a progress file ``<out>.progress.jsonl`` beside it: a re-run skips the
submissions already graded (same file content) unless ``--fresh``. The Markdown summary
(``--summary``, default ``<out>.md``) has per-exercise pass rates, each student's total, and
the submissions that could not run or were flagged for review (code that touches the check
machinery). The grader stops copied answers and submissions that hand in or call the
reference; it does not stop a determined learner who writes code to forge results from
inside the kernel, hence the flags.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import nbformat

from sft_helpers import settings
from sft_helpers.exercises import NOTEBOOK_GLOB, check_calls

__all__ = ["CSV_FIELDS", "Exercise", "Submission", "discover", "grade_all", "main", "prepare_notebook"]

CSV_FIELDS = ["student", "notebook", "exercise", "points", "passed", "message"]
RESULTS_ENV = settings.CHECK_RESULTS_ENV
CELL_ENV = settings.CHECK_CELL_ENV
RAISES_TAG = "raises-exception"
EXIT_DEAD_KERNEL, EXIT_ERROR = 3, 4
_SUSPICIOUS = re.compile(
    r"SFT_CHECK_RESULTS|SFT_CHECK_CELL|allow_reference|CheckResult|checks\.core|_REGISTRY|"
    r"checks\.check_\w+\s*=|registered_checks|checks\.integrity|import integrity|_integrity|"
    r"checks\.references|checks import references"
)
SNAPSHOT_CELL_ID, REBOUND_CELL_ID = "sft-grade-snapshot", "sft-grade-rebound"


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One graded check call: the cell that makes it and the check function it calls."""

    cell_id: str
    check: str
    name: str


@dataclasses.dataclass
class Submission:
    """A submitted file and whose it is; ``notebook`` is ``""`` when it matches no exercise notebook."""

    path: Path
    student: str
    notebook: str
    problem: str = ""


# ----------------------------------------------------------------------------------------------
# Exercise notebooks and submissions
# ----------------------------------------------------------------------------------------------
def _exercise_names() -> dict[str, str]:
    """``{check function: exercise name}`` for the course's checks (imported here: our own code)."""
    try:
        import sft_helpers.checks as course_checks  # registers every check
        from sft_helpers.checks.core import registered_checks
    except Exception:  # a broken chapter module must not stop grading; fall back to function names
        return {}
    # Only the course's own checks: a check registered elsewhere in this process (a test, an
    # instructor's extra module) may share a function name but not the exercise.
    return {fn: name for fn, name in registered_checks().items() if hasattr(course_checks, fn)}


def load_exercises(exercises_dir: Path) -> dict[str, tuple[Any, list[Exercise]]]:
    """``{notebook stem: (exercise notebook, its graded check calls)}``."""
    if not exercises_dir.is_dir():
        raise FileNotFoundError(
            f"--exercises {str(exercises_dir)!r} is not a folder; build it with `python -m sft_helpers exercises build`"
        )
    names = _exercise_names()
    out = {}
    for path in sorted(exercises_dir.glob(NOTEBOOK_GLOB)):
        if path.name.endswith(".new.ipynb"):
            continue
        nb = nbformat.read(path, as_version=4)
        found = []
        for cell in nb.cells:
            if cell.cell_type == "code":
                for fn in check_calls(cell.source):
                    found.append(Exercise(cell["id"], fn, names.get(fn, fn.removeprefix("check_"))))
        if found:
            out[path.stem] = (nb, found)
    if not out:
        raise ValueError(f"no exercise notebook with check cells in {exercises_dir}")
    return out


def _match_notebook(name: str, stems: Sequence[str]) -> str:
    if name in stems:
        return name
    number = re.match(r"\d\d", name)
    if number:
        hits = [s for s in stems if s.startswith(number.group(0))]
        if len(hits) == 1:
            return hits[0]
    return ""


def discover(submissions: Path, stems: Sequence[str], ignored: list[Path] | None = None) -> list[Submission]:
    """Every submitted notebook under ``submissions`` with its student and notebook (module docstring).

    Files that are not ``.ipynb`` (a student's notes, a zip, a README) are not submissions: they
    are left out and, when ``ignored`` is given, appended to it so the grader can report them.
    """
    if not submissions.exists():
        raise FileNotFoundError(f"SUBMISSIONS {str(submissions)!r} does not exist")
    files: list[tuple[Path, str | None]] = []
    if submissions.is_file():
        files.append((submissions, None))
    else:
        for entry in sorted(submissions.iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                files += [
                    (f, entry.name)
                    for f in sorted(entry.iterdir())
                    if f.is_file() and not f.name.startswith(".")
                ]
            elif entry.is_file():
                files.append((entry, None))
    out = []
    for path, folder in files:
        if not path.name.lower().endswith(".ipynb"):
            if ignored is not None:
                ignored.append(path)
            continue
        stem = path.name[: -len(".ipynb")]
        if folder is not None:
            student, notebook = folder, stem
        elif "__" in stem:
            student, notebook = stem.rsplit("__", 1)
        else:
            student, notebook = stem, stem
        matched = _match_notebook(notebook, stems) or (stems[0] if len(stems) == 1 else "")
        problem = (
            "" if matched else f"cannot tell which exercise notebook {path.name} is (see the naming rule)"
        )
        out.append(Submission(path, student, matched, problem))
    return out


# ----------------------------------------------------------------------------------------------
# Preparing and running one submission
# ----------------------------------------------------------------------------------------------
def _env_cell(cell_id: str, value: str | None) -> Any:
    code = (
        f"import os as _sft_os; _sft_os.environ[{CELL_ENV!r}] = {value!r}; del _sft_os"
        if value is not None
        else f"import os as _sft_os; _sft_os.environ.pop({CELL_ENV!r}, None); del _sft_os"
    )
    cell = nbformat.v4.new_code_cell(code, metadata={"tags": [RAISES_TAG]})
    cell["id"] = f"sft-grade-{cell_id}"[:64]
    return cell


def prepare_notebook(submission: Any, exercise: Any, graded: Sequence[Exercise]) -> tuple[Any, list[str]]:
    """The notebook to run: the submission with the exercise's check cells put back, plus review flags."""
    check_ids = {e.cell_id for e in graded}
    exercise_cells = {c["id"]: c for c in exercise.cells if c.get("id") in check_ids}
    order = [c.get("id") for c in exercise.cells]
    cells, placed, flags = [], set(), []
    for cell in submission.cells:
        cell_id = cell.get("id")
        if cell_id in exercise_cells and cell_id not in placed:
            cells.append(exercise_cells[cell_id])
            placed.add(cell_id)
            continue
        if cell.cell_type == "code" and _SUSPICIOUS.search(cell.source):
            flags.append(
                f"cell {cell_id or '?'} touches the check machinery: {_SUSPICIOUS.search(cell.source).group(0)}"
            )
        cells.append(cell)
    for cell_id in (i for i in order if i in exercise_cells and i not in placed):  # deleted check cells
        previous = order[: order.index(cell_id)]
        at = len(cells)
        for prev in reversed(previous):
            hits = [n for n, c in enumerate(cells) if c.get("id") == prev]
            if hits:
                at = hits[0] + 1
                break
        cells.insert(at, exercise_cells[cell_id])
    out_cells = []
    for cell in cells:
        cell = nbformat.from_dict(json.loads(json.dumps(cell)))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            tags = [t for t in cell.metadata.get("tags", []) if t != RAISES_TAG]
            cell.metadata["tags"] = [*tags, RAISES_TAG]
            if cell.get("id") in exercise_cells:
                out_cells += [
                    _env_cell(cell["id"] + "-set", cell["id"]),
                    cell,
                    _env_cell(cell["id"] + "-unset", None),
                ]
                continue
        out_cells.append(cell)
    first = nbformat.v4.new_code_cell(
        "import sft_helpers.checks  # the grader: the checks' snapshot of their references, before the submission",
        metadata={"tags": [RAISES_TAG]},
    )
    first["id"] = SNAPSHOT_CELL_ID
    last = nbformat.v4.new_code_cell(
        "from sft_helpers.checks import integrity as _sft_integrity; _sft_integrity.record_rebound()",
        metadata={"tags": [RAISES_TAG]},
    )
    last["id"] = REBOUND_CELL_ID
    nb = nbformat.v4.new_notebook(cells=[first, *out_cells, last], metadata=dict(exercise.metadata))
    return nb, flags


_LIVE: set[int] = set()  # child processes running now, killed if the grader itself is stopped
_LIVE_LOCK = threading.Lock()


def _kill_live_children() -> None:
    with _LIVE_LOCK:
        pids = list(_LIVE)
    for pid in pids:
        _kill_tree(pid)


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the clean-up below instead of dying at once


def _kill_tree(pid: int) -> None:
    """Kill a process and all its descendants (the kernel runs in its own session)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for proc in family:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


@dataclasses.dataclass(frozen=True)
class Boundary:
    """How each submission is run: in namespaces (``sft_helpers.isolation``) or without; what is hidden."""

    namespaces: bool
    hide: tuple[str, ...] = ()
    note: str = ""
    readonly: tuple[str, ...] = ()


NO_BOUNDARY = Boundary(False, (), "no isolation boundary requested (--isolation none)")


def _keep_paths(extra: Sequence[str | Path] = ()) -> list[str]:
    """Folders the child needs: the interpreter, the libraries, the course package, PYTHONPATH."""
    import sft_helpers

    keep = [sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sft_helpers.__file__).parent)]
    keep += [p for p in sys.path if p]
    keep += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    keep += [str(p) for p in extra]
    return keep


def choose_boundary(
    requested: str, hide: Sequence[Path], log: Any = print, keep: Sequence[str | Path] = ()
) -> Boundary:
    """The boundary for ``--isolation`` (``auto``, ``namespaces`` or ``none``), hiding what can be hidden.

    ``auto`` falls back to no boundary with a printed warning when namespaces do not work here;
    ``namespaces`` raises ``RuntimeError`` instead. A folder that holds something the child needs
    (the interpreter, the package, ``keep``) is not hidden, and the warning says so.
    """
    from sft_helpers import isolation

    if requested not in ("auto", "namespaces", "none"):
        raise ValueError(f"--isolation {requested!r}: use auto, namespaces or none")
    if requested == "none":
        log(
            "warning: --isolation none: submissions run as you, with your files (solutions included) readable"
        )
        return NO_BOUNDARY
    found = isolation.probe()
    if not found.available:
        text = (
            f"no isolation boundary here ({found.reason}). Submissions run as you without it: only "
            "the working folder is a temporary copy, HOME is private, memory is capped and sockets are "
            "patched in-process; they CAN read your files, the solution notebooks included, by path"
        )
        if requested == "namespaces":
            raise RuntimeError(text)
        log(f"warning: {text}")
        return Boundary(False, (), text)
    needed = _keep_paths(keep)
    hidden, kept = [], []
    for folder in dict.fromkeys(Path(h).resolve() for h in hide):
        (hidden if isolation.hideable(folder, needed) else kept).append(str(folder))
    import sft_helpers

    readonly = tuple(dict.fromkeys([str(Path(sft_helpers.__file__).resolve().parent), sys.prefix]))
    note = "network namespace (no network), mount namespace hiding " + (", ".join(hidden) or "nothing")
    if kept:
        log(
            f"warning: not hidden from submissions (they hold the interpreter or the course): {', '.join(kept)}"
        )
    return Boundary(True, tuple(hidden), note, readonly)


def _private_home(folder: Path) -> dict[str, str]:
    home = folder / "home"
    home.mkdir(exist_ok=True)
    return {
        "HOME": str(home),
        "USERPROFILE": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "IPYTHONDIR": str(home / ".ipython"),
        "JUPYTER_RUNTIME_DIR": str(home / ".jupyter-runtime"),
        "MPLCONFIGDIR": str(home / ".matplotlib"),
    }


def _run_child(
    notebook: Path,
    folder: Path,
    results: Path,
    timeout: float,
    memory_mb: int,
    fast: bool,
    cell_timeout: float | None = None,
    boundary: Boundary = NO_BOUNDARY,
) -> str:
    """Run the notebook in a child process; return "ok", "timeout", "dead kernel" or "error: ..."."""
    from sft_helpers import isolation
    from sft_helpers.offline import offline_environment

    log = folder / "child.log"
    with offline_environment() as env:
        env.update({RESULTS_ENV: str(results), settings.FAST_ENV: "1" if fast else "0", "MALLOC_ARENA_MAX": "2"})
        env.update(_private_home(folder))
        env.pop(CELL_ENV, None)
        command = [
            sys.executable,
            "-m",
            "sft_helpers.grading",
            "--child",
            str(notebook),
            str(folder / "out.ipynb"),
        ]
        command += ["--memory-mb", str(memory_mb)]
        if cell_timeout:
            command += ["--cell-timeout", str(cell_timeout)]
        if boundary.namespaces:
            command += ["--isolated", *[f"--hide={h}" for h in boundary.hide]]
            command += [f"--readonly={r}" for r in boundary.readonly]
            command = isolation.wrap(command)
        with open(log, "wb") as handle:
            proc = subprocess.Popen(
                command, cwd=folder, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
            with _LIVE_LOCK:
                _LIVE.add(proc.pid)
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                return "timeout"
            finally:
                _kill_tree(proc.pid)
                with _LIVE_LOCK:
                    _LIVE.discard(proc.pid)
    if code == 0:
        return "ok"
    if code == EXIT_DEAD_KERNEL:
        return "dead kernel"
    tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
    return "error: " + (" | ".join(tail) or f"exit code {code}")


def _child_main(
    notebook: str,
    output: str,
    memory_mb: int,
    cell_timeout: float | None = None,
    isolated: bool = False,
    hide: Sequence[str] = (),
    readonly: Sequence[str] = (),
) -> int:
    """Inside the child: enter the boundary, cap memory, run papermill; learner errors are expected."""
    if isolated:
        from sft_helpers import isolation

        try:
            isolation.enter(hide, readonly)
        except OSError as error:  # never run a submission unprotected when protection was asked for
            print(f"isolation failed, the submission was not run: {error}", file=sys.stderr)
            return EXIT_ERROR
    if memory_mb > 0:
        try:
            import resource
        except ImportError:  # Windows: no rlimits; the time limit still applies
            print("warning: no memory cap on this platform (the resource module is missing)", file=sys.stderr)
        else:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import papermill
    from nbclient.exceptions import DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            notebook,
            output,
            cwd=os.getcwd(),
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            execution_timeout=cell_timeout,
            interrupt_on_timeout=True,  # a cell past the limit is interrupted; the next cells still run
        )
    except PapermillExecutionError:
        return 0  # a cell raised: the checks after it still ran (raises-exception tags)
    except DeadKernelError as error:
        print(f"dead kernel: {error}", file=sys.stderr)
        return EXIT_DEAD_KERNEL
    except Exception as error:
        text = f"{type(error).__name__}: {error}"
        print(text, file=sys.stderr)
        return EXIT_DEAD_KERNEL if "kernel died" in text.lower() else EXIT_ERROR
    return 0


def _read_results(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


_NOT_RUN = {
    "ok": "not run: the check cell produced no result",
    "timeout": "not run: the notebook hit the time limit of {timeout:g} s before this check",
    "dead kernel": "not run: the kernel died (out of memory or a crash) before this check",
}


def grade_one(
    sub: Submission,
    exercises: dict[str, tuple[Any, list[Exercise]]],
    timeout: float,
    memory_mb: int,
    fast: bool,
    cell_timeout: float | None = None,
    boundary: Boundary = NO_BOUNDARY,
) -> tuple[list[dict[str, Any]], str, list[str]]:
    """Rows for one submission, its status ("ok", "timeout", ...) and review flags."""
    nb_ex, graded = exercises[sub.notebook]
    try:
        text = sub.path.read_text(encoding="utf-8")
        submission = nbformat.reads(text, as_version=4)
        if not isinstance(submission.get("cells"), list):
            raise ValueError("no cells")
    except Exception as error:
        status = f"unreadable: not a notebook ({type(error).__name__}: {str(error)[:120]})"
        return [_row(sub, e, False, f"could not grade: {status}") for e in graded], status, []
    prepared, flags = prepare_notebook(submission, nb_ex, graded)
    with tempfile.TemporaryDirectory(prefix="sft-grade-") as tmp:
        folder = Path(tmp)
        notebook = folder / "submission.ipynb"
        nbformat.write(prepared, notebook)
        results = folder / "results.jsonl"
        status = _run_child(notebook, folder, results, timeout, memory_mb, fast, cell_timeout, boundary)
        records = _read_results(results)
    integrity = [r["rebound"] for r in records if isinstance(r.get("rebound"), list)]
    swapped = [str(n) for n in integrity[-1]] if integrity else None
    if swapped:
        flags.append("rebound names the checks rely on: " + "; ".join(swapped[:5]))
        why = "not counted: the submission replaced " + "; ".join(swapped[:3]) + ", which the checks rely on"
        return [_row(sub, e, False, why) for e in graded], status, flags
    if swapped is None and status == "ok":
        flags.append("the grader's last cell left no integrity record (SFT_CHECK_RESULTS tampered with?)")
        why = "not counted: the grader could not confirm that the checks' references were left alone"
        return [_row(sub, e, False, why) for e in graded], status, flags
    rows = []
    for ex in graded:
        mine = [r for r in records if r.get("cell") == ex.cell_id and r.get("check") == ex.check]
        if mine:
            last = mine[-1]
            rows.append(_row(sub, ex, bool(last.get("passed") is True), str(last.get("message", ""))))
        else:
            why = _NOT_RUN.get(status, "not run: {status}").format(timeout=timeout, status=status)
            rows.append(_row(sub, ex, False, why))
    return rows, status, flags


def _row(sub: Submission, ex: Exercise, ok: bool, message: str) -> dict[str, Any]:
    return {
        "student": sub.student,
        "notebook": sub.notebook,
        "exercise": ex.name,
        "points": 1 if ok else 0,
        "passed": ok,
        "message": " ".join(message.split())[:500],
    }


# ----------------------------------------------------------------------------------------------
# Grading a folder, resuming, the summary
# ----------------------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_progress(progress: Path) -> dict[str, dict[str, Any]]:
    done = {}
    if progress.exists():
        for line in progress.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                done[entry["submission"]] = entry
            except (ValueError, KeyError, TypeError):
                continue
    return done


def _restore_csv(out: Path, done: dict[str, dict[str, Any]]) -> None:
    """Keep only rows of submissions recorded as done (a crash may have left half a submission)."""
    keep = {(e["student"], e["notebook"]) for e in done.values()}
    rows = []
    if out.exists():
        with open(out, newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle) if (r.get("student"), r.get("notebook")) in keep]
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def grade_all(
    submissions: Path,
    out: Path,
    summary: Path,
    exercises_dir: Path,
    timeout: float,
    memory_mb: int,
    fast: bool = True,
    fresh: bool = False,
    cell_timeout: float | None = None,
    jobs: int = 1,
    log: Any = print,
    isolation: str = "auto",
    hide: Sequence[Path] = (),
) -> dict[str, str]:
    """Grade every submission (resuming a previous run); return ``{submission: status}``.

    ``isolation`` is ``auto`` (namespaces where they work, else a warning), ``namespaces`` (stop
    when they do not) or ``none``; ``hide`` adds folders to hide from submissions, beside the
    solution notebooks, the submissions folder and your home folder (see :func:`choose_boundary`).
    """
    exercises = load_exercises(exercises_dir)
    boundary = choose_boundary(
        isolation, [*solution_folders(exercises_dir), submissions, Path.home(), *hide], log
    )
    ignored: list[Path] = []
    subs = discover(submissions, list(exercises), ignored)
    if ignored:
        shown = ", ".join(
            str(p.relative_to(submissions) if submissions.is_dir() else p.name) for p in ignored
        )
        log(f"ignored {len(ignored)} file(s) that are not notebooks (.ipynb): {shown}")
    progress = out.with_name(out.name + ".progress.jsonl")
    if fresh:
        progress.unlink(missing_ok=True)
        out.unlink(missing_ok=True)
    done = _load_progress(progress)
    _restore_csv(out, done)
    statuses: dict[str, str] = {}
    todo = []
    for sub in subs:
        key = str(sub.path.relative_to(submissions) if submissions.is_dir() else sub.path.name)
        digest = _sha256(sub.path)
        if key in done and done[key].get("sha256") == digest:
            statuses[key] = done[key]["status"]
            log(f"{key}: already graded ({statuses[key]}), skipped")
        else:
            todo.append((key, digest, sub))

    def work(sub: Submission) -> tuple[list[dict[str, Any]], str, list[str], float]:
        start = time.monotonic()
        if sub.problem:
            return [], f"unmatched: {sub.problem}", [], 0.0
        rows, status, flags = grade_one(sub, exercises, timeout, memory_mb, fast, cell_timeout, boundary)
        return rows, status, flags, time.monotonic() - start

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # each job waits on its own child process
        futures = {pool.submit(work, sub): (key, digest, sub) for key, digest, sub in todo}
        try:
            for future in as_completed(futures):
                key, digest, sub = futures[future]
                rows, status, flags, seconds = future.result()
                with open(out, "a", newline="", encoding="utf-8") as handle:
                    csv.DictWriter(handle, CSV_FIELDS).writerows(rows)
                    handle.flush()
                    os.fsync(handle.fileno())
                entry = {
                    "submission": key,
                    "sha256": digest,
                    "student": sub.student,
                    "notebook": sub.notebook,
                    "status": status,
                    "flags": flags,
                }
                with open(progress, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")
                done[key] = entry
                statuses[key] = status
                log(f"{key}: {sum(r['points'] for r in rows)}/{len(rows)} ({status}) in {seconds:.0f} s")
        except BaseException:  # Ctrl-C or SIGTERM: stop the children and their kernels; what is done stays
            for future in futures:
                future.cancel()
            _kill_live_children()
            raise
    write_summary(
        out,
        summary,
        exercises,
        done,
        ignored=[str(p.relative_to(submissions) if submissions.is_dir() else p.name) for p in ignored],
    )
    return statuses


def solution_folders(exercises_dir: Path) -> list[Path]:
    """Where the solution notebooks are: ``notebooks/`` beside the exercises and beside the installed package."""
    import sft_helpers

    candidates = [
        exercises_dir.resolve().parent / "notebooks",
        Path(sft_helpers.__file__).resolve().parents[1] / "notebooks",
    ]
    return [c for c in dict.fromkeys(candidates) if c.is_dir()]


def write_summary(
    out: Path,
    summary: Path,
    exercises: dict[str, tuple[Any, list[Exercise]]],
    done: dict,
    ignored: Sequence[str] = (),
) -> None:
    """A Markdown page: pass rate per exercise, total per student, problems and review flags."""
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    per_ex: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    per_student: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        per_ex[(r["notebook"], r["exercise"])][0] += int(r["points"])
        per_ex[(r["notebook"], r["exercise"])][1] += 1
        per_student[r["student"]][0] += int(r["points"])
        per_student[r["student"]][1] += 1
    lines = ["# Grades", "", f"{len(done)} submissions, {len(per_student)} students.", ""]
    lines += [
        "## Pass rate per exercise",
        "",
        "| notebook | exercise | passed | rate |",
        "| --- | --- | --- | --- |",
    ]
    for stem, (_, graded) in exercises.items():
        for ex in graded:
            got, total = per_ex.get((stem, ex.name), [0, 0])
            rate = f"{100 * got / total:.0f}%" if total else "-"
            lines.append(f"| {stem} | {ex.name} | {got}/{total} | {rate} |")
    lines += ["", "## Total per student", "", "| student | points | out of |", "| --- | --- | --- |"]
    for student in sorted(per_student):
        got, total = per_student[student]
        lines.append(f"| {student} | {got} | {total} |")
    problems = [e for e in done.values() if e["status"] != "ok" or e.get("flags")]
    if problems:
        lines += ["", "## Needs a look", ""]
        for e in sorted(problems, key=lambda e: e["submission"]):
            notes = [e["status"]] if e["status"] != "ok" else []
            notes += [f"flagged for review: {f}" for f in e.get("flags", [])]
            lines.append(f"- `{e['submission']}`: " + "; ".join(notes))
    if ignored:
        lines += ["", "## Not graded (not notebooks)", ""]
        lines += [f"- `{name}`" for name in ignored]
    summary.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """``SUBMISSIONS --out grades.csv [--summary S.md] [--timeout S] [--memory-mb M]``; returns an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        parser = argparse.ArgumentParser(prog="sft_helpers.grading --child")
        parser.add_argument("--child", nargs=2, metavar=("NOTEBOOK", "OUTPUT"))
        parser.add_argument("--memory-mb", type=int, default=0)
        parser.add_argument("--cell-timeout", type=float, default=None)
        parser.add_argument("--isolated", action="store_true")
        parser.add_argument("--hide", action="append", default=[])
        parser.add_argument("--readonly", action="append", default=[])
        args = parser.parse_args(argv)
        return _child_main(
            args.child[0],
            args.child[1],
            args.memory_mb,
            args.cell_timeout,
            args.isolated,
            args.hide,
            args.readonly,
        )
    parser = argparse.ArgumentParser(
        prog="python -m sft_helpers grade",
        description="Grade submitted exercise notebooks (see exercises/README.md).",
    )
    parser.add_argument("submissions", type=Path, help="a folder of submissions (or one notebook)")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the CSV to write")
    parser.add_argument("--summary", type=Path, default=None, help="Markdown summary (default: OUT with .md)")
    parser.add_argument(
        "--exercises", type=Path, default=Path("exercises"), help="the generated exercise notebooks"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per submission (default 900)")
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=None,
        help="seconds per cell; a slower cell is interrupted (default none)",
    )
    parser.add_argument(
        "--memory-mb", type=int, default=8192, help="address-space cap per submission, 0 = none"
    )
    parser.add_argument(
        "--full", action="store_true", help="run in full mode instead of fast mode (SFT_FAST=1)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time (default 1)")
    parser.add_argument("--fresh", action="store_true", help="regrade everything, ignoring a previous run")
    parser.add_argument(
        "--isolation",
        choices=["auto", "namespaces", "none"],
        default="auto",
        help="run each submission in Linux namespaces (no network, solutions hidden); auto falls back "
        "with a warning where they do not work (default auto)",
    )
    parser.add_argument(
        "--hide", type=Path, action="append", default=[], help="another folder to hide from submissions"
    )
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be a positive number of seconds")
    summary = args.summary or args.out.with_suffix(".md")
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        statuses = grade_all(
            args.submissions,
            args.out,
            summary,
            args.exercises,
            args.timeout,
            args.memory_mb,
            not args.full,
            args.fresh,
            jobs=args.jobs,
            cell_timeout=args.cell_timeout,
            isolation=args.isolation,
            hide=args.hide,
        )
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"graded {len(statuses)} submissions: {args.out}, summary in {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
