"""Several processes training one model: DistributedDataParallel set up from torchrun's variables.

``torchrun --nproc_per_node=N ...`` starts N copies of a script and gives each one the
environment variables ``RANK`` (0..WORLD_SIZE-1 over all machines), ``LOCAL_RANK`` (0..N-1 on
this machine), ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``. ``init()`` reads them and
joins the process group: NCCL when the processes train on CUDA GPUs (one GPU per process,
``cuda:LOCAL_RANK``), gloo on CPUs. Without those variables everything here degrades to one
process: ``rank() == 0``, ``world_size() == 1``, ``barrier()`` does nothing.

How the training loop (``sft_helpers.training``) uses it:

* every rank builds the same global batches (same seed) and takes its own shard of each one
  (``shard``), so N processes see exactly the examples one process would, split N ways;
* ``DistributedDataParallel`` averages the gradients across ranks during ``backward()``, so
  every rank takes the same optimizer step and the weights stay identical;
* only rank 0 prints, shows progress bars and writes checkpoints (``is_main``).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from sft_helpers import runtime

__all__ = [
    "launched_by_torchrun",
    "init",
    "is_distributed",
    "rank",
    "local_rank",
    "world_size",
    "is_main",
    "device",
    "backend_for",
    "barrier",
    "cleanup",
    "shard",
    "print0",
    "broadcast_object",
    "all_reduce_mean",
    "wrap",
    "unwrap",
]

T = TypeVar("T")
_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def launched_by_torchrun() -> bool:
    """True when torchrun's variables (``RANK``, ``WORLD_SIZE``, ...) are set for this process."""
    return all(os.environ.get(name) for name in _ENV)


def _env_int(name: str) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"environment variable {name}={value!r} must be an integer (torchrun sets it)."
        ) from None


def backend_for(device_type: str) -> str:
    """``"nccl"`` for CUDA GPUs, ``"gloo"`` for CPUs (NCCL only speaks to NVIDIA GPUs)."""
    if device_type == "cuda":
        return "nccl"
    if device_type == "mps":
        raise ValueError(
            "Apple MPS has no distributed backend: train on one process (drop torchrun), or set "
            "SFT_DEVICE=cpu to run several CPU processes with gloo."
        )
    return "gloo"


def init(timeout_minutes: float = 30.0) -> bool:
    """Join the process group described by torchrun's variables; returns whether it is distributed.

    Safe to call more than once and without torchrun (then it does nothing and returns False).
    On CUDA each process is pinned to ``cuda:LOCAL_RANK``.
    """
    if is_distributed():
        return True
    if not launched_by_torchrun():
        return False
    world, global_rank, local = _env_int("WORLD_SIZE"), _env_int("RANK"), _env_int("LOCAL_RANK")
    if world < 1 or not 0 <= global_rank < world:
        raise ValueError(f"RANK={global_rank} must be in 0..WORLD_SIZE-1 (WORLD_SIZE={world}).")
    kind = runtime.get_device().type
    backend = backend_for(kind)
    if kind == "cuda":
        if local >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK={local} but this machine has {torch.cuda.device_count()} CUDA GPUs: start at most "
                "that many processes per machine (torchrun --nproc_per_node)."
            )
        torch.cuda.set_device(local)
    dist.init_process_group(
        backend=backend,
        timeout=datetime.timedelta(minutes=timeout_minutes),
        rank=global_rank,
        world_size=world,
    )
    return True


def is_distributed() -> bool:
    """True inside an initialised process group (of any size)."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's rank over all machines (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def local_rank() -> int:
    """This process's index on its machine (``LOCAL_RANK``; 0 without torchrun)."""
    return _env_int("LOCAL_RANK") if os.environ.get("LOCAL_RANK") else 0


def world_size() -> int:
    """Number of processes training together (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """True on the process that logs and saves (rank 0)."""
    return rank() == 0


def device() -> torch.device:
    """The device this process trains on: ``cuda:LOCAL_RANK`` under DDP on GPUs, else runtime's choice."""
    chosen = runtime.get_device()
    if chosen.type == "cuda" and is_distributed():
        return torch.device("cuda", local_rank())
    return chosen


def barrier() -> None:
    """Wait until every rank gets here (does nothing in a single process)."""
    if is_distributed():
        dist.barrier()


def cleanup() -> None:
    """Leave the process group (call once at the end of a distributed script)."""
    if is_distributed():
        dist.destroy_process_group()


def shard(items: Sequence[T], shard_rank: int | None = None, shards: int | None = None) -> list[T]:
    """This rank's part of ``items``: a contiguous slice, sizes differing by at most one.

    Rank r of N gets ``items[start_r:start_{r+1}]``; earlier ranks get the extra items when
    ``len(items)`` is not a multiple of N, and a rank may get nothing when there are fewer
    items than ranks (the training loop handles that).
    """
    shard_rank = rank() if shard_rank is None else shard_rank
    shards = world_size() if shards is None else shards
    if not isinstance(shards, int) or shards < 1:
        raise ValueError(f"shards must be a positive int, got {shards!r}.")
    if not isinstance(shard_rank, int) or not 0 <= shard_rank < shards:
        raise ValueError(f"shard_rank must be an int in 0..{shards - 1}, got {shard_rank!r}.")
    base, extra = divmod(len(items), shards)
    start = shard_rank * base + min(shard_rank, extra)
    stop = start + base + (1 if shard_rank < extra else 0)
    return list(items[start:stop])


def print0(*args: Any, **kwargs: Any) -> None:
    """``print`` on rank 0 only (every rank would otherwise print the same line)."""
    if is_main():
        print(*args, **kwargs)


def broadcast_object(value: T, src: int = 0) -> T:
    """Rank ``src``'s ``value`` on every rank (any picklable object; a no-op in one process)."""
    if not is_distributed():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """The mean of ``value`` over ranks (a copy; the input is unchanged; itself in one process)."""
    if not is_distributed():
        return value
    out = value.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out / world_size()


def wrap(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in DistributedDataParallel inside a process group of 2+ ranks, else ``model`` itself.

    Parameters are broadcast from rank 0 when wrapping, so every rank starts from the same
    weights even if the head was initialised differently. Buffers (position ids) never change
    during training, so they are not re-broadcast before every forward.
    """
    if world_size() < 2:
        return model
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    on_gpu = next(model.parameters()).device.type == "cuda"
    # newer torch renamed broadcast_buffers (and warns about the old name)
    names = inspect.signature(DistributedDataParallel.__init__).parameters
    no_buffer_sync = (
        {"forward_sync_buffers": False} if "forward_sync_buffers" in names else {"broadcast_buffers": False}
    )
    return DistributedDataParallel(model, device_ids=[local_rank()] if on_gpu else None, **no_buffer_sync)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel wrapper (what to save), or ``model`` itself."""
    return getattr(model, "module", model) if type(model).__name__ == "DistributedDataParallel" else model
