"""sft_helpers.distributed and DDP training: helpers in one process, and 2 CPU processes under torchrun.

The two-process tests start ``python -m torch.distributed.run --nproc_per_node=2`` (gloo,
loopback only, one thread per process) and compare with one process on the same global
batch. Dropout is off in both, and both see the same batches (every rank builds the same
global batch order and takes its slice), so the only difference left is the order of float
additions: DDP sums two half-batch gradients where one process sums one whole batch, and
Adam's division by sqrt(v) can enlarge such rounding differences a little. The tolerances
below cover that and nothing else; with dropout on, each rank would drop other units than
the single process and only the learning curve, not the weights, would be comparable.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from sft_helpers import checkpoints, distributed, models, train_cli, training

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "_ddp_driver.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Two CPU processes on this machine, one thread each, talking over loopback."""
    env = dict(os.environ, SFT_DEVICE="cpu", OMP_NUM_THREADS="1", SFT_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        *args,
    ]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (
        f"torchrun failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    )
    return done


def load_driver():
    spec = importlib.util.spec_from_file_location("_ddp_driver", DRIVER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFT_DEVICE", "cpu")


# ----------------------------------------------------------------------------- one process
def test_single_process_defaults() -> None:
    assert not distributed.is_distributed()
    assert (distributed.rank(), distributed.world_size(), distributed.is_main()) == (0, 1, True)
    assert distributed.init() is False or distributed.launched_by_torchrun()
    distributed.barrier()  # a no-op, must not hang
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    value = torch.tensor([1.0, 2.0])
    assert torch.equal(distributed.all_reduce_mean(value), value)
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model) is model and distributed.unwrap(model) is model
    assert distributed.device() == torch.device("cpu")


@pytest.mark.parametrize("n", [0, 1, 2, 5, 7, 8])
@pytest.mark.parametrize("world", [1, 2, 3])
def test_shards_cover_the_batch_once_in_order(n: int, world: int) -> None:
    items = list(range(n))
    parts = [distributed.shard(items, r, world) for r in range(world)]
    assert [x for part in parts for x in part] == items  # contiguous, in order, nothing twice
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_shard_and_backend_errors() -> None:
    with pytest.raises(ValueError, match="shard_rank"):
        distributed.shard([1, 2], 2, 2)
    with pytest.raises(ValueError, match="shards"):
        distributed.shard([1, 2], 0, 0)
    assert distributed.backend_for("cuda") == "nccl" and distributed.backend_for("cpu") == "gloo"
    with pytest.raises(ValueError, match="MPS"):
        distributed.backend_for("mps")


def test_rank_loss_weights_make_the_mean_exact() -> None:
    """sum_r weight_r * mean_r / world == the mean over the whole batch, for token labels with holes."""
    examples = [
        {"labels": [-100, 1, 2, -100]},
        {"labels": [0, 0, 0]},
        {"labels": [-100, -100, 1]},
        {"labels": [2, -100]},
        {"labels": [1, 1, 1, 1, 1]},
    ]
    losses = {i: torch.arange(len(e["labels"]), dtype=torch.float64) + i for i, e in enumerate(examples)}

    def mean_loss(indices: list[int]) -> torch.Tensor:
        terms = [losses[i][j] for i in indices for j, y in enumerate(examples[i]["labels"]) if y != -100]
        return torch.stack(terms).mean()

    units = [training._loss_units(e) for e in examples]
    assert units == [2, 3, 1, 1, 5]
    batch = [0, 1, 2, 3, 4]
    for world in (1, 2, 3):
        combined = sum(
            training._rank_share(batch, units, r, world)[1]
            * mean_loss(training._rank_share(batch, units, r, world)[0])
            for r in range(world)
        )
        torch.testing.assert_close(combined / world, mean_loss(batch))
    # accumulation: two batches of one group, each weighted by its share of the group's units
    group, total = [[0, 1, 2], [3, 4]], sum(units)
    for world in (1, 2):
        combined = sum(
            training._rank_share(b, units, r, world, total)[1]
            * mean_loss(training._rank_share(b, units, r, world, total)[0])
            for b in group
            for r in range(world)
        )
        torch.testing.assert_close(combined / world, mean_loss(batch))
    # a rank without examples runs one with weight 0 (it must still join the gradient exchange)
    assert training._rank_share([4], units, 1, 2) == ([4], 0.0)
    # a causal LM predicts token t+1 from tokens <= t: each example's first label is no term of its loss
    assert [training._loss_units(e, shift=True) for e in examples] == [2, 2, 1, 0, 4]


# ----------------------------------------------------------------------------- two processes
def test_two_processes_match_one_on_token_classification(tmp_path: Path) -> None:
    """Uneven slices, an empty rank, -100 holes and accumulation: DDP still takes one process's steps."""
    torchrun([str(DRIVER), str(tmp_path)], cwd=tmp_path)
    rank0, rank1 = (
        load_file(str(tmp_path / "rank0.safetensors")),
        load_file(str(tmp_path / "rank1.safetensors")),
    )
    for key in rank0:  # DDP keeps every rank's weights identical, bit for bit
        assert torch.equal(rank0[key], rank1[key]), key
    # rank 0 alone wrote checkpoints: complete, verified, the latest at the last step (2 epochs x 3 steps)
    run_dir = tmp_path / "checkpoints"
    assert checkpoints.read_pointers(run_dir)["latest"] == "step-0000006"
    checkpoints.verify_checkpoint(run_dir / "step-0000006")
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".tmp-")]

    driver = load_driver()
    history = json.loads((tmp_path / "history.json").read_text())
    initial = driver.make_model().state_dict()
    # one process with the same settings, and one process with one batch of 10 per step instead of
    # 2 accumulated batches of 5 (21 examples: steps of 10, 10, 1 either way): exact accumulation
    # over ranks and batches makes all three take the same steps
    for batch_size, accum in ((5, 2), (10, 1)):
        single, result = driver.run(None, batch_size=batch_size, grad_accum_steps=accum)
        moved = max((single.state_dict()[k] - initial[k]).abs().max().item() for k in rank0)
        assert moved > 5e-3  # the weights really trained, so the comparison below means something
        for key, value in single.state_dict().items():
            torch.testing.assert_close(
                rank0[key], value, rtol=0, atol=1e-5, msg=f"{key} ({batch_size}x{accum})"
            )
        assert [r["step"] for r in history["train"]] == [r["step"] for r in result.history["train"]]
        for ours, theirs in zip(
            history["train"] + history["eval"], result.history["train"] + result.history["eval"]
        ):
            assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-5)


