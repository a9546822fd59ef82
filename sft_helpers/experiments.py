"""Small, seeded experiments for chapter 6: a grid runner and the tools its experiments need.

* :func:`run_grid` runs ``train_fn(**config, seed=seed)`` for every configuration and seed
  (progress bar over runs) and returns one pandas row per run; :func:`grid` builds the
  configurations as a Cartesian product, :func:`summarize` averages over seeds.
* :func:`train_and_evaluate` fine-tunes once and scores several evaluation sets.
* Data: :func:`flip_labels` (label noise), :func:`stratified_subset` (learning curves),
  :func:`find_leakage` and :func:`leak_into` (duplicates shared by train and test; near
  duplicates with a different label are contrast pairs, not leaks), :func:`remove_stop_words`.
* Models: :func:`set_dropout`, :func:`freeze_lower_layers`, :func:`add_lora` (peft),
  :class:`LoRALinear` and :func:`inject_lora` (the same adapters written by hand),
  :func:`count_parameters`.
* Reading curves: :func:`patience_stop` (where early stopping stops, from an evaluation history).
* Cost: :class:`Measure` (seconds and peak memory of a block) and :func:`training_memory`
  (the bytes a training step keeps: weights, gradients, optimizer state, activations).
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from sft_helpers import runtime
from sft_helpers.data.stats import NEAR_DUPLICATE_JACCARD, token_set

__all__ = [
    "grid",
    "run_grid",
    "summarize",
    "pick_best_config",
    "train_and_evaluate",
    "flip_labels",
    "stratified_subset",
    "find_leakage",
    "leak_into",
    "remove_stop_words",
    "NEGATION_WORDS",
    "set_dropout",
    "freeze_lower_layers",
    "add_lora",
    "LoRALinear",
    "inject_lora",
    "count_parameters",
    "patience_stop",
    "Measure",
    "training_memory",
]


# ----------------------------------------------------------------------------- the grid runner
def grid(**axes: Sequence[Any]) -> list[dict[str, Any]]:
    """Every combination of the given values: ``grid(lr=[1e-5, 1e-4], batch_size=[8, 32])`` -> 4 dicts."""
    for name, values in axes.items():
        if isinstance(values, str) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"grid({name}=...) needs a non-empty list of values, got {values!r}.")
    names = list(axes)
    return [dict(zip(names, combo)) for combo in itertools.product(*axes.values())]


def run_grid(
    configs: Sequence[Mapping[str, Any]],
    train_fn: Callable[..., Mapping[str, Any]],
    seeds: Sequence[int] = (0,),
    progress: bool = True,
    desc: str = "runs",
) -> pd.DataFrame:
    """Run ``train_fn(**config, seed=seed)`` for each configuration and seed; one row per run.

    Before each run every random generator is seeded with ``seed`` (``runtime.seed_everything``),
    so the same configurations and seeds give the same results. A row holds the configuration,
    ``seed``, what ``train_fn`` returned (a dict of metrics; other values such as histories are
    kept as objects) and ``seconds`` (wall time of the run).
    """
    if not callable(train_fn):
        raise TypeError(
            f"train_fn must be a function returning a dict of results, got {type(train_fn).__name__}."
        )
    configs = [dict(c) for c in configs]
    if not configs:
        raise ValueError("configs is empty: pass at least one configuration (a dict), e.g. grid(lr=[1e-4]).")
    for i, config in enumerate(configs):
        if "seed" in config:
            raise ValueError(f"configs[{i}] has a 'seed' key; pass seeds=[...] to run_grid instead.")
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative ints, got {seeds!r}.")
    from sft_helpers.runtime import progress_bar

    rows = []
    runs = [(config, seed) for config in configs for seed in seeds]
    for config, seed in progress_bar(runs, desc=desc, disable=not progress):
        runtime.seed_everything(seed)
        start = time.perf_counter()
        result = train_fn(**config, seed=seed)
        seconds = time.perf_counter() - start
        if not isinstance(result, Mapping):
            raise TypeError(
                f"train_fn returned {type(result).__name__}; it must return a dict such as {{'val_accuracy': 0.8}}."
            )
        clash = sorted(set(result) & (set(config) | {"seed"}))
        if clash:
            raise ValueError(
                f"train_fn returned keys {clash} that are also configuration names; rename them."
            )
        rows.append({**config, "seed": seed, **result, "seconds": result.get("seconds", seconds)})
    return pd.DataFrame(rows)


def summarize(results: pd.DataFrame, by: Sequence[str], metrics: Sequence[str]) -> pd.DataFrame:
    """Mean, standard deviation (ddof=1) and number of seeds of each metric, per configuration."""
    missing = [c for c in [*by, *metrics] if c not in results.columns]
    if missing:
        raise ValueError(f"results has no column(s) {missing}; its columns are {list(results.columns)}.")
    table = results.groupby(list(by), sort=False)[list(metrics)].agg(["mean", "std", "count"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    return table.reset_index()


def pick_best_config(
    results: pd.DataFrame, config_columns: Sequence[str], metric: str = "val_accuracy"
) -> dict[str, Any]:
    """The configuration whose ``metric`` (a validation score, higher is better) is best on average over seeds.

    Only ``metric`` is looked at, never a test column: choosing by test score makes the test
    score a selection score, no longer an honest estimate. Returns ``{column: value}``.
    """
    if not isinstance(results, pd.DataFrame):
        raise TypeError(
            f"results must be a pandas DataFrame (e.g. from run_grid), got {type(results).__name__}."
        )
    columns = list(config_columns)
    missing = [c for c in [*columns, metric] if c not in results.columns]
    if not columns or missing:
        raise ValueError(
            f"results has no column(s) {missing or 'given'}; its columns are {list(results.columns)}."
        )
    means = results.groupby(columns, sort=False)[metric].mean()
    best = means.idxmax()
    best = best if isinstance(best, tuple) else (best,)
    return {c: (v.item() if hasattr(v, "item") else v) for c, v in zip(columns, best)}


def train_and_evaluate(
    model: torch.nn.Module,
    train_dataset: Any,
    eval_sets: Mapping[str, Any],
    config: Any,
    collator: Any = None,
    compute_metrics: Any = None,
    watch: str | None = None,
) -> dict[str, Any]:
    """Fine-tune ``model`` with ``training.train`` and score it on each evaluation set.

    ``watch`` names the evaluation set the loop evaluates after each epoch (for early
    stopping and the validation curve; default: the first). Returns ``{"{set}_{metric}": value}``
    for every set (e.g. ``val_accuracy``, ``test_loss``), ``train_loss`` (mean loss of the last
    epoch's steps), ``history``, ``best_step``, ``steps`` and ``seconds`` (training only).
    """
    from sft_helpers import training

    if not eval_sets:
        raise ValueError("eval_sets is empty: pass e.g. {'val': validation_set, 'test': test_set}.")
    watch = watch or next(iter(eval_sets))
    if watch not in eval_sets:
        raise ValueError(f"watch={watch!r} is not one of the evaluation sets {list(eval_sets)}.")
    runtime.refresh_threads()  # the cores free now: other programs come and go during a chapter
    result = training.train(model, train_dataset, eval_sets[watch], config, collator, compute_metrics)
    out: dict[str, Any] = {}
    last_eval = result.history["eval"][-1] if result.history["eval"] else None
    for name, dataset in eval_sets.items():
        if (
            name == watch
            and last_eval is not None
            and last_eval["step"] == result.steps
            and (result.best_step == result.steps or not config.load_best_at_end)
        ):
            # the loop just evaluated these very weights on this set: reuse it instead of a second pass
            metrics = {k: v for k, v in last_eval.items() if k not in ("step", "epoch")}
        else:
            metrics = training.evaluate(
                model, dataset, collator, compute_metrics, config.eval_batch_size, config.bf16
            )
        out |= {f"{name}_{key}": value for key, value in metrics.items()}
    steps_per_epoch = max(
        1, math.ceil(result.steps / max(1, math.ceil(result.history["train"][-1]["epoch"])))
    )
    last = [row["loss"] for row in result.history["train"][-steps_per_epoch:]]
    out |= {
        "train_loss": float(np.mean(last)),
        "history": result.history,
        "best_step": result.best_step,
        "steps": result.steps,
        "seconds": result.train_seconds,
    }
    return out


# ----------------------------------------------------------------------------- data
def _check_fraction(fraction: Any) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be a number in [0, 1], e.g. 0.1 for 10%; got {fraction!r}.")
    return float(fraction)


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}.")
    return seed


def _label_column(dataset: Any, column: str) -> tuple[list[int], int | None]:
    if column not in dataset.column_names:
        raise ValueError(f"the data set has no column {column!r}; its columns are {dataset.column_names}.")
    feature = dataset.features[column]
    return list(dataset[column]), getattr(feature, "num_classes", None)


def flip_labels(
    data: Any, fraction: float, seed: int, num_labels: int | None = None, column: str = "label"
) -> Any:
    """Label noise: exactly ``round(fraction * n)`` items get a different label, drawn at random.

    ``data`` is a list of int labels (then ``num_labels`` is required) or a ``datasets.Dataset``
    whose ``column`` is a ClassLabel. Which items flip, and to which of the *other* labels, is
    decided by ``seed``. The input is not modified: a new list or Dataset is returned.
    """
    fraction, seed = _check_fraction(fraction), _check_seed(seed)
    is_dataset = hasattr(data, "column_names") and hasattr(data, "features")
    if is_dataset:
        labels, classes = _label_column(data, column)
        num_labels = num_labels or classes
    else:
        if isinstance(data, str | bytes) or not isinstance(data, Sequence):
            raise TypeError(
                f"data must be a list of int labels or a datasets.Dataset, got {type(data).__name__}."
            )
        labels = list(data)
    if not isinstance(num_labels, int) or num_labels < 2:
        raise ValueError(
            f"num_labels must be an int >= 2 (flipping needs another label to go to), got {num_labels!r}."
        )
    bad = [y for y in labels if not (isinstance(y, int | np.integer) and 0 <= y < num_labels)]
    if bad:
        raise ValueError(f"labels must be ints in 0..{num_labels - 1}; found {bad[:3]}.")
    rng = random.Random(seed)
    n_flip = math.floor(fraction * len(labels) + 0.5)
    flipped = list(labels)
    for i in rng.sample(range(len(labels)), n_flip):
        flipped[i] = rng.choice([y for y in range(num_labels) if y != labels[i]])
    if not is_dataset:
        return flipped
    feature = data.features[column]
    return data.remove_columns(column).add_column(column, flipped).cast_column(column, feature)


def stratified_subset(dataset: Any, n: int, seed: int, column: str = "label") -> Any:
    """``n`` examples of ``dataset`` with the label proportions of the whole, chosen by ``seed``.

    Each label gets its share of ``n`` (largest remainders round up), at least one example when
    ``n`` allows; rows keep their original order. ``n >= len(dataset)`` returns the whole set.
    """
    seed = _check_seed(seed)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int (the number of examples to keep), got {n!r}.")
    labels, _ = _label_column(dataset, column)
    if n >= len(labels):
        return dataset
    by_label: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_label.setdefault(y, []).append(i)
    classes = sorted(by_label)
    if n < len(classes):
        raise ValueError(
            f"n={n} is smaller than the number of labels ({len(classes)}); a stratified subset needs one each."
        )
    exact = {y: n * len(by_label[y]) / len(labels) for y in classes}
    quota = {y: max(1, math.floor(exact[y])) for y in classes}
    for y in sorted(classes, key=lambda c: exact[c] - math.floor(exact[c]), reverse=True):
        if sum(quota.values()) >= n:
            break
        quota[y] += 1
    while sum(quota.values()) > n:  # the "at least one" rule overshot: take from the largest
        quota[max(classes, key=lambda c: quota[c])] -= 1
    rng = random.Random(seed)
    chosen = sorted(i for y in classes for i in rng.sample(by_label[y], quota[y]))
    return dataset.select(chosen)


def _normalise(text: str) -> str:
    return " ".join(text.split())


def find_leakage(
    queries: Sequence[str],
    pool: Sequence[str],
    threshold: float = NEAR_DUPLICATE_JACCARD,
    query_labels: Sequence[int] | None = None,
    pool_labels: Sequence[int] | None = None,
    include_contrast: bool = False,
) -> pd.DataFrame:
    """Items of ``queries`` (e.g. test texts) that also occur in ``pool`` (training texts).

    ``exact``: the same text (whitespace collapsed); ``near``: token Jaccard similarity
    ``|A & B| / |A | B|`` >= ``threshold`` on lowercased word sets (the data cards' measure,
    ``sft_helpers.data.stats.token_set``). One row per leaked query: ``query`` (its index),
    ``match`` (index of the most similar pool item), ``jaccard`` and ``kind``.

    With ``query_labels`` and ``pool_labels`` a near duplicate counts as a leak only when its
    labels agree: "I'm happy with it." (positive) and "I'm not happy with it." (negative) share
    most words, but the second teaches the opposite answer, so it is a *contrast pair*, not a
    copy of the test item. Such queries are left out, or, with ``include_contrast=True``, listed
    with ``kind="contrast"`` (when no pool item with the same label is similar enough). Exact
    copies are leaks whatever their labels.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], e.g. 0.8; got {threshold!r}.")
    for name, texts in (("queries", queries), ("pool", pool)):
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError(f"{name} must be a list of strings (texts), not {type(texts).__name__}.")
    if (query_labels is None) != (pool_labels is None):
        raise ValueError("pass both query_labels and pool_labels (one label per text), or neither.")
    if query_labels is not None and pool_labels is not None:
        query_labels, pool_labels = list(query_labels), list(pool_labels)
        if len(query_labels) != len(queries) or len(pool_labels) != len(pool):
            raise ValueError(
                f"query_labels has {len(query_labels)} labels for {len(queries)} queries and pool_labels "
                f"{len(pool_labels)} for {len(pool)} pool texts; one label per text is needed."
            )
    exact_index: dict[str, int] = {}
    for j, text in enumerate(pool):
        exact_index.setdefault(_normalise(text), j)
    pool_sets = [token_set(t) for t in pool]
    order = sorted(range(len(pool)), key=lambda j: len(pool_sets[j]))
    sizes = [len(pool_sets[j]) for j in order]
    rows = []
    for i, text in enumerate(queries):
        if _normalise(text) in exact_index:
            rows.append({"query": i, "match": exact_index[_normalise(text)], "jaccard": 1.0, "kind": "exact"})
            continue
        q = token_set(text)
        lo, hi = threshold * len(q), len(q) / threshold  # Jaccard >= t needs t <= |a|/|b| <= 1/t
        # the most similar pool item, and the most similar one with the query's label
        best, best_j, same, same_j = 0.0, -1, 0.0, -1
        for pos in range(np.searchsorted(sizes, lo), len(order)):
            if sizes[pos] > hi:
                break
            j = order[pos]
            s = pool_sets[j]
            inter = len(q & s)
            score = inter / (len(q) + len(s) - inter) if inter else 0.0
            if score > best or (score == best and j < best_j):
                best, best_j = score, j
            if query_labels is not None and pool_labels[j] == query_labels[i]:
                if score > same or (score == same and j < same_j):
                    same, same_j = score, j
        if query_labels is None:
            if best >= threshold:
                rows.append({"query": i, "match": best_j, "jaccard": best, "kind": "near"})
        elif same >= threshold:
            rows.append({"query": i, "match": same_j, "jaccard": same, "kind": "near"})
        elif best >= threshold and include_contrast:
            rows.append({"query": i, "match": best_j, "jaccard": best, "kind": "contrast"})
    return pd.DataFrame(rows, columns=["query", "match", "jaccard", "kind"])


