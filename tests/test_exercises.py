"""Tests of the exercise-notebook builder ``sft_helpers.exercises``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from sft_helpers import exercises
from sft_helpers.exercises import ExerciseMarkerError, build, differences, strip_solutions

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "exercises" / "notebooks"


@pytest.fixture
def built(tmp_path):
    out = tmp_path / "exercises"
    report = build(FIXTURES, out)
    return out, report


def _sources(path: Path) -> dict[str, str]:
    return {c.id: c.source for c in nbformat.read(path, as_version=4).cells}


def test_markers_become_not_implemented_with_hint_and_signature_stays(built):
    out, report = built
    assert report.written == ["01_fixture.ipynb"] and report.ok and not report.warnings
    cells = _sources(out / "01_fixture.ipynb")
    assert cells["fixture-04"] == (
        "def double(values):\n"
        '    """Return a new list with every number multiplied by two."""\n'
        '    raise NotImplementedError("use a list comprehension, [... for v in values]")'
    )
    # a marker without a hint, nested in a method, with code after it that stays
    assert (
        '        total = 0\n        raise NotImplementedError("replace this line with your code")\n'
        in (cells["fixture-08"])
    )
    assert "        return total" in cells["fixture-08"]
    assert "aeiou" not in cells["fixture-08"] and "2 * v" not in cells["fixture-04"]
    assert "fixture-06" not in cells  # the solution-only cell is dropped
    assert cells["fixture-05"] == "checks.check_double(double)"  # check cells unchanged, ids kept


def test_outputs_counts_and_metadata_are_stripped(built):
    out, _ = built
    nb = nbformat.read(out / "01_fixture.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata == {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert nb.cells[1].metadata == {"tags": ["parameters"]}


def test_rebuild_is_byte_identical_and_deterministic(tmp_path, built):
    out, _ = built
    first = (out / "01_fixture.ipynb").read_bytes()
    again = build(FIXTURES, out)
    assert again.unchanged == ["01_fixture.ipynb"] and not again.written
    assert (out / "01_fixture.ipynb").read_bytes() == first
    other = tmp_path / "other"
    build(FIXTURES, other)
    for name in ("01_fixture.ipynb", exercises.MANIFEST):
        assert (other / name).read_bytes() == (out / name).read_bytes()
    manifest = json.loads((out / exercises.MANIFEST).read_text())
    assert manifest["files"]["01_fixture.ipynb"]["source"] == "notebooks/01_fixture.ipynb"
    assert differences(FIXTURES, out) == []


def test_learner_edits_are_never_overwritten(tmp_path, built):
    out, _ = built
    target = out / "01_fixture.ipynb"
    edited = target.read_text().replace("raise NotImplementedError", "return [v * 2 for v in values]  #", 1)
    target.write_text(edited)
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURES, notebooks)
    source = notebooks / "01_fixture.ipynb"
    source.write_text(source.read_text().replace("Two tiny exercises", "Two small exercises"))
    report = build(notebooks, out)
    assert not report.ok and report.kept == [("01_fixture.ipynb", "01_fixture.new.ipynb")]
    assert target.read_text() == edited  # the learner's work is untouched
    assert "Two small exercises" in (out / "01_fixture.new.ipynb").read_text()
    assert "KEPT 01_fixture.ipynb" in report.summary()
    assert exercises.main(["build", "--notebooks", str(notebooks), "--out", str(out)]) == 1
    assert target.read_text() == edited
    assert f"01_fixture.ipynb differs from what {notebooks} generates" in differences(notebooks, out)
    forced = build(notebooks, out, force=True)
    assert forced.written == ["01_fixture.ipynb"] and "Two small exercises" in target.read_text()
    # an untouched generated file is replaced silently when the solution changes
    source.write_text(source.read_text().replace("Two small exercises", "Two short exercises"))
    assert build(notebooks, out).written == ["01_fixture.ipynb"]


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n", "never closed"),
        ("def f():\n    return 1\n    # END SOLUTION\n", "without a '# BEGIN SOLUTION'"),
        ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    # END SOLUTION\n", "inside another"),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "inside a function body"),
        (
            "for i in range(3):\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n",
            "inside a function body",
        ),
        ("def f():\n    x = 1  # BEGIN SOLUTION\n", "alone on its line"),
    ],
)
def test_marker_errors_name_the_place(source, error):
    with pytest.raises(ExerciseMarkerError, match=error) as info:
        strip_solutions(source, "02_x.ipynb, cell 4 (id abc)")
    assert "02_x.ipynb, cell 4 (id abc), line" in str(info.value)


def test_marker_error_in_a_notebook_names_notebook_and_cell(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION")]
    )
    nb.cells[0]["id"] = "bad-cell"
    nbformat.write(nb, notebooks / "03_broken.ipynb")
    with pytest.raises(ExerciseMarkerError, match=r"03_broken.ipynb, cell 0 \(id bad-cell\), line 1"):
        build(notebooks, tmp_path / "out")
    assert exercises.main(["--notebooks", str(notebooks), "--out", str(tmp_path / "out")]) == 2


def test_nested_blocks_keep_indentation_and_notebooks_without_markers_are_skipped(tmp_path):
    source = (
        "def outer(x):\n    def inner(y):\n        # BEGIN SOLUTION hint: y + 1\n        return y + 1\n"
        "        # END SOLUTION\n\n    if x:\n        # BEGIN SOLUTION\n        return inner(x)\n"
        "        # END SOLUTION\n    return 0\n"
    )
    out, count = strip_solutions(source)
    assert count == 2
    assert out == (
        'def outer(x):\n    def inner(y):\n        raise NotImplementedError("y + 1")\n\n    if x:\n'
        '        raise NotImplementedError("replace this line with your code")\n    return 0\n'
    )
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), notebooks / "05_plain.ipynb"
    )
    report = build(notebooks, tmp_path / "out")
    assert report.skipped == ["05_plain.ipynb"] and not report.written


def test_exercise_without_check_cell_is_warned(tmp_path):
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    code = "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION"
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), notebooks / "04_x.ipynb"
    )
    report = build(notebooks, tmp_path / "out")
    assert report.written == ["04_x.ipynb"]
    assert report.warnings and "no check cell after it" in report.warnings[0]


def test_committed_exercises_match_the_notebooks():
    """`exercises/` must be exactly what `python -m sft_helpers exercises build` generates."""
    sources = sorted((REPO / "notebooks").glob(exercises.NOTEBOOK_GLOB))
    if not any("# BEGIN SOLUTION" in p.read_text(encoding="utf-8") for p in sources):
        pytest.skip("no chapter notebook has exercises yet")
    problems = differences(REPO / "notebooks", REPO / "exercises")
    assert problems == [], "run `python -m sft_helpers exercises build`: " + "; ".join(problems)


# ----------------------------------------------------------------------------------------------
# Other tools' markers, and the export for nbgrader (issue 17 item 7)
# ----------------------------------------------------------------------------------------------
OURS = 'def f(x):\n    """Twice x."""\n    # BEGIN SOLUTION hint: add it to itself\n    return x + x\n    # END SOLUTION'


def test_nbgrader_markers_mean_the_same_as_ours():
    theirs = OURS.replace("# BEGIN SOLUTION", "### BEGIN SOLUTION").replace("# END SOLUTION", "### END SOLUTION")
    assert strip_solutions(theirs) == strip_solutions(OURS)
    assert strip_solutions(theirs)[0].endswith('raise NotImplementedError("add it to itself")')


@pytest.mark.parametrize(
    "line",
    ["    return x + x  # SOLUTION", "    return x + x # SOLUTION NO PROMPT", "    y = x * 2  #SOLUTION"],
)
def test_otter_line_markers_are_refused_with_how_to_convert(line):
    """Left alone, otter's marker passes into the exercise with the answer on it."""
    with pytest.raises(ExerciseMarkerError) as error:
        strip_solutions(f'def f(x):\n    """Twice x."""\n{line}', "nb.ipynb, cell 3")
    text = str(error.value)
    assert text.startswith("nb.ipynb, cell 3, line 3: otter-grader's '# SOLUTION' line marker is not supported")
    assert "between a '# BEGIN SOLUTION' line and a '# END SOLUTION' line" in text