def test_train_command_on_two_processes_matches_one(tmp_path: Path) -> None:
    """The classification command under torchrun (2 CPU processes) ends where one process does."""
    common = [
        "--task", "classification", "--data", "bundled", "--max-train-examples", "32", "--max-eval-examples", "16",
        "--batch-size", "8", "--epochs", "1", "--max-length", "32", "--lr", "5e-4", "--dropout", "0",
        "--no-test", "--no-progress", "--threads", "1",
        # float32 on purpose: the 1e-4 tolerance below is float32 summation order. bf16 autocast
        # (the default on CPUs with native bf16) rounds every product to bf16's 8-bit mantissa,
        # far above float32's reordering error, and would need a tolerance that tests little.
        "--bf16", "off",
    ]  # fmt: skip
    done = torchrun(["-m", "sft_helpers.train_cli", *common, "--output-dir", "ddp"], cwd=tmp_path)
    assert done.stdout.count("best validation at step 4") == 1  # rank 0 alone prints
    assert "2 process(es) on cpu, global batch 8" in done.stdout
    assert train_cli.main([*common, "--output-dir", str(tmp_path / "one")]) == 0

    ddp, one = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("ddp", "one"))
    assert (ddp["world_size"], one["world_size"], ddp["steps"], one["steps"]) == (2, 1, 4, 4)
    for key in ("loss", "accuracy", "macro_f1"):
        assert ddp["best_validation"][key] == pytest.approx(one["best_validation"][key], abs=1e-4)
    assert ddp["final_train_loss"] == pytest.approx(one["final_train_loss"], rel=1e-5)
    w_ddp = load_file(str(tmp_path / "ddp" / "model" / "model.safetensors"))
    w_one = load_file(str(tmp_path / "one" / "model" / "model.safetensors"))
    assert w_ddp.keys() == w_one.keys()
    diff = max((w_ddp[k] - w_one[k]).abs().max().item() for k in w_one)
    assert diff < 1e-4, f"weights differ by {diff:.2e}"
    pretrained = load_file(str(models.bundled_encoder_path() / "model.safetensors"))
    moved = max(
        (w_one[k] - pretrained[k[len("bert.") :]]).abs().max().item() for k in w_one if k.startswith("bert.")
    )
    assert moved > 10 * diff and moved > 5e-4  # the encoder really trained: the tolerance is not vacuous