# Words that negate what follows: removing them turns "not worth it" into "worth it".
NEGATION_WORDS = frozenset({"not", "no", "never", "nothing", "none", "nor", "neither", "cannot", "nobody"})


def remove_stop_words(text: str, stop_words: Any = None) -> str:
    """``text`` without the words in ``stop_words`` (default: scikit-learn's English list).

    Words are compared lowercased with the punctuation around them stripped; the punctuation of
    a removed word is dropped with it. This is the classic preprocessing step of bag-of-words
    models; the default list contains "not", "no", "never", "but" and "very".
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}.")
    if stop_words is None:
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS as stop_words
    stop = {w.lower() for w in stop_words}
    kept = [w for w in text.split() if w.strip(".,;:!?\"'()").lower() not in stop]
    return " ".join(kept)


def _near_copy(text: str, rng: random.Random) -> str:
    """The text with one typo in one word of four letters or more (a near duplicate)."""
    from sft_helpers.data.noise import typo

    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long_words:
        return text.lower() if text.lower() != text else text + "!"
    i = rng.choice(long_words)
    words[i] = typo(words[i], rng)
    return " ".join(words)


def leak_into(test: Any, train: Any, n: int, seed: int, near: bool = False) -> tuple[Any, list[int]]:
    """A leaky copy of ``test``: ``n`` of its examples replaced by training examples.

    ``near=True`` puts in a near copy (one typo) instead of the exact text. Returns the new
    Dataset and the positions that now hold training examples. Both data sets need the same
    columns (``text``, ``label``, ...); tokenize after leaking.
    """
    seed = _check_seed(seed)
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= min(len(test), len(train)):
        raise ValueError(f"n must be an int in 0..{min(len(test), len(train))}, got {n!r}.")
    if set(test.column_names) != set(train.column_names):
        raise ValueError(
            f"test and train need the same columns, got {test.column_names} and {train.column_names}."
        )
    rng = random.Random(seed)
    positions = sorted(rng.sample(range(len(test)), n))
    sources = rng.sample(range(len(train)), n)
    rows = test.to_list()
    for pos, src in zip(positions, sources):
        row = dict(train[src])
        if near:
            row["text"] = _near_copy(row["text"], rng)
        rows[pos] = row
    from datasets import Dataset

    return Dataset.from_list(rows, features=test.features), positions


# ----------------------------------------------------------------------------- models
def count_parameters(model: torch.nn.Module) -> dict[str, int]:
    """``{"total": ..., "trainable": ...}`` parameter counts (shared tensors counted once)."""
    seen, total, trainable = set(), 0, 0
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return {"total": total, "trainable": trainable}


def set_dropout(model: torch.nn.Module, p: float) -> int:
    """Set the probability of every ``nn.Dropout`` in ``model`` to ``p``; returns how many were set."""
    if not 0 <= p < 1:
        raise ValueError(f"p must be a dropout probability in [0, 1), got {p!r}.")
    modules = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    for m in modules:
        m.p = p
    config = getattr(model, "config", None)
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"):
        if config is not None and hasattr(config, name):
            setattr(config, name, p)  # so a saved model says what it was trained with
    return len(modules)


def _encoder_parts(model: torch.nn.Module) -> tuple[torch.nn.Module, Sequence[torch.nn.Module]]:
    base = getattr(model, "base_model", model)
    embeddings = getattr(base, "embeddings", None)
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if embeddings is None or layers is None:
        raise ValueError(
            f"{type(model).__name__} has no base_model.embeddings and base_model.encoder.layer; "
            "freeze_lower_layers works for BERT-like encoders."
        )
    return embeddings, layers


def freeze_lower_layers(
    model: torch.nn.Module, n_layers: int, freeze_embeddings: bool = True
) -> dict[str, int]:
    """Stop training the embeddings and the first ``n_layers`` encoder layers (requires_grad=False).

    Returns :func:`count_parameters` of the model afterwards.
    """
    embeddings, layers = _encoder_parts(model)
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or not 0 <= n_layers <= len(layers):
        raise ValueError(
            f"n_layers must be an int in 0..{len(layers)} (the model's layers), got {n_layers!r}."
        )
    frozen = [embeddings] if freeze_embeddings else []
    for module in [*frozen, *list(layers)[:n_layers]]:
        for p in module.parameters():
            p.requires_grad_(False)
    return count_parameters(model)


def add_lora(
    model: torch.nn.Module,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.1,
    target_modules: Sequence[str] = ("query", "value"),
) -> torch.nn.Module:
    """Wrap a sequence classifier with LoRA adapters (peft): only the adapters and the head train.

    Each targeted ``nn.Linear`` ``W`` becomes ``W x + (alpha / r) B A x`` with ``A`` of shape
    ``(r, d_in)`` and ``B`` of shape ``(d_out, r)`` (``B`` starts at zero, so training starts
    from the pretrained model); the classification head is trained fully.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise ValueError(f"r (the LoRA rank) must be a positive int, got {r!r}.")
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
    )
    return get_peft_model(model, config)


