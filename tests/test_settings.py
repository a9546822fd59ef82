"""sft_helpers.settings is the one place where the course's environment-variable names are spelled."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sft_helpers import settings

PACKAGE = Path(settings.__file__).resolve().parent
NAME = re.compile(r"SFT_[A-Z0-9_]+")


def spelled_names(path: Path) -> list[tuple[int, str]]:
    """String constants in code (not docstrings or messages) that are exactly an SFT_* name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.fullmatch(node.value)
    ]


def test_no_module_spells_an_environment_variable_name() -> None:
    found = [
        f"{path.relative_to(PACKAGE.parent)}:{line}: {name!r}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "settings.py"
        for line, name in spelled_names(path)
    ]
    assert not found, "use the names in sft_helpers/settings.py instead:\n" + "\n".join(found)


def test_settings_names_are_distinct_and_stdlib_only() -> None:
    names = {k: v for k, v in vars(settings).items() if k.endswith("_ENV") and isinstance(v, str)}
    assert len(names) >= 10 and len(set(names.values())) == len(names)
    assert all(NAME.fullmatch(v) for v in names.values())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(Path(settings.__file__).read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert imported <= {"__future__"}  # the command-line tools read it before torch is installed
