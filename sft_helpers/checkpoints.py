"""Training checkpoints: written atomically, verified when read, enough to resume bit for bit.

A checkpoint is a folder ``step-000120/`` inside the run's ``output_dir``::

    model.safetensors     the weights (only the trainable ones when part of the model is frozen)
    optimizer.pt          AdamW's moments (a plain state dict, read with weights_only=True)
    rng.safetensors       torch's random-number state (dropout continues where it stopped)
    trainer_state.json    step, epoch, position in the epoch, history, scheduler, Python/NumPy RNG
    manifest.json         size and SHA-256 of each file above, checked before anything is loaded

Atomic: the folder is written under a temporary name and renamed when complete, and the
pointer file ``checkpoints.json`` (which folder is the latest, which the best) is replaced
with ``os.replace``. A process killed mid-save leaves at worst a stray ``.tmp-*`` folder,
never a checkpoint that loads half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file, save_model

__all__ = [
    "CheckpointError",
    "model_fingerprint",
    "save_weights",
    "load_weights",
    "save_checkpoint",
    "load_checkpoint",
    "read_state",
    "verify_checkpoint",
    "read_pointers",
    "write_pointers",
    "prune_checkpoints",
    "capture_rng",
    "restore_rng",
]

POINTER_FILE = "checkpoints.json"
WEIGHTS_FILE = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, or belongs to a different model or run."""


# ----------------------------------------------------------------------------- weights
def _frozen_names(model: torch.nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if not p.requires_grad}


