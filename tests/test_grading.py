"""Tests of the grader ``sft_helpers.grading`` on tiny fixture notebooks (no chapter needed)."""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import nbformat
import pytest

from sft_helpers import exercises, grading

FIXTURES = Path(__file__).parent / "fixtures" / "exercises"


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The generated fixture exercise notebook, the solution, and a folder of submissions."""
    root = tmp_path_factory.mktemp("course")
    exercises.build(FIXTURES / "notebooks", root / "exercises")
    solution = nbformat.read(FIXTURES / "notebooks" / "01_fixture.ipynb", as_version=4)
    blank = nbformat.read(root / "exercises" / "01_fixture.ipynb", as_version=4)
    subs = root / "submissions"
    (subs / "carol").mkdir(parents=True)

    def cell(source, cell_id):
        new = nbformat.v4.new_code_cell(source)
        new["id"] = cell_id
        return new

    nbformat.write(solution, subs / "alice__01_fixture.ipynb")  # fully solved
    nbformat.write(blank, subs / "bob__01_fixture.ipynb")  # blank
    partly = nbformat.from_dict(blank)  # exercise 1 solved, a learner cell that fails, exercise 2 blank
    partly.cells[4].source = solution.cells[4].source
    partly.cells.insert(5, cell("undefined_name + 1", "learner-error"))
    nbformat.write(partly, subs / "carol" / "01_fixture (1).ipynb")  # folder per student, renamed file
    (subs / "dave__01_fixture.ipynb").write_text('{"cells": [ truncated', encoding="utf-8")  # corrupt
    forever = nbformat.from_dict(solution)  # solved, but loops forever after the first check
    forever.cells.insert(6, cell("while True:\n    pass", "learner-loop"))
    nbformat.write(forever, subs / "erin__01_fixture.ipynb")
    cheat = nbformat.from_dict(blank)  # calls the reference, fakes its check cell, deletes the other
    cheat.cells[
        4
    ].source = (
        "from fixture_checks import reference_double as mine\n\ndef double(values):\n    return mine(values)"
    )
    cheat.cells[5].source = 'print("PASSED")'
    by_id = {c.id: c for c in solution.cells}
    cheat.cells[7].source = by_id["fixture-08"].source  # solves exercise 2 ...
    assert cheat.cells[8].id == "fixture-09"
    del cheat.cells[8]  # ... and deletes its check cell
    nbformat.write(cheat, subs / "frank__01_fixture.ipynb")
    (subs / "notes.txt").write_text("not a submission", encoding="utf-8")
    return root


def _rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert all(list(r) == grading.CSV_FIELDS for r in rows)
    keyed = {(r["student"], r["exercise"]): r for r in rows}
    assert len(keyed) == len(rows), "a submission was graded twice"
    return keyed


def test_grades_a_class_in_bounded_time(course, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.chdir(course)
    out, summary = course / "grades.csv", course / "summary.md"
    argv = ["submissions", "--out", str(out), "--summary", str(summary), "--exercises", "exercises"]
    # Generous per-submission limit: on a shared 2-core CI machine a kernel that imports torch
    # can take half a minute to start. The looping submission is stopped by this limit, so the
    # whole run is bounded by (submissions / jobs) x timeout plus start-up.
    timeout_s, jobs, submissions = 120, 3, 6
    argv += ["--timeout", str(timeout_s), "--jobs", str(jobs), "--memory-mb", "6000"]
    start = time.monotonic()
    assert grading.main(argv) == 0
    elapsed = time.monotonic() - start
    bound = -(-submissions // jobs) * timeout_s + 60
    assert elapsed < bound, f"grading took {elapsed:.0f} s (bound {bound} s)"

    rows = _rows(out)
    points = {key: int(r["points"]) for key, r in rows.items()}
    assert points == {
        ("alice", "double"): 1,
        ("alice", "count_vowels"): 1,
        ("bob", "double"): 0,
        ("bob", "count_vowels"): 0,
        ("carol", "double"): 1,
        ("carol", "count_vowels"): 0,
        ("dave", "double"): 0,
        ("dave", "count_vowels"): 0,
        ("erin", "double"): 1,
        ("erin", "count_vowels"): 0,
        ("frank", "double"): 0,
        ("frank", "count_vowels"): 1,  # a real solution in a cell whose check was deleted and put back
    }  # notes.txt is not a notebook: not a student graded 0, but listed in the summary
    assert rows[("bob", "double")]["message"].startswith("not implemented yet")
    assert rows[("dave", "double")]["message"].startswith("could not grade: unreadable: not a notebook")
    assert f"time limit of {timeout_s} s" in rows[("erin", "count_vowels")]["message"]
    assert "reference implementation" in rows[("frank", "double")]["message"]
    assert rows[("alice", "double")]["passed"] == "True"

    text = summary.read_text()
    assert "## Not graded (not notebooks)" in text and "- `notes.txt`" in text
    assert "| 01_fixture | double | 3/6 | 50% |" in text  # six students: notes.txt is no longer one
    assert "| alice | 2 | 2 |" in text and "| carol | 1 | 2 |" in text
    assert "`erin__01_fixture.ipynb`: timeout" in text and "`dave__01_fixture.ipynb`: unreadable" in text

    # a re-run skips what is done; after a crash that lost one submission's progress entry, it
    # regrades only that one and drops its half-written rows
    progress = out.with_name(out.name + ".progress.jsonl")
    entries = [json.loads(line) for line in progress.read_text().splitlines()]
    kept = [e for e in entries if e["student"] != "dave"]
    progress.write_text("".join(json.dumps(e) + "\n" for e in kept))
    lines = []
    assert grading.grade_all(
        Path("submissions"), out, summary, Path("exercises"), 45, 6000, log=lines.append
    ) == {e["submission"]: e["status"] for e in entries}
    assert sum("already graded" in line for line in lines) == len(entries) - 1
    assert _rows(out) == rows


def test_student_naming_rule(tmp_path):
    (tmp_path / "ann").mkdir()
    for name in [
        "ann/02_self_attention.ipynb",
        "bo_b__03_transformer_block.ipynb",
        "cy__99_other.ipynb",
        "ann/notes.txt",
        "README.md",
    ]:
        (tmp_path / name).write_text("{}")
    stems = ["02_self_attention", "03_transformer_block"]
    ignored: list = []
    found = {(s.student, s.notebook, bool(s.problem)) for s in grading.discover(tmp_path, stems, ignored)}
    assert sorted(p.name for p in ignored) == ["README.md", "notes.txt"]
    assert found == {
        ("ann", "02_self_attention", False),
        ("bo_b", "03_transformer_block", False),
        ("cy", "", True),
    }


def test_prepared_notebook_restores_check_cells_and_flags_tampering():
    exercise = nbformat.read(FIXTURES / "notebooks" / "01_fixture.ipynb", as_version=4)
    graded = [grading.Exercise("fixture-05", "check_double", "double")]
    sub = nbformat.from_dict(exercise)
    sub.cells[5].source = "print('all passed')"
    sub.cells[2].source += "\nimport os; os.environ['SFT_CHECK_RESULTS'] = '/dev/null'"
    nb, flags = grading.prepare_notebook(sub, exercise, graded)
    sources = [c.source for c in nb.cells]
    at = sources.index("checks.check_double(double)")
    assert "'SFT_CHECK_CELL'] = 'fixture-05'" in sources[at - 1] and "pop('SFT_CHECK_CELL'" in sources[at + 1]
    assert "print('all passed')" not in sources
    assert all(grading.RAISES_TAG in c.metadata["tags"] for c in nb.cells if c.cell_type == "code")
    assert flags and "SFT_CHECK_RESULTS" in flags[0]


def test_child_has_no_network_a_memory_cap_and_a_cell_time_limit(tmp_path):
    code = (
        "import json, os, socket\nimport numpy as np\nresult = {}\n"
        "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=2)\n    result['network'] = 'open'\n"
        "except OSError as error:\n    result['network'] = str(error)\n"
        "try:\n    np.empty(8 * 1024**3, dtype=np.uint8)\n    result['memory'] = 'uncapped'\n"
        "except MemoryError:\n    result['memory'] = 'capped'\n"
        "result['offline'] = os.environ.get('HF_HUB_OFFLINE')\n"
        "open(os.environ['SFT_CHECK_RESULTS'], 'w').write(json.dumps(result))"
    )
    after = "open(os.environ['SFT_CHECK_RESULTS'], 'a').write('\\nafter the loop')"
    cells = [code, "while True:\n    pass", after]
    tags = {"tags": [grading.RAISES_TAG]}  # as the grader tags every cell
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c, metadata=tags) for c in cells])
    notebook = tmp_path / "probe.ipynb"
    nbformat.write(nb, notebook)
    results = tmp_path / "results.json"
    status = grading._run_child(notebook, tmp_path, results, 60, memory_mb=3000, fast=True, cell_timeout=5)
    assert status == "ok"
    first, second = results.read_text().split("\n")
    assert second == "after the loop"  # the endless cell was interrupted, the next one ran
    result = json.loads(first)
    assert result == {"network": result["network"], "memory": "capped", "offline": "1"}
    assert "network access is disabled" in result["network"]


def test_stopping_the_grader_stops_its_children(course, tmp_path):
    """SIGTERM to the grader (a crash, Ctrl-C) leaves no notebook or kernel running."""
    import signal
    import subprocess
    import sys

    import psutil

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(FIXTURES), os.environ.get("PYTHONPATH", "")]))
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "erin__01_fixture.ipynb").write_bytes(
        (course / "submissions" / "erin__01_fixture.ipynb").read_bytes()
    )
    command = [sys.executable, "-m", "sft_helpers.grading", str(subs), "--out", str(tmp_path / "g.csv")]
    command += ["--exercises", str(course / "exercises"), "--timeout", "300"]
    grader = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    family: list[psutil.Process] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        family = psutil.Process(grader.pid).children(recursive=True)
        if any("ipykernel" in " ".join(p.cmdline()) for p in family if p.is_running()):
            break
        time.sleep(0.5)
    else:
        grader.kill()
        pytest.fail("the grader never started a kernel")
    grader.send_signal(signal.SIGTERM)
    assert grader.wait(timeout=30) != 0
    gone, alive = psutil.wait_procs(family, timeout=15)
    assert not alive, f"left running: {[p.cmdline() for p in alive]}"


def test_a_stray_file_beside_the_only_exercise_is_not_a_student(tmp_path):
    """With one exercise notebook every unmatched name used to fall back to it: a notes file too."""
    (tmp_path / "alice__01_fixture.ipynb").write_text("{}")
    (tmp_path / "notes.txt").write_text("my notes")
    ignored: list = []
    found = grading.discover(tmp_path, ["01_fixture"], ignored)
    assert [(s.student, s.notebook) for s in found] == [("alice", "01_fixture")]
    assert [p.name for p in ignored] == ["notes.txt"]


# ----------------------------------------------------------------------------------------------
# A submission cannot fool the checks by rebinding their reference (issue 17 item 3)
# ----------------------------------------------------------------------------------------------
SPLIT_HEADS_SOLUTION = '''def split_heads(x, n_heads):
    """(batch, seq, d_model) -> (batch, n_heads, seq, d_head)."""
    # BEGIN SOLUTION hint: view, then swap two axes
    b, s, d = x.shape
    return x.view(b, s, n_heads, d // n_heads).transpose(1, 2)
    # END SOLUTION'''

WRONG_SPLIT_HEADS = """def split_heads(x, n_heads):
    b, s, d = x.shape
    return x.reshape(b, n_heads, s, d // n_heads)  # wrong: the features of a head are not contiguous"""


def _code(source, cell_id):
    cell = nbformat.v4.new_code_cell(source)
    cell["id"] = cell_id
    return cell


def test_a_forged_submission_that_rebinds_the_reference_scores_nothing(tmp_path):
    """A cell that makes the library's split_heads the learner's own wrong one used to pass the check."""
    solutions = tmp_path / "notebooks"
    solutions.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[
            _code("from sft_helpers import checks", "setup"),
            _code(SPLIT_HEADS_SOLUTION, "exercise"),
            _code("checks.check_split_heads(split_heads)", "check"),
        ]
    )
    nbformat.write(nb, solutions / "02_forgery.ipynb")
    exercises.build(solutions, tmp_path / "exercises")
    subs = tmp_path / "submissions"
    subs.mkdir()
    nbformat.write(nb, subs / "honest__02_forgery.ipynb")
    forged = nbformat.from_dict(nb)
    forged.cells[1].source = WRONG_SPLIT_HEADS
    forged.cells.insert(
        2, _code("import sft_helpers.attention\nsft_helpers.attention.split_heads = split_heads", "x")
    )
    nbformat.write(forged, subs / "forger__02_forgery.ipynb")
    early = nbformat.from_dict(forged)  # the swap runs before the notebook imports the checks
    early.cells = [early.cells[1], early.cells[2], early.cells[0], early.cells[3]]
    nbformat.write(early, subs / "early__02_forgery.ipynb")
    out = tmp_path / "grades.csv"
    grading.grade_all(subs, out, tmp_path / "grades.md", tmp_path / "exercises", 180, 6000, jobs=3)
    rows = {r["student"]: r for r in csv.DictReader(open(out, newline="", encoding="utf-8"))}
    assert rows["honest"]["points"] == "1", rows["honest"]
    for student in ("forger", "early"):
        assert rows[student]["points"] == "0", rows[student]
        assert "sft_helpers.attention.split_heads" in rows[student]["message"]
    summary = (tmp_path / "grades.md").read_text()
    assert "`forger__02_forgery.ipynb`: flagged for review: rebound names the checks rely on" in summary