def test_otter_no_prompt_block_is_refused():
    source = OURS.replace("# BEGIN SOLUTION hint: add it to itself", "# BEGIN SOLUTION NO PROMPT")
    with pytest.raises(ExerciseMarkerError, match="BEGIN SOLUTION NO PROMPT"):
        strip_solutions(source)


def _exported(tmp_path: Path) -> Path:
    assert exercises.main(["export", "--format", "nbgrader", "--notebooks", str(FIXTURES), "--out",
                           str(tmp_path / "source")]) == 0  # fmt: skip
    return tmp_path / "source" / "01_fixture" / "01_fixture.ipynb"


def test_export_marks_solution_grade_and_locked_cells(tmp_path):
    nb = nbformat.read(_exported(tmp_path), as_version=4)
    meta = {c.id: c.metadata["nbgrader"] for c in nb.cells}
    sources = {c.id: c.source for c in nb.cells}
    assert "fixture-06" not in sources  # solution-only
    solution = meta["fixture-04"]
    assert solution == {"grade": False, "grade_id": "01_fixture-fixture-04", "locked": False,
                        "schema_version": 3, "solution": True, "task": False}  # fmt: skip
    assert sources["fixture-04"].split("\n")[2:] == [
        "    # hint: use a list comprehension, [... for v in values]",
        "    ### BEGIN SOLUTION",
        "    return [2 * v for v in values]",
        "    ### END SOLUTION",
    ]
    grades = [c for c in nb.cells if c.metadata["nbgrader"]["grade"]]
    assert [c.source.split("\n")[-1].split(",")[0] for c in grades] == [
        "assert checks.check_double(double)",
        "assert checks.check_count_vowels(count_vowels)",
    ]
    assert all(c.metadata["nbgrader"]["points"] == 1 and c.metadata["nbgrader"]["locked"] for c in grades)
    order = [c.id for c in nb.cells]
    assert order.index(grades[0].id) == order.index("fixture-05") + 1  # right after its check cell
    others = [m for i, m in meta.items() if i not in ("fixture-04", "fixture-08") and not m["grade"]]
    assert others and all(m["locked"] and not m["solution"] for m in others)
    assert len({m["grade_id"] for m in meta.values()}) == len(meta)
    assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code")


