"""Bit-for-bit repeatable training, and runs killed at awkward moments that resume to the same weights.

Each run is a separate process (``tests/_resume_driver.py``: a tiny BERT classifier with
dropout, 18 steps, a checkpoint every 4) so a kill is a real SIGKILL: no ``finally`` block,
no cleanup. The driver pauses at a chosen point (before an optimizer step, inside a
checkpoint save, between renaming a checkpoint and recording it), the test kills it there,
checks what is on disk, and resumes. The last run must end with exactly (``torch.equal``)
the weights and history of an uninterrupted run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from sft_helpers import checkpoints

DRIVER = Path(__file__).resolve().parent / "_resume_driver.py"
ENV = dict(os.environ, SFT_DEVICE="cpu", OMP_NUM_THREADS="1", SFT_THREADS="1")


def start(run_dir: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), str(run_dir), *args],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 240) -> tuple[int, str]:
    output, _ = process.communicate(timeout=timeout)
    return process.returncode, output


def run_to_pause_then_signal(run_dir: Path, pause: str, sig: int, resume: bool = True) -> tuple[int, str]:
    """Start a run that pauses at ``pause``, wait for it to get there, send ``sig``; return (code, output)."""
    marker = run_dir / "paused"
    marker.unlink(missing_ok=True)
    process = start(run_dir, "--pause", pause, *(["--resume"] if resume else []))
    deadline = time.monotonic() + 240
    while not marker.exists():
        if process.poll() is not None:
            pytest.fail(f"the run ended before pausing at {pause}:\n{process.stdout.read()}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the run never reached {pause}")
        time.sleep(0.05)
    process.send_signal(sig)
    return finish(process)


def latest(run_dir: Path) -> str | None:
    return checkpoints.read_pointers(run_dir / "checkpoints")["latest"]


def final_state(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict]:
    weights = load_file(str(run_dir / "final.safetensors"))
    history = json.loads((run_dir / "history.json").read_text(encoding="utf-8"))
    return weights, history


def assert_identical(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, torch.Tensor], dict]:
    """An uninterrupted run, made twice in two processes: both must agree bit for bit."""
    runs = []
    for name in ("first", "second"):
        run_dir = tmp_path_factory.mktemp(name)
        code, output = finish(start(run_dir))
        assert code == 0, output
        runs.append(final_state(run_dir))
    (w1, h1), (w2, h2) = runs
    assert_identical(w1, w2)
    assert h1 == h2  # every loss, learning rate and metric, exactly
    assert len(h1["train"]) == 18 and [r["step"] for r in h1["eval"]] == [4, 8, 12, 16, 18]
    return w1, h1


def test_seeded_run_is_bit_for_bit_repeatable(reference) -> None:
    weights, history = reference
    spec = importlib.util.spec_from_file_location("_resume_driver", DRIVER)
    driver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(driver)
    initial = driver.make_model().state_dict()
    moved = max((weights[k] - initial[k]).abs().max().item() for k in weights)
    assert moved > 1e-2  # it trained: the equality in `reference` compares real runs
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_killed_runs_resume_to_the_same_weights(tmp_path: Path, reference) -> None:
    run_dir = tmp_path
    # 1. SIGKILL mid-epoch, before the 7th optimizer step: the checkpoint of step 4 is the latest
    code, output = run_to_pause_then_signal(run_dir, "step:7", signal.SIGKILL, resume=False)
    assert code == -signal.SIGKILL, output
    assert latest(run_dir) == "step-0000004"

    # 2. resumed from step 4; SIGKILL inside the save of step 12 (weights written, manifest not yet)
    code, output = run_to_pause_then_signal(run_dir, "save:2", signal.SIGKILL)
    assert code == -signal.SIGKILL, output
    assert latest(run_dir) == "step-0000008"  # mid-epoch 2 (6 steps per epoch)
    strays = [p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".tmp-")]
    assert strays and not (strays[0] / "manifest.json").exists()  # half-written, and never pointed to
    with pytest.raises(checkpoints.CheckpointError, match="not a complete checkpoint"):
        checkpoints.verify_checkpoint(strays[0])
    checkpoints.verify_checkpoint(run_dir / "checkpoints" / "step-0000008")

    # 3. resumed from step 8; SIGKILL after step-0000012 is renamed into place, before the pointer names it
    code, output = run_to_pause_then_signal(run_dir, "pointers:1", signal.SIGKILL)
    assert code == -signal.SIGKILL, output
    assert latest(run_dir) == "step-0000008"  # the pointer still names the older, complete checkpoint
    assert (run_dir / "checkpoints" / "step-0000012").is_dir()

    # 4. resumed from step 8 again (step 12 is written anew); Ctrl-C (SIGINT) before step 15
    code, output = run_to_pause_then_signal(run_dir, "step:7", signal.SIGINT)
    assert code == 130, output
    assert latest(run_dir) == "step-0000012"

    # 5. resumed from step 12 to the end: the same weights and history as the uninterrupted run
    code, output = finish(start(run_dir, "--resume"))
    assert code == 0, output
    weights, history = final_state(run_dir)
    ref_weights, ref_history = reference
    assert_identical(weights, ref_weights)
    assert history == ref_history
    assert latest(run_dir) == "step-0000018"
    assert not [p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith(".tmp-")]


# ----------------------------------------------------------------------------- the loader verifies
def _small_checkpoint(folder: Path) -> tuple[torch.nn.Module, Path]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randn(5, 4)).sum().backward()
    optimizer.step()
    return model, checkpoints.save_checkpoint(folder, "step-0000001", model, optimizer, {"step": 1})


@pytest.mark.parametrize(
    "file_name", ["model.safetensors", "optimizer.pt", "rng.safetensors", "trainer_state.json"]
)
@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_damaged_file_is_refused_before_anything_loads(tmp_path: Path, file_name: str, damage: str) -> None:
    model, folder = _small_checkpoint(tmp_path)
    path = folder / file_name
    data = path.read_bytes()
    if damage == "flip":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.unlink()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    changed = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(checkpoints.CheckpointError, match="missing or damaged"):
        checkpoints.load_checkpoint(folder, model)
    assert_identical(model.state_dict(), changed)  # nothing was loaded
    assert not torch.equal(changed["0.weight"], before["0.weight"])


def test_a_checkpoint_of_another_model_is_refused(tmp_path: Path) -> None:
    _, folder = _small_checkpoint(tmp_path)
    other = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    with pytest.raises(checkpoints.CheckpointError, match="different model"):
        checkpoints.load_checkpoint(folder, other)
    with pytest.raises(checkpoints.CheckpointError, match="different model"):
        checkpoints.load_weights(other, folder / checkpoints.WEIGHTS_FILE)
    # a weights file without our metadata but with other names is refused by name, not half-loaded
    stranger = tmp_path / "stranger.safetensors"
    save_file({"weight": torch.zeros(2, 2)}, str(stranger))
    with pytest.raises(checkpoints.CheckpointError, match="lacks|lacks weights|holds weights"):
        checkpoints.load_weights(other, stranger)


def test_a_checkpoint_loads_back_exactly(tmp_path: Path) -> None:
    model, folder = _small_checkpoint(tmp_path)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    optimizer = torch.optim.AdamW(fresh.parameters())
    state = checkpoints.load_checkpoint(folder, fresh, optimizer)
    assert state["step"] == 1
    assert_identical(fresh.state_dict(), expected)
    assert optimizer.state_dict()["state"][0]["step"].item() == 1
