"""The course never needs the network: loading works, and a whole notebook runs, with sockets refused."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from sft_helpers import data, models
from sft_helpers.offline import MESSAGE, offline_environment, refuse_network

REPO_ROOT = Path(__file__).resolve().parent.parent
PROBE = f"""\
import socket
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1)
except OSError as error:
    assert {MESSAGE!r} in str(error), error
else:
    raise AssertionError("the kernel could open a network connection")
"""


def test_refuse_network_blocks_and_restores() -> None:
    original = socket.socket.connect
    with refuse_network(), pytest.raises(OSError, match="disabled"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    assert socket.socket.connect is original


def test_model_and_data_load_with_sockets_refused() -> None:
    with refuse_network():
        model, tokenizer = models.load_pretrained("sequence-classification", num_labels=3, verbose=False)
        clf = data.load_classification()
        ner = data.load_ner()
    assert model.config.num_labels == 3 and tokenizer("ok")["input_ids"][0] == tokenizer.cls_token_id
    assert clf["train"].num_rows > 0 and ner["test"].num_rows > 0


@pytest.mark.notebook
def test_setup_notebook_runs_in_a_kernel_without_network(tmp_path: Path) -> None:
    notebook = nbformat.read(REPO_ROOT / "notebooks" / "00_setup_check.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(PROBE))  # proves the kernel itself is offline
    source, target = tmp_path / "offline.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, source)
    with offline_environment() as env:
        env["SFT_FAST"] = "1"
        env.pop("SFT_RESULTS_FILE", None)
        proc = subprocess.run(
            [sys.executable, "-m", "papermill", str(source), str(target), "-k", "python3",
             "--cwd", str(REPO_ROOT / "notebooks"), "--no-progress-bar"],
            env=env, capture_output=True, text=True, timeout=900,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