# ----------------------------------------------------------------------------------------------
# The isolation boundary (issue 17 item 4)
# ----------------------------------------------------------------------------------------------
def _probe_notebook(tmp_path, port):
    import sft_helpers

    solution = Path(sft_helpers.__file__).resolve().parents[1] / "notebooks" / "05_sft_ner.ipynb"
    code = f"""
import _socket, json, os
import sft_helpers
result = {{}}
s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)  # under sft_helpers.offline's socket patch
s.settimeout(5)
try:
    s.connect(("127.0.0.1", {port}))
    result["network"] = "connected"
except OSError as error:
    result["network"] = f"{{type(error).__name__}}: {{error}}"
for key, path in [("relative", "notebooks/05_sft_ner.ipynb"), ("up", {os.path.relpath(solution, tmp_path)!r}),
                  ("absolute", {str(solution)!r})]:
    try:
        result[key] = len(open(path, encoding="utf-8").read())
    except OSError as error:
        result[key] = type(error).__name__
result["home"] = os.environ["HOME"]
checks_dir = os.path.join(os.path.dirname(sft_helpers.__file__), "checks")
result["package"] = "writable" if os.access(checks_dir, os.W_OK) else "read-only"
open(os.environ["SFT_CHECK_RESULTS"], "w").write(json.dumps(result))
"""
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(code, metadata={"tags": [grading.RAISES_TAG]})]
    )
    notebook = tmp_path / "probe.ipynb"
    nbformat.write(nb, notebook)
    return notebook, solution


