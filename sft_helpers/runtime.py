"""Runtime settings shared by every chapter: device, seeds, fast mode, threads, versions.

This is the bottom of the package: it imports nothing else from ``sft_helpers``.
"""

from __future__ import annotations

import functools
import os
import platform
import random
import sys
from importlib import metadata
from typing import Any, TypeVar

import numpy as np
import torch

from sft_helpers import settings
from sft_helpers.settings import HEADLESS_ENV  # noqa: F401 - re-exported for notebooks and tests

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}
_VALID_DEVICES = ("cpu", "cuda", "mps")


def fast_mode() -> bool:
    """True when ``SFT_FAST`` is set to 1/true/yes: every notebook shrinks its sizes."""
    value = os.environ.get(settings.FAST_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"SFT_FAST={value!r} is not understood: set it to 1 (fast mode) or 0 (full mode).")


def pick(fast: T, full: T) -> T:
    """Return ``fast`` in fast mode and ``full`` otherwise (for notebook parameters)."""
    return fast if fast_mode() else full


def get_device() -> torch.device:
    """The best available device: CUDA, then Apple MPS, then CPU.

    ``SFT_DEVICE=cpu|cuda|mps`` overrides the choice (for example to compare speeds).
    """
    wanted = os.environ.get(settings.DEVICE_ENV, "").strip().lower()
    if wanted:
        if wanted.split(":")[0] not in _VALID_DEVICES:
            raise ValueError(
                f"SFT_DEVICE={wanted!r} is not a device: use one of {', '.join(_VALID_DEVICES)}."
            )
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError("SFT_DEVICE asks for cuda but torch sees no CUDA GPU; unset SFT_DEVICE.")
        if wanted == "mps" and not _mps_available():
            raise ValueError("SFT_DEVICE asks for mps but this torch has no MPS support; unset SFT_DEVICE.")
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch; with ``deterministic`` ask torch for deterministic kernels.

    Returns a ``torch.Generator`` seeded with ``seed`` for code that wants its own stream.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        # warn_only: a few CUDA kernels have no deterministic version; CPU ones all do.
        torch.use_deterministic_algorithms(True, warn_only=True)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota (containers)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    try:  # cgroup v2: "max 100000" (no limit) or "200000 100000" (2 cores)
        quota, period = open("/sys/fs/cgroup/cpu.max", encoding="ascii").read().split()[:2]
        if quota != "max" and float(period) > 0:
            cores = min(cores, max(1, int(-(-float(quota) // float(period)))))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _cpu_jiffies() -> tuple[float, float] | None:
    """(busy, total) CPU time of the whole machine from /proc/stat, or None where it does not exist."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = [float(x) for x in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 4:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def free_cores(sample_seconds: float = 0.25) -> int:
    """Usable cores minus those other processes keep busy, measured over ``sample_seconds``; at least 1.

    Reads /proc/stat twice and takes this process's own CPU time out, so it counts only other
    work. Where /proc/stat does not exist (macOS, Windows) it returns ``usable_cores()``.
    """
    import time

    cores = usable_cores()
    first = _cpu_jiffies()
    if first is None or sample_seconds <= 0:
        return cores
    own0, wall0 = sum(os.times()[:2]), time.perf_counter()
    time.sleep(sample_seconds)
    second = _cpu_jiffies()
    own, wall = sum(os.times()[:2]) - own0, time.perf_counter() - wall0
    if second is None or second[1] <= first[1] or wall <= 0:
        return cores
    machine = os.cpu_count() or cores
    busy = (second[0] - first[0]) / (second[1] - first[1]) * machine  # cores busy, all processes
    others = max(0.0, busy - own / wall)
    return max(1, min(cores, cores - int(others + 0.5)))


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads and return the number.

    Default: ``SFT_THREADS`` when set, else the cores actually free (``free_cores``): torch's
    threads wait for each other at the end of every operation, so one thread that shares its
    core with another busy process slows all of them down (on 2 cores with one other busy
    process, 2 threads took 2.9x longer per training step than 1 thread; bench/speed_levers.py).
    Also switches the tokenizers library's own thread pool off (``TOKENIZERS_PARALLELISM=false``,
    unless set): tokenizing a few thousand short texts takes well under a second without it,
    and its threads would compete with torch's.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if n is None:
        env = os.environ.get(settings.THREADS_ENV, "").strip()
        if env:
            try:
                n = int(env)
            except ValueError:
                raise ValueError(
                    f"SFT_THREADS={env!r} is not a number of threads: set it to e.g. 2, or unset it."
                ) from None
        else:
            n = free_cores()
            _THREADS_CHOSEN_HERE[:] = [True]
            torch.set_num_threads(n)
            return n
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"threads must be a positive int, got {n!r}.")
    _THREADS_CHOSEN_HERE[:] = [False]
    torch.set_num_threads(n)
    return n


_THREADS_CHOSEN_HERE: list[bool] = [False]  # True once set_threads() chose from the free cores


def refresh_threads() -> int:
    """Choose the threads again from the cores free now, if ``set_threads()`` chose them; returns the number.

    Other programs start and stop during a long chapter; call this before each training run
    (``sft_helpers.experiments.train_and_evaluate`` does). Threads given explicitly, by
    ``set_threads(n)`` or ``SFT_THREADS``, stay as they are.
    """
    if _THREADS_CHOSEN_HERE[0] and not os.environ.get(settings.THREADS_ENV, "").strip():
        torch.set_num_threads(free_cores())
    return torch.get_num_threads()


def progress_bar(*args: Any, **kwargs: Any) -> Any:
    """A tqdm progress bar: the live widget in Jupyter, one finished text line in headless runs.

    Takes tqdm's arguments. With ``SFT_PROGRESS=text`` (set by the course runner and the
    notebook tests) the bar draws nothing while it runs and prints its final state, e.g.
    ``training: 100%|##########| 564/564 [02:27<00:00, 3.83it/s]``, when it is closed.
    """
    if os.environ.get(settings.PROGRESS_ENV, "").strip().lower() != "text":
        from tqdm.auto import tqdm

        return tqdm(*args, **kwargs)
    return _FinalLineBar(*args, **kwargs)


@functools.cache
def _final_line_bar_class() -> type:
    import io

    from tqdm.std import tqdm

    class FinalLineBar(tqdm):  # type: ignore[misc]
        """A tqdm text bar that stays silent until ``close()``, then prints its last state."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["file"] = io.StringIO()
            kwargs.setdefault("disable", False)  # explicit, so TQDM_DISABLE does not silence ours
            kwargs["ascii"] = True
            super().__init__(*args, **kwargs)

        def close(self) -> None:
            shown = not self.disable
            line = str(self) if shown else ""
            super().close()
            if shown:
                print(line, file=sys.stdout, flush=True)

    return FinalLineBar


def _FinalLineBar(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - behaves as a class
    return _final_line_bar_class()(*args, **kwargs)


CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")  # x86 instructions that compute in bf16 natively


def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bf16 matrix products in hardware (AVX512-BF16 or AMX).

    Without them torch emulates bf16 on the CPU, which is slower than float32, so bf16
    autocast only pays on such CPUs. Read from the Linux ``cpuinfo`` flags; False elsewhere.
    """
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return any(flag in line.split() for flag in CPU_BF16_FLAGS)
    except OSError:
        pass
    return False


def resolve_bf16(device: torch.device, bf16: bool | None = None) -> bool:
    """Whether to train in bf16 autocast: ``bf16`` when given, else where it pays.

    ``None`` means "where the hardware computes bf16 natively": CUDA GPUs that support it, and
    CPUs with AVX512-BF16 or AMX (``cpu_has_native_bf16``); float32 elsewhere, where
    bf16 would be emulated and slower. Weights and optimizer stay in float32 either way.
    """
    if bf16 is not None:
        return bool(bf16)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_native_bf16()


def precision_name(device: torch.device, bf16: bool | None = None) -> str:
    """'bf16 autocast' or 'float32': what ``TrainConfig(bf16=...)`` trains in on ``device``."""
    return "bf16 autocast" if resolve_bf16(device, bf16) else "float32"


def package_version(name: str) -> str | None:
    """The installed version of a distribution, or None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


REPORTED_PACKAGES = (
    "torch",
    "transformers",
    "datasets",
    "tokenizers",
    "accelerate",
    "peft",
    "seqeval",
    "scikit-learn",
    "matplotlib",
    "ipywidgets",
    "papermill",
)


def environment_report() -> dict[str, Any]:
    """Python, platform, device, threads and library versions, as a dict (printed by chapters)."""
    report: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "device": str(get_device()),
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "fast_mode": fast_mode(),
    }
    for name in REPORTED_PACKAGES:
        report[name] = package_version(name) or "not installed"
    return report


_CHAPTER_CLOCK: list[float] = []


def start_chapter_clock() -> None:
    """Remember when the chapter started (call it in the set-up cell)."""
    import time

    _CHAPTER_CLOCK[:] = [time.perf_counter()]


def chapter_time_report() -> str:
    """One line for a chapter's last cell: how long this run took, in which mode, on what."""
    import time

    if not _CHAPTER_CLOCK:
        raise RuntimeError("call sft_helpers.runtime.start_chapter_clock() in the set-up cell first.")
    seconds = time.perf_counter() - _CHAPTER_CLOCK[0]
    mode = "fast" if fast_mode() else "full"
    device = get_device()
    return (
        f"This run of the chapter took {seconds:.0f} s ({seconds / 60:.1f} min) in {mode} mode on "
        f"{device.type} with {torch.get_num_threads()} torch threads; training precision where "
        f"the chapter trains with the course's loop: {precision_name(device)}."
    )
