"""Loading a data set from the Hugging Face hub (online only), normalised to the course's schema."""

from __future__ import annotations

import os
from pathlib import Path

_PATH_HINTS = (".csv", ".tsv", ".jsonl", ".json", ".txt", ".conll", ".iob", ".iob2", ".bio")
_TRUE = {"1", "true", "yes", "on"}


class HubUnavailableError(ConnectionError):
    """A hub data set was asked for but cannot be downloaded (offline, or no such data set)."""


def looks_like_path(source: str) -> bool:
    """True when ``source`` is clearly meant as a local path rather than a hub id like ``user/name``."""
    return (
        source.startswith((".", "/", "~"))
        or "\\" in source
        or source.count("/") > 1
        or source.lower().endswith(_PATH_HINTS)
        or (len(source) > 1 and source[1] == ":")  # C:...
    )


def _offline() -> bool:
    return any(
        os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def load_from_hub(name: str, task: str):
    """``datasets.load_dataset(name)`` with the columns renamed to the course's schema.

    ``task`` is ``"classification"`` (keeps ``text``/``sentence`` as ``text`` and ``label``)
    or ``"ner"`` (keeps ``tokens`` and ``ner_tags``). Raises :class:`HubUnavailableError`
    with a clear message when the network or the data set is not reachable.
    """
    advice = (
        f"Loading {name!r} from the Hugging Face hub needs the network. Offline, use source='bundled' "
        f"(the course's own data) or a local folder/file. (No file or folder named {str(Path(name).resolve())!r} "
        "exists either.)"
    )
    if _offline():
        raise HubUnavailableError(advice + " HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set.")
    import datasets

    try:
        loaded = datasets.load_dataset(name)
    except Exception as err:  # noqa: BLE001 - any download failure gets the same clear advice
        raise HubUnavailableError(f"{advice} The hub said: {type(err).__name__}: {err}") from err
    if not isinstance(loaded, datasets.DatasetDict):
        raise ValueError(
            f"{name!r} did not load as a DatasetDict with splits; load it yourself and pass a folder."
        )
    keep = ("text", "label") if task == "classification" else ("tokens", "ner_tags")
    out = {}
    for split, ds in loaded.items():
        if task == "classification" and "text" not in ds.column_names and "sentence" in ds.column_names:
            ds = ds.rename_column("sentence", "text")
        missing = [c for c in keep if c not in ds.column_names]
        if missing:
            raise ValueError(
                f"hub data set {name!r}, split {split!r}, lacks the columns {missing} (it has {ds.column_names}); "
                f"expected {list(keep)}."
            )
        out[split] = ds.select_columns(list(keep))
    result = datasets.DatasetDict(out)
    if task == "classification" and not isinstance(
        result[next(iter(result))].features["label"], datasets.ClassLabel
    ):
        result = _encode_labels(result)
    if task == "ner":
        feature = result[next(iter(result))].features["ner_tags"]
        if not isinstance(getattr(feature, "feature", None), datasets.ClassLabel):
            raise ValueError(
                f"hub data set {name!r} stores ner_tags as {feature}, not as ClassLabel ids; load it with "
                "datasets.load_dataset, save it as CoNLL files and pass the folder."
            )
    return result


def _encode_labels(dd):
    """Plain int or string labels -> one ClassLabel shared by every split (the same order as local files)."""
    import datasets

    from sft_helpers.data.schema import label_names

    names = label_names(v for ds in dd.values() for v in ds["label"])
    index = {name: i for i, name in enumerate(names)}
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)}
    )

    def encode(batch: dict) -> dict:
        return {"label": [v if isinstance(v, int) else index[v] for v in batch["label"]]}

    return datasets.DatasetDict(
        {split: ds.map(encode, batched=True, features=features) for split, ds in dd.items()}
    )
