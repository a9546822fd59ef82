from __future__ import annotations

import shutil
import sys

import pytest

from sft_helpers import doctor


def test_findings_render_ok_and_fail_with_fix() -> None:
    assert doctor.Finding(True, "x").line() == "[OK]   x"
    line = doctor.Finding(False, "y", "do z").line()
    assert line.startswith("[FAIL] y") and "fix: do z" in line


def test_installed_course_passes_package_model_and_data_checks() -> None:
    for check in (doctor.check_python, doctor.check_packages, doctor.check_torch,
                  doctor.check_encoder_model, doctor.check_bundled_data):
        findings = check()
        assert findings and all(f.ok for f in findings), [f.line() for f in findings if not f.ok]


def test_corrupted_bundled_data_is_reported(tmp_path) -> None:
    data = pytest.importorskip("sft_helpers.data")
    copy = tmp_path / "bundled"
    shutil.copytree(data.bundled_dir(), copy)
    manifest = next(copy.glob("MANIFEST*"))
    victim = copy / manifest.read_text().splitlines()[0].split()[-1]  # a file the manifest covers
    content = bytearray(victim.read_bytes())
    content[len(content) // 2] ^= 0xFF
    victim.write_bytes(bytes(content))
    findings = doctor.check_bundled_data(copy)
    assert len(findings) == 1 and not findings[0].ok
    assert "[FAIL]" in findings[0].line() and "regenerate" in findings[0].fix


def test_main_prints_one_line_per_requirement(capsys: pytest.CaptureFixture, monkeypatch) -> None:
    monkeypatch.setattr(doctor, "CHECKS", (doctor.check_python, lambda: [doctor.Finding(False, "boom", "fix it")]))
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "[OK]   Python" in out and "[FAIL] boom" in out and "1 OK, 1 FAIL" in out


@pytest.mark.parametrize("native", [True, False])
def test_doctor_says_when_the_cpu_computes_bf16(monkeypatch, native: bool) -> None:
    import torch

    from sft_helpers import runtime

    monkeypatch.setattr(runtime, "get_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native)
    lines = [f.line() for f in doctor.check_torch()]
    assert any("--bf16 on" in line for line in lines) is native
    assert all(line.startswith("[OK]") for line in lines)


def test_same_environment_compares_bin_folders_without_resolving_links(tmp_path) -> None:
    base = tmp_path / "base" / "python3"
    base.parent.mkdir()
    base.write_text("")
    venvs = []
    for name in ("one", "two"):
        bin_dir = tmp_path / name / "bin"
        bin_dir.mkdir(parents=True)
        (bin_dir / "python").symlink_to(base)  # as venv makes them: links to one interpreter
        venvs.append(bin_dir / "python")
    one, two = venvs
    assert doctor.same_environment(str(one), str(one))
    assert doctor.same_environment(str(one.parent / "python3"), str(one))  # python vs python3, same venv
    assert not doctor.same_environment(str(two), str(one))  # another checkout's venv
    assert not doctor.same_environment("", str(one))


def test_the_notebooks_kernel_must_run_this_python(monkeypatch, tmp_path) -> None:
    from jupyter_client import kernelspec

    class Spec:
        argv = [str(tmp_path / "elsewhere" / "bin" / "python"), "-m", "ipykernel_launcher"]

    specs = {"python3": "x"}
    monkeypatch.setattr(kernelspec.KernelSpecManager, "find_kernel_specs", lambda self: specs)
    monkeypatch.setattr(kernelspec.KernelSpecManager, "get_kernel_spec", lambda self, name: Spec())
    (finding,) = doctor.check_kernel()
    assert not finding.ok and "not this Python" in finding.line()
    assert "ipykernel install --sys-prefix --name python3" in finding.line()
    for argv0 in (sys.executable, "python"):  # set-up's registration, or ipykernel's own spec
        Spec.argv = [argv0, "-m", "ipykernel_launcher"]
        (finding,) = doctor.check_kernel()
        assert finding.ok, finding.line()
    specs.clear()
    (finding,) = doctor.check_kernel()
    assert not finding.ok and "not found" in finding.line()


def test_setup_registers_the_kernel_the_notebooks_name_inside_the_venv() -> None:
    import inspect

    from sft_helpers import setup_env

    assert setup_env.KERNEL_NAME == "python3"  # metadata.kernelspec.name of every notebook
    source = inspect.getsource(setup_env.setup)
    assert '"--sys-prefix"' in source and '"--user"' not in source