class LoRALinear(torch.nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update: ``base(x) + (alpha / r) * x A^T B^T``.

    ``lora_A`` has shape ``(r, in_features)`` (Kaiming-uniform, as peft does), ``lora_B`` shape
    ``(out_features, r)`` and starts at zero, so the wrapped layer computes exactly what ``base``
    did until training moves ``B``. ``scaling = alpha / r`` keeps the update's size comparable
    across ranks. The same computation as peft's ``lora.Linear`` (without its merging tricks).
    """

    def __init__(self, base: torch.nn.Linear, r: int = 8, alpha: float = 16, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(base, torch.nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}.")
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise ValueError(f"r (the LoRA rank) must be a positive int, got {r!r}.")
        self.base = base
        for p in self.base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, alpha, alpha / r
        self.lora_A = torch.nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = torch.nn.Parameter(torch.zeros(base.out_features, r))
        torch.nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = torch.nn.Dropout(dropout) if dropout > 0 else torch.nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (..., in_features) -> A: (..., r) -> B: (..., out_features)
        update = self.dropout(x) @ self.lora_A.T @ self.lora_B.T
        return self.base(x) + self.scaling * update


def inject_lora(
    model: torch.nn.Module,
    lora_class: Callable[..., torch.nn.Module] = LoRALinear,
    r: int = 8,
    alpha: float = 16,
    target_modules: Sequence[str] = ("query", "value"),
    trainable_modules: Sequence[str] = ("classifier",),
    **lora_kwargs: Any,
) -> torch.nn.Module:
    """LoRA by hand: freeze ``model`` and replace each ``nn.Linear`` named in ``target_modules``
    (the last part of its name, e.g. ``query``) by ``lora_class(linear, r, alpha)``.

    Modules named in ``trainable_modules`` (the new classification head) train fully, as with
    peft's ``task_type=SEQ_CLS``. Returns the same model, changed in place; the trainable
    parameter count equals peft's for the same ``r`` and targets.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if name.rsplit(".", 1)[-1] in set(target_modules) and isinstance(module, torch.nn.Linear)
    ]
    if not targets:
        raise ValueError(f"no nn.Linear named one of {list(target_modules)} in {type(model).__name__}.")
    for name, linear in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, lora_class(linear, r, alpha, **lora_kwargs))
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in set(trainable_modules):
            for p in module.parameters():
                p.requires_grad_(True)
    return model