def test_the_boundary_keeps_a_submission_off_the_network_and_away_from_the_solutions(tmp_path):
    import socket

    from sft_helpers import isolation

    if not isolation.probe().available:
        pytest.skip(f"no namespaces here: {isolation.probe().reason}")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    notebook, solution = _probe_notebook(tmp_path, listener.getsockname()[1])
    assert solution.is_file()
    boundary = grading.choose_boundary("namespaces", grading.solution_folders(FIXTURES), keep=[tmp_path])
    assert boundary.namespaces and str(solution.parent) in boundary.hide
    results = tmp_path / "results.json"
    status = grading._run_child(
        notebook, tmp_path, results, 120, memory_mb=3000, fast=True, boundary=boundary
    )
    assert status == "ok", (tmp_path / "child.log").read_text()
    result = json.loads(results.read_text())
    assert result["network"] != "connected" and "Connection refused" in result["network"], result
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody came through
    listener.close()
    assert result["relative"] == result["up"] == result["absolute"] == "FileNotFoundError", result
    assert result["home"].startswith(str(tmp_path)), result
    assert result["package"] == "read-only", result  # the checks cannot be edited on disk


def test_without_the_boundary_the_same_submission_reaches_both(tmp_path):
    """What --isolation none (or a machine without namespaces) leaves open, as the README says."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    notebook, solution = _probe_notebook(tmp_path, listener.getsockname()[1])
    results = tmp_path / "results.json"
    assert grading._run_child(notebook, tmp_path, results, 120, memory_mb=3000, fast=True) == "ok"
    listener.close()
    result = json.loads(results.read_text())
    assert result["package"] == "writable"
    assert result["network"] == "connected" and result["absolute"] == solution.stat().st_size
    assert result["home"].startswith(str(tmp_path))  # a private HOME either way


def test_no_boundary_falls_back_with_a_warning_or_stops_when_required(monkeypatch):
    from sft_helpers import isolation

    monkeypatch.setattr(isolation, "probe", lambda: isolation.Probe(False, "user namespaces are disabled"))
    lines = []
    boundary = grading.choose_boundary("auto", [Path.cwd()], log=lines.append)
    assert not boundary.namespaces
    assert lines and lines[0].startswith("warning: no isolation boundary here (user namespaces are disabled)")
    assert "the solution notebooks included" in lines[0]
    with pytest.raises(RuntimeError, match="user namespaces are disabled"):
        grading.choose_boundary("namespaces", [], log=lines.append)


def test_folders_the_child_needs_are_not_hidden(tmp_path):
    import sys

    from sft_helpers import isolation

    if not isolation.probe().available:
        pytest.skip(f"no namespaces here: {isolation.probe().reason}")
    lines = []
    prefix = Path(sys.base_prefix)
    boundary = grading.choose_boundary("auto", [prefix.parent, tmp_path], log=lines.append)
    assert str(tmp_path.resolve()) in boundary.hide and str(prefix.parent.resolve()) not in boundary.hide
    assert any("not hidden from submissions" in line for line in lines)
