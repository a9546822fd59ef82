from __future__ import annotations

import subprocess
import sys

import pytest

from sft_helpers import cli, setup_env


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {"SFT_NO_VENV": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "sft_helpers", *args], capture_output=True, text=True,
                          env=env, cwd=setup_env.REPO_ROOT, timeout=300)


def test_help_lists_every_make_target() -> None:
    out = run_cli("--help").stdout
    for command in ("setup", "course", "notebooks", "test", "lab", "doctor", "exercises", "grade", "bench", "train"):
        assert command in out


def test_pass_through_commands_parse_their_own_help() -> None:
    proc = run_cli("exercises", "--help")
    assert proc.returncode == 0 and "usage: python -m sft_helpers exercises" in proc.stdout


def test_unknown_command_is_an_error() -> None:
    proc = run_cli("fly")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


def test_course_rejects_an_unknown_notebook_name() -> None:
    proc = run_cli("course", "99_no_such_chapter")
    assert proc.returncode != 0 and "No notebook matches" in proc.stderr


def test_commands_switch_to_the_course_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.delenv("SFT_NO_VENV", raising=False)
    monkeypatch.setattr(setup_env, "running_in_course_venv", lambda: False)
    monkeypatch.setattr(setup_env, "setup", lambda: calls.append("setup"))
    monkeypatch.setattr(setup_env, "reexec_in_venv", lambda argv: calls.append(("reexec", tuple(argv))))
    cli._ensure_course_python(["course", "--fast"])
    assert calls == ["setup", ("reexec", ("course", "--fast"))]
    calls.clear()
    monkeypatch.setenv("SFT_NO_VENV", "1")
    cli._ensure_course_python(["course"])
    assert calls == []
