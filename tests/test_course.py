"""The course runner: notebook discovery, papermill parameter injection, clean stored notebooks."""

from __future__ import annotations

import nbformat
import pytest

from sft_helpers import course

SETUP_NOTEBOOK = course.NOTEBOOK_DIR / "00_setup_check.ipynb"


def test_notebooks_are_found_in_chapter_order() -> None:
    found = course.list_notebooks()
    assert found == sorted(found) and found[0].name == "00_setup_check.ipynb"
    assert course.list_notebooks(["00"]) == [SETUP_NOTEBOOK]
    with pytest.raises(SystemExit, match="No notebook matches"):
        course.list_notebooks(["99_nothing"])


def test_every_notebook_has_a_tagged_parameters_cell() -> None:
    for path in course.list_notebooks():
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"


@pytest.mark.notebook
def test_papermill_injects_parameters(tmp_path) -> None:
    run = course.execute_notebook(
        SETUP_NOTEBOOK, tmp_path / "out.ipynb", fast=True, results_file=tmp_path / "r.json",
        parameters={"N_EXAMPLES": 1, "SEED": 7},
    )
    assert run.ok, run.error
    nb = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "N_EXAMPLES = 1" in injected[0].source and "SEED = 7" in injected[0].source
    # The injected value was used: the examples table shows one row.
    table = next(c for c in nb.cells if c.cell_type == "code" and "select(range(N_EXAMPLES))" in c.source)
    html = table.outputs[0]["data"]["text/html"]
    assert html.count("<tr") == 2  # header + one row
    assert run.results["doctor_failures"] >= 0 and run.seconds > 0 and run.peak_mb > 0


def test_strip_run_metadata(tmp_path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"duration": 1.0}
    cell = nbformat.v4.new_code_cell("1 + 1")
    cell.metadata["papermill"] = {"status": "completed"}
    cell.metadata["execution"] = {"iopub.status.busy": "x"}
    nb.cells.append(cell)
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    course.strip_run_metadata(path)
    again = nbformat.read(path, as_version=4)
    assert "papermill" not in again.metadata and again.cells[0].metadata == {}


def test_table_shows_budgets_and_a_total(capsys) -> None:
    runs = [course.NotebookRun("04_sft", True, 300.0, 1000.0, {"acc": 0.9}),
            course.NotebookRun("07_llm", True, 100.0, 4000.0, {})]
    course.print_table(runs)
    out = capsys.readouterr().out
    assert "300.0!" in out and "4000 " in out and "5120" in out  # 04 over time; 07 within its own memory budget
    assert "total" in out and "400.0 (budget 900 s: 0.44x)" in out and "over budget ('!'): 04_sft" in out


def test_refreshed_notebook_carries_its_run(tmp_path) -> None:
    from sft_helpers.results import stored_results, stored_run

    path = tmp_path / "05_x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), path)
    with pytest.raises(ValueError, match="python -m sft_helpers notebooks 05"):
        stored_run(path)
    course.store_run_metadata(path, course.NotebookRun("05_x", True, 12.34, 456.7, {"f1": 0.5}), "full")
    assert stored_results(path) == {"f1": 0.5}
    run = stored_run(path)
    assert run["mode"] == "full" and run["seconds"] == 12.3 and run["peak_mb"] == 457 and run["cpu"]


def test_readme_chapter_table_shows_the_stored_runs() -> None:
    """Each chapter row of the README quotes its notebook's stored full-mode time and memory."""
    for readme_path in course.README_TABLES:
        readme = readme_path.read_text(encoding="utf-8")
        rows = {line.split("`")[1]: line for line in readme.splitlines() if line.startswith("| `0")}
        for path in course.list_notebooks():
            if path.stem == "00_setup_check" and "exercises" in str(readme_path):
                continue  # chapter 0 has no exercises
            assert path.stem in rows, f"{readme_path.name}'s chapter table has no row for {path.stem}"
            cell = course.measured_time(path)
            assert rows[path.stem].rstrip().endswith(f"| {cell} |"), (
                f"{readme_path} row of {path.stem} should end with {cell!r} (its stored run): "
                "`python -m sft_helpers notebooks` rewrites it, or call course.update_readme_times()"
            )


def test_update_readme_times_rewrites_only_the_time_cell(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("| notebook | what | time |\n| `00_setup_check` | a check, with | pipes | old |\nrest\n")
    course.update_readme_times((readme,))
    lines = readme.read_text().splitlines()
    assert lines[1].startswith("| `00_setup_check` | a check, with | pipes |")
    assert lines[1].endswith(f"| {course.measured_time(SETUP_NOTEBOOK)} |") and lines[2] == "rest"