def test_export_of_the_course_has_one_grade_cell_per_check(tmp_path):
    assert exercises.main(["export", "--notebooks", str(REPO / "notebooks"), "--out", str(tmp_path)]) == 0
    for path in sorted((REPO / "exercises").glob("[0-9][0-9]_*.ipynb")):
        checks_called = [n for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
                         for n in exercises.check_calls(c.source)]  # fmt: skip
        exported = nbformat.read(tmp_path / path.stem / path.name, as_version=4)
        grades = [c for c in exported.cells if c.metadata["nbgrader"]["grade"]]
        assert len(grades) == len(checks_called) > 0, path.name


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])  # nbgrader runs alembic
    env["PYTHONPATH"] = os.pathsep.join([str(FIXTURES.parent), env.get("PYTHONPATH", "")])  # fixture_checks
    return subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


def test_nbgrader_itself_generates_and_validates_the_export(tmp_path):
    pytest.importorskip("nbgrader", reason="nbgrader is in the optional extra `grading`")
    source = _exported(tmp_path)
    (tmp_path / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "sft"\n')
    done = _nbgrader(tmp_path, "generate_assignment", "01_fixture", "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    release = tmp_path / "release" / "01_fixture" / "01_fixture.ipynb"
    text = release.read_text()
    assert "raise NotImplementedError()" in text and "2 * v for v" not in text and '"aeiou"' not in text
    assert "# hint: use a list comprehension" in text  # the hint stays for the learner
    solved = _nbgrader(tmp_path, "validate", str(source))
    assert solved.returncode == 0 and "Success! Your notebook passes all the tests." in solved.stdout, solved
    blank = _nbgrader(tmp_path, "validate", str(release))
    assert "AssertionError: check_double did not pass" in blank.stdout, blank