def patience_stop(values: Sequence[float], patience: int, higher_is_better: bool = False) -> tuple[int, int]:
    """Where early stopping stops on a sequence of evaluations: ``(stop_index, best_index)``.

    The rule of ``training.train``: stop after ``patience`` evaluations in a row without a
    new best; the best one is kept. Indices count evaluations from 0; without a stop,
    ``stop_index`` is the last one.
    """
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be a positive int, got {patience!r}.")
    values = [float(v) for v in values]
    if not values:
        raise ValueError("values is empty: pass the evaluation history (one value per evaluation).")
    best_i, waited = 0, 0
    for i in range(1, len(values)):
        better = values[i] > values[best_i] if higher_is_better else values[i] < values[best_i]
        if better:
            best_i, waited = i, 0
        else:
            waited += 1
            if waited >= patience:
                return i, best_i
    return len(values) - 1, best_i


# ----------------------------------------------------------------------------- cost
class Measure:
    """Seconds and peak memory of a block: ``with Measure() as m: ...; m.seconds, m.peak_bytes``.

    On a CUDA device ``peak_bytes`` is ``torch.cuda.max_memory_allocated`` during the block
    (tensors only). On a CPU it is the peak resident memory of the process during the block
    minus the resident memory at its start (polled every ``interval`` seconds): it includes
    everything the process allocated, and memory the allocator kept from earlier work is
    reused without showing up, so compare runs of the same process with care.
    """

    def __init__(self, device: torch.device | str | None = None, interval: float = 0.01) -> None:
        self.device = torch.device(device) if device is not None else runtime.get_device()
        self.interval = interval
        self.seconds = 0.0
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _poll(self, process: Any, start: int) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, process.memory_info().rss - start)
            self._stop.wait(self.interval)

    def __enter__(self) -> Measure:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start_bytes = torch.cuda.memory_allocated(self.device)
        else:
            import psutil

            process = psutil.Process()
            self._thread = threading.Thread(
                target=self._poll, args=(process, process.memory_info().rss), daemon=True
            )
            self._thread.start()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self._start_bytes
        self.seconds = time.perf_counter() - self._start
        if self._thread is not None:
            self._stop.set()
            self._thread.join()


