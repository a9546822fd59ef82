"""The command line: ``python -m sft_helpers COMMAND`` (every ``make`` target wraps one).

Commands that need the course's packages first make sure the virtual environment exists
(``setup``) and then re-run themselves inside it, so the same command works on a fresh
machine, with or without make. Set ``SFT_NO_VENV=1`` to use the current Python instead
(for example inside the conda environment from ``environment.yml``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from sft_helpers import settings, setup_env

# Commands that run without the course's packages (stdlib only).
_STDLIB_COMMANDS = {"setup"}


def _ensure_course_python(argv: list[str]) -> None:
    """Set up and switch to the course venv unless we are already in the right Python."""
    if os.environ.get(settings.NO_VENV_ENV, "").strip() in {"1", "true", "yes"}:
        return
    if setup_env.running_in_course_venv():
        return
    setup_env.setup()
    setup_env.reexec_in_venv(argv)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sft_helpers",
        description="The SFT Workbook's commands (each `make` target wraps one of these).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("setup", help="create .venv, install the pinned packages, register the Jupyter kernel")
    p.add_argument("--force", action="store_true", help="reinstall even if the environment looks up to date")

    p = sub.add_parser("course", help="execute every notebook headless (papermill) and print a results table")
    p.add_argument("--fast", action="store_true", help="fast mode (same as SFT_FAST=1)")
    p.add_argument("names", nargs="*", help="only these notebooks (e.g. 02 04_sft)")

    p = sub.add_parser("notebooks", help="re-execute the solution notebooks in full mode and store their outputs")
    p.add_argument("names", nargs="*", help="only these notebooks (e.g. 02 04_sft)")

    p = sub.add_parser("test", help="ruff, then pytest (extra arguments go to pytest)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)

    sub.add_parser("lab", help="start JupyterLab on the course")
    sub.add_parser("doctor", help="check the installation: one [OK]/[FAIL] line per requirement")

    p = sub.add_parser("exercises", help="build the student notebooks in exercises/ from notebooks/")
    p.add_argument("exercise_args", nargs=argparse.REMAINDER, help="e.g. `build` (see `exercises build --help`)")

    p = sub.add_parser("grade", help="grade a folder of submitted exercise notebooks")
    p.add_argument("grade_args", nargs=argparse.REMAINDER, help="SUBMISSIONS --out grades.csv ...")

    p = sub.add_parser("train", help="fine-tune on a task outside notebooks (also under torchrun)",
                       add_help=False)
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="see `train --help`")

    p = sub.add_parser("site", help="build the course website into build/site/ (`site test`: browser test)",
                       add_help=False)
    p.add_argument("site_args", nargs=argparse.REMAINDER, help="build (default), test, serve, colab-cell")

    p = sub.add_parser("bench", help="run benchmark scripts in bench/ (JSON lines)")
    p.add_argument("names", nargs="*", help="only these scripts (e.g. attention)")
    p.add_argument("--quick", action="store_true", help="pass --quick to each script")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _PASSTHROUGH:
        # These commands parse their own options (including --help): hand them the rest as is.
        _ensure_course_python(argv)
        return _PASSTHROUGH[argv[0]](argv[1:])
    args = _build_parser().parse_args(argv)
    if args.command == "setup":
        setup_env.setup(force=args.force)
        return 0
    _ensure_course_python(argv)

    if args.command == "course":
        from sft_helpers import course

        return course.run_course(names=args.names, fast=args.fast or None)
    if args.command == "notebooks":
        from sft_helpers import course

        return course.refresh_solution_notebooks(names=args.names)
    if args.command == "lab":
        return subprocess.call(
            [sys.executable, "-m", "jupyter", "lab", "--notebook-dir", str(setup_env.REPO_ROOT)]
        )
    if args.command == "doctor":
        from sft_helpers import doctor

        return doctor.main()
    if args.command == "bench":
        from sft_helpers import course

        return course.run_benchmarks(names=args.names, quick=args.quick)
    raise AssertionError(f"unhandled command {args.command}")


def _train(args: list[str]) -> int:
    from sft_helpers import train_cli

    return train_cli.main(args)


def _exercises(args: list[str]) -> int:
    from sft_helpers import exercises

    return exercises.main(args)


def _grade(args: list[str]) -> int:
    from sft_helpers import grading

    return grading.main(args)


def _site(args: list[str]) -> int:
    from sft_helpers import site

    return site.main(args)


def _run_tests(pytest_args: list[str]) -> int:
    root = str(setup_env.REPO_ROOT)
    print("+ ruff check .", flush=True)
    code = subprocess.call([sys.executable, "-m", "ruff", "check", "."], cwd=root)
    if code != 0:
        print("ruff found problems (fix them, or run `ruff check --fix .`).", flush=True)
        return code
    # Notebooks dominate the run: spread test files over the cores (one torch thread each).
    parallel = [] if any(a.startswith("-n") for a in pytest_args) else ["-n", "auto", "--maxprocesses=4"]
    cmd = [sys.executable, "-m", "pytest", *parallel, *pytest_args]
    print("+", " ".join(cmd[1:]), flush=True)
    return subprocess.call(cmd, cwd=root)


_PASSTHROUGH = {"test": _run_tests, "train": _train, "exercises": _exercises, "grade": _grade, "site": _site}

if __name__ == "__main__":
    raise SystemExit(main())