def model_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of the model's class and parameter names, shapes and dtypes."""
    text = type(model).__name__ + "".join(
        f"|{name}:{tuple(t.shape)}:{t.dtype}" for name, t in sorted(model.state_dict().items())
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def save_weights(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Write the weights to a safetensors file (only trainable ones when some are frozen)."""
    metadata = {"fingerprint": model_fingerprint(model), "class": type(model).__name__}
    frozen = _frozen_names(model)
    if not frozen:
        save_model(model, str(path), metadata=metadata | {"kind": "full"})  # handles tied weights
        return
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items() if k not in frozen}
    save_file(state, str(path), metadata=metadata | {"kind": "trainable"})


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> None:
    """Load weights written by ``save_weights`` into ``model``, after checking they are its own."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path} does not exist; pass a checkpoint folder written by sft_helpers.training."
        )
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("fingerprint") not in (None, model_fingerprint(model)):
        raise CheckpointError(
            f"{path} was written for a different model ({metadata.get('class')}, other parameter names or "
            f"shapes) than this {type(model).__name__}; load it into the model it was trained from."
        )
    state = load_file(str(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected:
        raise CheckpointError(f"{path} holds weights this model lacks: {unexpected[:5]}.")
    if metadata.get("kind") == "full":
        own = model.state_dict()
        # tied weights are stored once; every missing name must share storage with a loaded one
        loaded_ptrs = {own[k].data_ptr() for k in state}
        really_missing = [k for k in missing if own[k].data_ptr() not in loaded_ptrs]
    else:
        really_missing = [k for k in missing if k not in _frozen_names(model)]
    if really_missing:
        raise CheckpointError(f"{path} lacks weights this model needs: {really_missing[:5]}.")


# ----------------------------------------------------------------------------- random state
def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """torch's RNG states as tensors, Python's and NumPy's as JSON-ready values."""
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{i}"] = state
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    plain = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
    }
    return tensors, plain


def restore_rng(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> None:
    """Put back the RNG states captured by ``capture_rng``."""
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("torch_cuda_")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    version, internal, gauss = plain["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = plain["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))


# ----------------------------------------------------------------------------- whole checkpoints
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json_atomic(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def save_checkpoint(
    output_dir: str | os.PathLike,
    name: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    state: dict[str, Any],
) -> Path:
    """Write checkpoint ``output_dir/name`` atomically and return its path.

    ``state`` is JSON-ready (step, epoch, history, scheduler state, ...); the RNG states are
    captured here, so call this at the point a resumed run should continue from.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    final = output_dir / name
    tmp = Path(tempfile.mkdtemp(dir=output_dir, prefix=f".tmp-{name}-"))
    try:
        save_weights(model, tmp / WEIGHTS_FILE)
        if optimizer is not None:
            torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        rng_tensors, rng_plain = capture_rng()
        save_file(rng_tensors, str(tmp / "rng.safetensors"))
        state = dict(state, rng=rng_plain, fingerprint=model_fingerprint(model))
        (tmp / "trainer_state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
        manifest = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(tmp.iterdir())}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        if final.exists():  # a checkpoint of the same step from an earlier, interrupted run
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def verify_checkpoint(folder: str | os.PathLike) -> None:
    """Raise CheckpointError unless every file in the folder's manifest is present and intact."""
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise CheckpointError(f"{folder} is not a complete checkpoint (no manifest.json).")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for file_name, expected in manifest.items():
        path = folder / file_name
        if (
            not path.is_file()
            or path.stat().st_size != expected["bytes"]
            or _sha256(path) != expected["sha256"]
        ):
            raise CheckpointError(
                f"{path} is missing or damaged (size or SHA-256 differs from the manifest)."
            )


def read_state(folder: str | os.PathLike) -> dict[str, Any]:
    """Verify a checkpoint folder and return its ``trainer_state.json`` (nothing is loaded)."""
    folder = Path(folder)
    verify_checkpoint(folder)
    return json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))


def load_checkpoint(
    folder: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    restore_random_state: bool = True,
) -> dict[str, Any]:
    """Verify a checkpoint, load it into ``model`` (and ``optimizer``), restore RNGs; return its state."""
    folder = Path(folder)
    state = read_state(folder)
    if state.get("fingerprint") != model_fingerprint(model):
        raise CheckpointError(
            f"{folder} was written for a different model than this {type(model).__name__} (other parameter "
            "names or shapes); resume with the model the run started from, or use a new output_dir."
        )
    load_weights(model, folder / WEIGHTS_FILE)
    if optimizer is not None:
        optimizer_path = folder / "optimizer.pt"
        if not optimizer_path.is_file():
            raise CheckpointError(f"{folder} has no optimizer state; it cannot resume training.")
        optimizer.load_state_dict(torch.load(optimizer_path, map_location="cpu", weights_only=True))
    if restore_random_state:
        restore_rng(load_file(str(folder / "rng.safetensors")), state["rng"])
    return state


# ----------------------------------------------------------------------------- which checkpoint is which
def read_pointers(output_dir: str | os.PathLike) -> dict[str, str | None]:
    """``{"latest": folder name or None, "best": folder name or None}`` of a run folder."""
    path = Path(output_dir) / POINTER_FILE
    if not path.is_file():
        return {"latest": None, "best": None}
    try:
        pointers = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise CheckpointError(
            f"{path} is damaged ({error}); delete the run folder or resume elsewhere."
        ) from error
    return {"latest": pointers.get("latest"), "best": pointers.get("best")}


def write_pointers(output_dir: str | os.PathLike, latest: str | None, best: str | None) -> None:
    """Atomically record which checkpoint folders are the latest and the best."""
    _write_json_atomic(Path(output_dir) / POINTER_FILE, {"latest": latest, "best": best})


def prune_checkpoints(output_dir: str | os.PathLike) -> None:
    """Delete step folders that are neither the latest nor the best, and stray temporary folders."""
    output_dir = Path(output_dir)
    keep = {v for v in read_pointers(output_dir).values() if v}
    for path in output_dir.iterdir():
        if path.is_dir() and (
            path.name.startswith(".tmp-") or (path.name.startswith("step-") and path.name not in keep)
        ):
            shutil.rmtree(path, ignore_errors=True)
