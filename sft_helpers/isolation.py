"""An isolation boundary for running a submitted notebook, without root: Linux namespaces.

``python -m sft_helpers grade`` starts each submission's child process through :func:`wrap`:
``unshare --user --map-root-user --mount --net -- python -m sft_helpers.grading --child ...``.
Inside, before anything from the submission runs, the child calls :func:`enter`, which

* brings up the loopback interface of its **own network namespace** (Jupyter talks to the kernel
  over 127.0.0.1; that address now reaches only the child and its kernel, not the machine);
  there is no other interface, so nothing outside can be reached: not the internet, not a
  service listening on the grader's machine, whatever socket API the code uses;
* mounts an empty, private ``tmpfs`` over each folder it was told to hide (the solution
  notebooks, the submissions folder with the other students' work, your home folder when the
  course is not installed inside it): inside the child those folders look empty, in its own
  **mount namespace**, and nothing changes for the rest of the machine.

What it does not do (see exercises/README.md, "What the boundary isolates"): the child still runs
as your user id mapped to "root" of its own user namespace, so files outside the hidden folders
that you can read, it can read; it shares the machine's CPU and process list; its memory is
capped separately (``RLIMIT_AS``), its time by the grader.

Where user namespaces are unavailable (macOS, Windows, containers without them, kernels that
forbid unprivileged user namespaces), :func:`probe` says why and the grader falls back, with a
printed warning, to what works everywhere: a temporary working folder, a private HOME, the
memory cap and an in-process socket patch (``sft_helpers.offline``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import fcntl
import functools
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

__all__ = ["Probe", "enter", "hideable", "probe", "wrap"]

UNSHARE = ("unshare", "--user", "--map-root-user", "--mount", "--net")

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = (
    1,
    2,
    4,
    32,
    4096,
    16384,
    1 << 18,
)
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


@dataclasses.dataclass(frozen=True)
class Probe:
    """Whether the namespace boundary works here; ``reason`` says why not."""

    available: bool
    reason: str = ""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def _mount(source: str | None, target: str | None, fstype: str | None, flags: int, data: str | None) -> None:
    enc = [None if v is None else v.encode() for v in (source, target, fstype, data)]
    if _libc().mount(enc[0], enc[1], enc[2], flags, enc[3]) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"mount {fstype or ''} on {target}: {os.strerror(error)}")


def _kept_flags(path: str) -> int:
    """The mount flags a remount inside a user namespace must keep (the kernel locks them)."""
    have = os.statvfs(path).f_flag
    flags = have & (2 | 4 | 8 | 1024 | 2048)  # nosuid, nodev, noexec, noatime, nodiratime (same bits)
    return flags | (1 << 21 if have & 4096 else 0)  # relatime: ST_RELATIME is 4096, MS_RELATIME 1 << 21


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | _IFF_UP, b""))


def enter(
    hide: Iterable[str | os.PathLike[str]], readonly: Iterable[str | os.PathLike[str]] = ()
) -> list[str]:
    """Inside the namespaces: loopback up, an empty tmpfs over each folder of ``hide``, each folder
    of ``readonly`` bound read-only onto itself; returns what was hidden.

    Raises ``OSError`` when not in a fresh user + mount + network namespace (the grader then
    stops this submission rather than run it unprotected).
    """
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)  # nothing we mount leaks to the host
    _loopback_up()
    for folder in readonly:  # the installed course and interpreter: a submission cannot edit the checks
        path = os.path.realpath(folder)
        if os.path.isdir(path):
            try:
                _mount(path, path, None, _MS_BIND | _MS_REC, None)
                _mount(None, path, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _kept_flags(path), None)
            except OSError as error:  # not fatal: the network and the hidden folders matter more
                print(f"warning: {path} stays writable for the submission ({error})", file=sys.stderr)
    hidden = []
    for folder in hide:
        path = os.path.realpath(folder)
        if os.path.isdir(path):
            _mount("tmpfs", path, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0555,size=1m")
            hidden.append(path)
    return hidden


def wrap(command: Sequence[str]) -> list[str]:
    """``command`` started in new user, mount and network namespaces."""
    return [*UNSHARE, "--", *command]


@functools.lru_cache(maxsize=1)
def probe() -> Probe:
    """Try the boundary once (a child that enters it, hides a folder and checks it is hidden)."""
    if not sys.platform.startswith("linux"):
        return Probe(False, f"Linux namespaces do not exist on {sys.platform}")
    if shutil.which("unshare") is None:
        return Probe(False, "the `unshare` command (util-linux) is not installed")
    with tempfile.TemporaryDirectory(prefix="sft-probe-") as folder:
        Path(folder, "secret").write_text("x", encoding="utf-8")
        code = (
            "import os, sys; from sft_helpers.isolation import enter; enter([sys.argv[1]]); "
            "sys.exit(3 if os.listdir(sys.argv[1]) else 0)"
        )
        try:
            done = subprocess.run(
                wrap([sys.executable, "-c", code, folder]), capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return Probe(False, f"unshare could not start: {error}")
    if done.returncode == 0:
        return Probe(True)
    lines = (done.stderr or done.stdout).strip().splitlines()
    why = lines[-1] if lines else f"exit code {done.returncode}"
    return Probe(False, f"`unshare --user --map-root-user --mount --net` failed here: {why}")


def hideable(folder: Path, keep: Iterable[str | os.PathLike[str]]) -> bool:
    """True when ``folder`` exists and holds none of ``keep`` (the interpreter, the package, the
    child's own folder, PYTHONPATH entries): hiding it cannot break the child."""
    if not folder.is_dir():
        return False
    root = folder.resolve()
    for path in keep:
        try:
            Path(path).resolve().relative_to(root)
        except ValueError:
            continue
        return False
    return True


if __name__ == "__main__":  # pragma: no cover - a manual look: python -m sft_helpers.isolation
    print(probe())
