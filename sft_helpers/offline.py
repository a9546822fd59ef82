"""Run code with the network switched off, in this process or in child processes (kernels).

Patching ``socket`` in the pytest process does not reach a notebook's kernel, which is a
separate Python. ``offline_environment`` therefore writes a ``sitecustomize.py`` that every
Python started with the returned environment imports at start-up, and which refuses every
outgoing socket connection. Jupyter's own kernel channels use ZeroMQ's C sockets, which the
patch does not touch, so notebooks still run.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

MESSAGE = "network access is disabled (sft_helpers.offline): the course must run offline"

SITECUSTOMIZE = f'''
import socket as _socket

def _refuse(*args, **kwargs):
    raise OSError({MESSAGE!r})

_socket.socket.connect = _refuse
_socket.socket.connect_ex = _refuse
_socket.create_connection = _refuse
_socket.getaddrinfo = _refuse
'''

OFFLINE_VARIABLES = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
PROXY_VARIABLES = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy")


@contextlib.contextmanager
def offline_environment(base: dict[str, str] | None = None) -> Iterator[dict[str, str]]:
    """Yield an environment for child processes in which every socket connection is refused."""
    env = dict(os.environ if base is None else base)
    with tempfile.TemporaryDirectory(prefix="sft-offline-") as folder:
        Path(folder, "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (folder, env.get("PYTHONPATH", "")) if p)
        env.update(OFFLINE_VARIABLES)
        for name in PROXY_VARIABLES:
            env.pop(name, None)
        yield env


@contextlib.contextmanager
def refuse_network() -> Iterator[None]:
    """Refuse every socket connection made from this process while the block runs."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError(MESSAGE)

    saved = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection, socket.getaddrinfo)
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.create_connection = refuse  # type: ignore[assignment]
    socket.getaddrinfo = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        (socket.socket.connect, socket.socket.connect_ex, socket.create_connection,
         socket.getaddrinfo) = saved
