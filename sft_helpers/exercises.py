"""Build the learners' exercise notebooks (``exercises/``) from the solution notebooks (``notebooks/``).

``python -m sft_helpers exercises build`` (or ``make exercises``) calls :func:`main`. For each
``notebooks/NN_*.ipynb`` that has exercises:

* in a code cell, the lines between ``# BEGIN SOLUTION`` (optionally ``# BEGIN SOLUTION hint: ...``)
  and ``# END SOLUTION`` become ``raise NotImplementedError("<hint>")`` at the marker's
  indentation; the function's signature and docstring, outside the markers, stay;
* cells tagged ``solution-only`` are dropped;
* outputs and execution counts are stripped, cell metadata keeps only ``tags``, notebook
  metadata keeps only the kernel spec and language name; cell ids are kept (the grader finds
  the check cells by id).

The output is deterministic (byte-identical on rebuild). ``exercises/.generated.json`` records
the SHA-256 of every generated file; a file whose content no longer matches (a learner edited it)
is never overwritten: the new version is written beside it as ``NAME.new.ipynb`` unless
``--force``. ``python -m sft_helpers exercises check`` builds into a temporary folder and
fails when ``exercises/`` is not what the notebooks generate.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import hashlib
import json
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

__all__ = [
    "MANIFEST",
    "SOLUTION_ONLY_TAG",
    "BuildReport",
    "ExerciseMarkerError",
    "build",
    "check_calls",
    "convert_notebook",
    "differences",
    "export_nbgrader",
    "main",
    "strip_solutions",
    "to_nbgrader",
]

MANIFEST = ".generated.json"
SOLUTION_ONLY_TAG = "solution-only"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
DEFAULT_HINT = "replace this line with your code"

# ``# BEGIN SOLUTION`` and nbgrader's ``### BEGIN SOLUTION`` (any number of #) mean the same here.
_BEGIN = re.compile(r"^(?P<indent>[ \t]*)#+\s*BEGIN SOLUTION\b(?P<rest>.*)$")
_END = re.compile(r"^[ \t]*#+\s*END SOLUTION\b(?P<rest>.*)$")
_ANY_MARKER = re.compile(r"#\s*(BEGIN|END) SOLUTION\b")
# otter-grader's markers: a line that ends in ``# SOLUTION`` (``x = 2  # SOLUTION`` becomes ``x = ...``),
# ``# SOLUTION NO PROMPT`` and ``# BEGIN SOLUTION NO PROMPT``; left alone they would leak the answer.
_OTTER_LINE = re.compile(r"#\s*SOLUTION(\s+NO\s+PROMPT)?\s*$")
_OTTER_NO_PROMPT = re.compile(r"^\s*NO\s+PROMPT\b")
_NBGRADER_HIDDEN = re.compile(r"#+\s*(BEGIN|END) HIDDEN TESTS\b")
_DEF = re.compile(r"^[ \t]*(async[ \t]+)?def[ \t]")
_CHECK_CALL = re.compile(r"(?<![\w.])(?:checks\.)?(check_\w+)\s*\(")


class ExerciseMarkerError(ValueError):
    """A ``# BEGIN SOLUTION`` / ``# END SOLUTION`` marker is misplaced; names the notebook and cell."""


@dataclasses.dataclass
class BuildReport:
    """What :func:`build` did, file by file (paths relative to the output folder)."""

    written: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)
    kept: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (edited file, .new file)
    skipped: list[str] = dataclasses.field(default_factory=list)  # notebooks without exercises
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """False when a learner-edited notebook was kept and its new version written beside it."""
        return not self.kept

    def summary(self) -> str:
        """A few human-readable lines."""
        lines = [f"wrote {name}" for name in self.written]
        lines += [f"unchanged {name}" for name in self.unchanged]
        lines += [
            f"KEPT {old}: it differs from what was generated last (edited by hand?); "
            f"the new version is in {new}. Rebuild with --force to overwrite it."
            for old, new in self.kept
        ]
        lines += [f"skipped {name}: no # BEGIN SOLUTION markers" for name in self.skipped]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines) if lines else "no notebooks found"


# ----------------------------------------------------------------------------------------------
# One cell, one notebook
# ----------------------------------------------------------------------------------------------
def _hint_of(rest: str) -> str:
    rest = rest.strip()
    if rest.lower().startswith("hint:"):
        rest = rest[5:].strip()
    return rest