def training_memory(model: torch.nn.Module, batch: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """Bytes one training step keeps on the device, by kind, for ``model`` on ``batch``.

    ``weights``: all parameters; ``gradients``: one per trainable parameter; ``optimizer``:
    AdamW's two moments per trainable parameter; ``activations``: the tensors autograd saves
    in the forward pass for the backward pass (measured with ``saved_tensors_hooks`` on one
    forward of ``batch``; parameters excluded). The model is left in the mode it was in.
    """
    if "labels" not in batch:
        raise ValueError(
            "batch needs 'labels' so the forward pass computes a loss (and saves what backward needs)."
        )
    params = {id(p): p for p in model.parameters()}
    param_ptrs = {p.data_ptr() for p in params.values()}
    weights = sum(p.numel() * p.element_size() for p in params.values())
    trainable = sum(p.numel() * p.element_size() for p in params.values() if p.requires_grad)
    saved: dict[tuple[int, int], int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        ptr = t.untyped_storage().data_ptr()
        if ptr not in param_ptrs:
            saved[(ptr, t.untyped_storage().nbytes())] = t.untyped_storage().nbytes()
        return t

    device = next(model.parameters()).device
    was_training = model.training
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            output = model(**{k: v.to(device) for k, v in batch.items()})
        del output
    finally:
        model.train(was_training)
    return {
        "weights": weights,
        "gradients": trainable,
        "optimizer": 2 * trainable,
        "activations": sum(saved.values()),
    }