def _notebook_like(source: Any, cells: list) -> Any:
    """A new nbformat 4.5 notebook of ``cells`` with ``source``'s kernelspec (python3 when it has none)."""
    out = nbformat.v4.new_notebook(cells=cells)
    kernelspec = source.metadata.get("kernelspec") or {
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "name": "python3",
    }
    out.metadata = {"kernelspec": dict(kernelspec), "language_info": {"name": "python"}}
    out.nbformat, out.nbformat_minor = 4, 5
    return out


def _inside_function(lines: Sequence[str], index: int, indent: str) -> bool:
    """True when line ``index`` (indented by ``indent``) lies in the body of a ``def``."""
    width = len(indent.expandtabs())
    for line in reversed(lines[:index]):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        line_width = len(line) - len(line.lstrip())
        line_width = len(line[:line_width].expandtabs())
        if line_width < width:
            if _DEF.match(line):
                return True
            width = line_width
            if width == 0:
                return False
    return False


def strip_solutions(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace each marked solution block in ``source``; return the new source and the count.

    Raises :class:`ExerciseMarkerError` (naming ``where``) for an unbalanced, nested or
    misplaced marker.
    """
    lines = source.split("\n")
    out: list[str] = []
    count = 0
    begin: int | None = None
    for number, line in enumerate(lines):
        start, end = _BEGIN.match(line), _END.match(line)
        if start and _OTTER_NO_PROMPT.match(start.group("rest")):
            raise ExerciseMarkerError(
                f"{where}, line {number + 1}: otter-grader's '# BEGIN SOLUTION NO PROMPT' is not supported; "
                "write '# BEGIN SOLUTION' (optionally '# BEGIN SOLUTION hint: ...'): the exercise shows "
                "raise NotImplementedError with the hint"
            )
        if not start and not end and _OTTER_LINE.search(line):
            raise ExerciseMarkerError(
                f"{where}, line {number + 1}: otter-grader's '# SOLUTION' line marker is not supported, and "
                f"left alone it would leak the answer ({line.strip()!r}). Convert it: inside the function "
                "body, put the line between a '# BEGIN SOLUTION' line and a '# END SOLUTION' line (without "
                "the trailing '# SOLUTION'); the exercise then gets raise NotImplementedError there"
            )
        if _NBGRADER_HIDDEN.search(line):
            raise ExerciseMarkerError(
                f"{where}, line {number + 1}: nbgrader's hidden-test markers are not supported: a check "
                "already runs the learner's code on fresh inputs it has never seen; remove the markers"
            )
        if start:
            if begin is not None:
                raise ExerciseMarkerError(
                    f"{where}, line {number + 1}: '# BEGIN SOLUTION' inside another solution block "
                    f"(opened on line {begin + 1}); close the first one with '# END SOLUTION'"
                )
            indent = start.group("indent")
            if not indent or not _inside_function(lines, number, indent):
                raise ExerciseMarkerError(
                    f"{where}, line {number + 1}: '# BEGIN SOLUTION' must sit inside a function body "
                    "(the learner keeps the signature and docstring, the body becomes raise NotImplementedError)"
                )
            begin = number
            hint = _hint_of(start.group("rest")) or DEFAULT_HINT
            out.append(f"{indent}raise NotImplementedError({json.dumps(hint, ensure_ascii=False)})")
            count += 1
        elif end:
            if begin is None:
                raise ExerciseMarkerError(
                    f"{where}, line {number + 1}: '# END SOLUTION' without a '# BEGIN SOLUTION' before it"
                )
            begin = None
        elif _ANY_MARKER.search(line):
            raise ExerciseMarkerError(
                f"{where}, line {number + 1}: a solution marker must be alone on its line as a comment, "
                f"got {line.strip()!r}"
            )
        elif begin is None:
            out.append(line)
    if begin is not None:
        raise ExerciseMarkerError(
            f"{where}, line {begin + 1}: '# BEGIN SOLUTION' is never closed; add '# END SOLUTION' after the solution"
        )
    return "\n".join(out), count


def _parses(source: str) -> bool:
    # IPython magics and shell escapes are not Python; blank them before parsing.
    cleaned = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.split("\n"))
    try:
        ast.parse(cleaned)
    except SyntaxError:
        return False
    return True


def check_calls(source: str) -> list[str]:
    """Names of the ``check_*`` functions a cell calls (``checks.check_x(fn)`` or ``check_x(fn)``)."""
    names = []
    for line in source.split("\n"):
        code = line.split("#", 1)[0]
        if _DEF.match(code):
            continue
        names += _CHECK_CALL.findall(code)
    return names


def convert_notebook(nb: Any, name: str = "notebook") -> tuple[Any, int]:
    """Return the exercise version of a solution notebook (a new object) and its exercise count."""
    exercises = 0
    cells = []
    for index, cell in enumerate(nb.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        if SOLUTION_ONLY_TAG in tags:
            continue
        cell_id = cell.get("id") or f"cell-{index}"
        where = f"{name}, cell {index} (id {cell_id})"
        metadata = {"tags": tags} if tags else {}
        if cell.cell_type == "code":
            source, count = strip_solutions(cell.source, where)
            if count and _parses(cell.source) and not _parses(source):
                raise ExerciseMarkerError(
                    f"{where}: the exercise version is not valid Python; put the markers around whole "
                    "statements of a function body, with the signature and docstring outside"
                )
            exercises += count
            new = nbformat.v4.new_code_cell(source=source, metadata=metadata)
        elif cell.cell_type == "markdown":
            if _ANY_MARKER.search(cell.source):
                raise ExerciseMarkerError(f"{where}: solution markers belong in code cells, not markdown")
            new = nbformat.v4.new_markdown_cell(source=cell.source, metadata=metadata)
            if cell.get("attachments"):
                new["attachments"] = cell["attachments"]
        else:
            new = nbformat.v4.new_raw_cell(source=cell.source, metadata=metadata)
        new["id"] = cell_id
        cells.append(new)
    out = _notebook_like(nb, cells)
    return out, exercises


# ----------------------------------------------------------------------------------------------
# Export for nbgrader
# ----------------------------------------------------------------------------------------------
NBGRADER_SCHEMA = 3
_GRADE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _nbgrader_meta(grade_id: str, *, solution: bool = False, grade: bool = False, points: int = 0) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": NBGRADER_SCHEMA,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def _nbgrader_solution_source(source: str) -> str:
    """Our markers as nbgrader's (``### BEGIN SOLUTION``); a hint becomes a comment line above them."""
    out = []
    for line in source.split("\n"):
        start, end = _BEGIN.match(line), _END.match(line)
        if start:
            indent, hint = start.group("indent"), _hint_of(start.group("rest"))
            if hint:
                out.append(f"{indent}# hint: {hint}")
            out.append(f"{indent}### BEGIN SOLUTION")
        elif end:
            out.append(line[: len(line) - len(line.lstrip())] + "### END SOLUTION")
        else:
            out.append(line)
    return "\n".join(out)


def _check_call_sources(source: str) -> list[tuple[str, str]]:
    """``[(check name, call source)]`` for each ``checks.check_x(...)`` / ``check_x(...)`` call in a cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.startswith("check_"):
                calls.append((node.lineno, node.col_offset, name, ast.get_source_segment(source, node) or ""))
    return [(name, text) for _, _, name, text in sorted(calls)]


def to_nbgrader(nb: Any, name: str = "notebook", points: int = 1) -> tuple[Any, int]:
    """A solution notebook as an nbgrader *source* notebook; returns it and its number of grade cells.

    * a cell with solution markers becomes an nbgrader solution cell (``solution: true``) with
      nbgrader's ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers (a hint stays as a comment);
    * each check call ``checks.check_x(fn)`` gets a grade cell after its cell, ``assert
      checks.check_x(fn)`` worth ``points``: it re-runs the check, and fails when the check does;
    * every other cell is locked (read-only; nbgrader restores it before autograding);
    * cells tagged ``solution-only`` are dropped and outputs are cleared, as for ``exercises/``.
    """
    stem = _GRADE_ID_UNSAFE.sub("-", name.removesuffix(".ipynb"))
    cells, grades, used = [], 0, set()

    def grade_id(base: str) -> str:
        text = _GRADE_ID_UNSAFE.sub("-", f"{stem}-{base}")
        candidate, n = text, 1
        while candidate in used:
            n += 1
            candidate = f"{text}-{n}"
        used.add(candidate)
        return candidate

    for index, cell in enumerate(nb.cells):
        tags = list(cell.get("metadata", {}).get("tags", []))
        if SOLUTION_ONLY_TAG in tags:
            continue
        cell_id = cell.get("id") or f"cell-{index}"
        where = f"{name}, cell {index} (id {cell_id})"
        metadata = {"tags": tags} if tags else {}
        if cell.cell_type != "code":
            if cell.cell_type == "markdown" and _ANY_MARKER.search(cell.source):
                raise ExerciseMarkerError(f"{where}: solution markers belong in code cells, not markdown")
            new = nbformat.from_dict(json.loads(json.dumps(cell)))
            new.metadata = {**metadata, "nbgrader": _nbgrader_meta(grade_id(cell_id))}
            cells.append(new)
            continue
        _, count = strip_solutions(cell.source, where)  # the same rules as `exercises build`
        source = _nbgrader_solution_source(cell.source) if count else cell.source
        new = nbformat.v4.new_code_cell(source=source, metadata=metadata)
        new["id"] = cell_id
        new.metadata["nbgrader"] = _nbgrader_meta(grade_id(cell_id), solution=bool(count))
        cells.append(new)
        for check_name, call in _check_call_sources(cell.source) if not count else []:
            test = nbformat.v4.new_code_cell(
                source=f"# {points} point{'s' if points != 1 else ''}: the check runs again on fresh inputs\n"
                f"assert {call}, {f'{check_name} did not pass: its message is in the cell above'!r}"
            )
            gid = grade_id(f"{check_name}-grade")
            test["id"] = gid[:64]
            test.metadata["nbgrader"] = _nbgrader_meta(gid, grade=True, points=points)
            cells.append(test)
            grades += 1
    out = _notebook_like(nb, cells)
    return out, grades


def export_nbgrader(
    notebooks_dir: str | Path = "notebooks", out_dir: str | Path = "nbgrader/source", points: int = 1
) -> list[str]:
    """Write ``out_dir/<NN_name>/<NN_name>.ipynb`` for each notebook with exercises; the paths written.

    ``out_dir`` is meant to be an nbgrader course's ``source/`` folder: each chapter becomes an
    assignment of the same name (``nbgrader generate_assignment 02_self_attention``).
    """
    notebooks_dir, out_dir = Path(notebooks_dir), Path(out_dir)
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"--notebooks {str(notebooks_dir)!r} is not a folder of solution notebooks")
    written = []
    for path in sorted(notebooks_dir.glob(NOTEBOOK_GLOB)):
        nb = nbformat.read(path, as_version=4)
        exported, grades = to_nbgrader(nb, path.name, points)
        if not grades:
            continue
        target = out_dir / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_render(exported))
        written.append(str(target))
    return written


def _render(nb: Any) -> bytes:
    return nbformat.writes(nb, version=4).rstrip("\n").encode("utf-8") + b"\n"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _warnings_for(nb: Any, name: str) -> list[str]:
    """Exercises with no check cell after them: the learner would get no feedback."""
    warnings = []
    pending = None
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if "raise NotImplementedError(" in cell.source and pending is None:
            pending = cell.get("id")
        if check_calls(cell.source):
            pending = None
    if pending is not None:
        warnings.append(f"{name}: the exercise in cell {pending} has no check cell after it")
    return warnings


# ----------------------------------------------------------------------------------------------
# The folder
# ----------------------------------------------------------------------------------------------
def _generate(notebooks_dir: Path) -> tuple[dict[str, bytes], list[str], list[str]]:
    """{file name: bytes} of every exercise notebook, plus skipped names and warnings."""
    if not notebooks_dir.is_dir():
        raise FileNotFoundError(f"notebooks_dir={str(notebooks_dir)!r} is not a folder of solution notebooks")
    files: dict[str, bytes] = {}
    skipped: list[str] = []
    warnings: list[str] = []
    for path in sorted(notebooks_dir.glob(NOTEBOOK_GLOB)):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as error:
            raise ValueError(f"{path}: not a readable notebook ({error})") from error
        out, count = convert_notebook(nb, path.name)
        if count == 0:
            skipped.append(path.name)
            continue
        files[path.name] = _render(out)
        warnings += _warnings_for(out, path.name)
    return files, skipped, warnings


def _read_manifest(out_dir: Path) -> dict[str, str]:
    path = out_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(k): str(v["sha256"]) for k, v in data.get("files", {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path} is damaged ({error}); delete it and rebuild with --force") from error


def _write_manifest(out_dir: Path, hashes: dict[str, str], sources: dict[str, str]) -> None:
    data = {
        "note": "written by `python -m sft_helpers exercises build`; do not edit",
        "files": {name: {"sha256": hashes[name], "source": sources[name]} for name in sorted(hashes)},
    }
    (out_dir / MANIFEST).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def build(
    notebooks_dir: str | Path = "notebooks", out_dir: str | Path = "exercises", force: bool = False
) -> BuildReport:
    """Generate ``out_dir/NN_*.ipynb`` from ``notebooks_dir``; never overwrite a learner's edits.

    A file is replaced only when it is missing, already identical, or still exactly what the
    last build wrote (per the manifest); otherwise the new version goes to ``NAME.new.ipynb``
    (listed in ``report.kept``) unless ``force``.
    """
    notebooks_dir, out_dir = Path(notebooks_dir), Path(out_dir)
    files, skipped, warnings = _generate(notebooks_dir)
    report = BuildReport(skipped=skipped, warnings=warnings)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = _read_manifest(out_dir)
    hashes, sources = {}, {}
    for name, data in files.items():
        target = out_dir / name
        digest = _sha256(data)
        sources[name] = f"{notebooks_dir.name}/{name}"
        if target.exists():
            current = target.read_bytes()
            if current == data:
                report.unchanged.append(name)
                hashes[name] = digest
                continue
            if not force and manifest.get(name) != _sha256(current):
                new_path = target.with_name(target.stem + ".new.ipynb")
                new_path.write_bytes(data)
                report.kept.append((name, new_path.name))
                if name in manifest:
                    hashes[name] = manifest[name]
                continue
        target.write_bytes(data)
        report.written.append(name)
        hashes[name] = digest
    for name, digest in manifest.items():  # keep entries of notebooks no longer generated
        if name not in hashes and (out_dir / name).exists():
            hashes[name] = digest
            sources[name] = f"{notebooks_dir.name}/{name}"
            report.warnings.append(f"{name} is in {out_dir} but no longer generated from {notebooks_dir}")
    _write_manifest(out_dir, hashes, sources)
    return report


def differences(notebooks_dir: str | Path = "notebooks", out_dir: str | Path = "exercises") -> list[str]:
    """What rebuilding would change in ``out_dir`` (empty when it is up to date); builds in a temp folder."""
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        build(notebooks_dir, tmp)
        fresh = {p.name: p.read_bytes() for p in Path(tmp).iterdir()}
    current = {
        p.name: p.read_bytes() for p in out_dir.glob(NOTEBOOK_GLOB) if not p.name.endswith(".new.ipynb")
    }
    if (out_dir / MANIFEST).exists():
        current[MANIFEST] = (out_dir / MANIFEST).read_bytes()
    problems = []
    for name in sorted(set(fresh) | set(current)):
        if name not in current:
            problems.append(f"{name} is missing from {out_dir}")
        elif name not in fresh:
            problems.append(f"{name} in {out_dir} is not generated from {notebooks_dir}")
        elif fresh[name] != current[name]:
            problems.append(f"{name} differs from what {notebooks_dir} generates")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """``build [--notebooks DIR] [--out DIR] [--force]`` or ``check [...]``; returns an exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m sft_helpers exercises",
        description="Generate exercise notebooks from the solution notebooks (see exercises/README.md).",
    )
    parser.add_argument("action", nargs="?", choices=["build", "check", "export"], default="build")
    parser.add_argument("--notebooks", default="notebooks", help="folder of solution notebooks")
    parser.add_argument(
        "--out",
        default=None,
        help="folder for the exercise notebooks (default exercises), or for export an nbgrader course's "
        "source folder (default nbgrader/source)",
    )
    parser.add_argument(
        "--format", choices=["nbgrader"], default="nbgrader", help="export: the grading tool (nbgrader)"
    )
    parser.add_argument("--points", type=int, default=1, help="export: points per check (default 1)")
    parser.add_argument("--force", action="store_true", help="overwrite exercise notebooks edited by hand")
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.points < 1:
        parser.error("--points must be a positive whole number")
    if args.action == "export":
        try:
            written = export_nbgrader(args.notebooks, args.out or "nbgrader/source", args.points)
        except (ExerciseMarkerError, FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for path in written:
            print(f"wrote {path}")
        print(
            f"{len(written)} nbgrader source notebooks; in the course folder run "
            "`nbgrader generate_assignment NN_name` for each"
        )
        return 0
    args.out = args.out or "exercises"
    try:
        if args.action == "check":
            problems = differences(args.notebooks, args.out)
            for line in problems:
                print(line)
            if problems:
                print("run `python -m sft_helpers exercises build` to regenerate them")
                return 1
            print(f"{args.out} is up to date with {args.notebooks}")
            return 0
        report = build(args.notebooks, args.out, force=args.force)
    except (ExerciseMarkerError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
