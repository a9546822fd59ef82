"""Exercise checks of chapter 6 (SFT in practice): label-noise injection, choosing a configuration.

* ``check_flip_labels(fn)``: ``fn(labels, fraction, seed, num_labels) -> list[int]`` must change
  exactly ``fraction * n`` labels (rounded), each to a *different* label drawn at random, give
  the same output for the same seed, and leave its input alone.
* ``check_pick_best_config(fn)``: ``fn(results, config_columns, metric="val_accuracy") -> dict``
  must return the configuration with the best *mean validation* score over seeds, never the
  one that looks best on the test set or on one lucky seed.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from sft_helpers import experiments
from sft_helpers.checks.core import (
    call_learner,
    check,
    compare_types,
    compare_values,
    diagnose,
    fail_if,
    fresh_seed,
    passed,
)

__all__ = ["check_flip_labels", "check_pick_best_config"]


# ----------------------------------------------------------------------------------------------
# flip_labels
# ----------------------------------------------------------------------------------------------
def _call_flip(
    fn: Any, labels: list[int], fraction: float, seed: int, num_labels: int
) -> tuple[Any, list[int]]:
    """The learner's output and the (copied) input list as it was after the call."""

    def run(labels_copy: list[int]) -> tuple[Any, list[int]]:
        return fn(labels_copy, fraction, seed, num_labels), labels_copy

    got, after = call_learner(run, list(labels))
    return got, after


def _as_int_list(got: Any, n: int, num_labels: int, where: str) -> list[int]:
    if isinstance(got, np.ndarray):
        got = got.tolist()
    fail_if(compare_types(got, (list, tuple), name="return value"), "return a new list of labels")
    fail_if(
        f"your list has {len(got)} labels but the input had {n} {where}" if len(got) != n else None,
        "return one label per input label, in the same order",
    )
    bad = [
        y
        for y in got
        if isinstance(y, bool) or not isinstance(y, int | np.integer) or not 0 <= y < num_labels
    ]
    fail_if(
        f"your list contains {bad[:3]}, but labels must be ints in 0..{num_labels - 1} {where}"
        if bad
        else None,
        "a new label is one of range(num_labels) other than the old one",
    )
    return [int(y) for y in got]


@check("flip_labels (label noise)", references=[experiments.flip_labels])
def check_flip_labels(fn: Any) -> Any:
    """``fn(labels, fraction, seed, num_labels) -> list[int]`` with exactly fraction * n labels changed."""
    rng = random.Random(fresh_seed())
    cases = [(10, 0.3, 3), (200, 0.1, 3), (57, 0.0, 2), (40, 1.0, 4)]
    cases += [
        (rng.randint(30, 300), rng.choice([0.05, 0.1, 0.25, 0.3, 0.5, 0.7]), rng.choice([2, 3, 5]))
        for _ in range(8)
    ]
    for n, fraction, num_labels in cases:
        labels = [rng.randrange(num_labels) for _ in range(n)]
        seed = rng.randrange(10**6)
        where = f"(n={n}, fraction={fraction}, num_labels={num_labels}, seed={seed})"
        got, after = _call_flip(fn, labels, fraction, seed, num_labels)
        fail_if(
            f"your function changed its input list {where}" if after != labels else None,
            "copy first (new = list(labels)) and change the copy; the caller's data must stay clean",
        )
        got = _as_int_list(got, n, num_labels, where)
        changed = [i for i in range(n) if got[i] != labels[i]]
        target = fraction * n
        if abs(len(changed) - target) >= 1:
            hint = (
                "choose exactly round(fraction * len(labels)) positions (random.sample), then give each a "
                "label drawn from the OTHER labels; drawing from all labels sometimes 'flips' to the same one"
                if len(changed) < target
                else "the number of flips is fraction * len(labels), the number of examples, not of labels"
            )
            fail_if(
                f"your function changed {len(changed)} labels, but {target:g} should change {where}", hint
            )
        again = _as_int_list(_call_flip(fn, labels, fraction, seed, num_labels)[0], n, num_labels, where)
        fail_if(
            f"two calls with the same seed gave different labels {where}" if again != got else None,
            "make every random choice with random.Random(seed) (or a generator seeded with seed)",
        )
        if 0 < len(changed) < n - 1 and n >= 30:  # small lists could repeat by chance
            fail_if(
                f"you changed the first {len(changed)} labels, not randomly chosen ones {where}"
                if changed == list(range(len(changed)))
                else None,
                "pick the positions at random, e.g. random.Random(seed).sample(range(n), k)",
            )
            other = _as_int_list(
                _call_flip(fn, labels, fraction, seed + 1, num_labels)[0], n, num_labels, where
            )
            fail_if(
                f"seeds {seed} and {seed + 1} gave the same labels {where}" if other == got else None,
                "use the seed argument: a different seed must choose different positions",
            )
    # new labels drawn at random among the other labels, not a fixed rule such as (y + 1) % K
    n, num_labels = 3000, 3
    labels = [rng.randrange(num_labels) for _ in range(n)]
    got = _as_int_list(_call_flip(fn, labels, 0.5, 7, num_labels)[0], n, num_labels, "(n=3000, fraction=0.5)")
    pairs = Counter((labels[i], got[i]) for i in range(n) if got[i] != labels[i])
    for old in range(num_labels):
        counts = [pairs[(old, new)] for new in range(num_labels) if new != old]
        fail_if(
            f"labels {old} were flipped to the other labels {counts} times: not at random"
            if min(counts) < 0.25 * sum(counts)
            else None,
            "draw the new label uniformly from the labels other than the old one (e.g. rng.choice of them)",
        )
    return passed(
        f"exact number of flips, never to the same label, seeded, input untouched, on {len(cases)} random lists"
    )


# ----------------------------------------------------------------------------------------------
# pick_best_config
# ----------------------------------------------------------------------------------------------
def _best(frame: pd.DataFrame, columns: list[str], metric: str, how: str) -> dict[str, Any]:
    """What a few plausible mistakes choose."""
    if how == "single_row":
        row = frame.loc[frame[metric].idxmax()]
    else:
        means = frame.groupby(columns, sort=False)[metric].mean()
        key = means.idxmin() if how == "min" else means.idxmax()
        row = dict(zip(columns, key if isinstance(key, tuple) else (key,)))
    return {c: (row[c].item() if hasattr(row[c], "item") else row[c]) for c in columns}


def _results_table(rng: np.random.Generator, with_warmup: bool) -> tuple[pd.DataFrame, list[str], str]:
    """A run_grid-like table (3 seeds per configuration) built so that the best mean validation
    score, the best mean test score, the luckiest single run and (with ``with_warmup``) the best
    mean of the other validation metric each point to a different configuration."""
    axes: dict[str, list[Any]] = {"lr": [1e-5, 3e-5, 1e-4, 3e-4], "batch_size": [8, 32]}
    if with_warmup:
        axes["warmup"] = ["none", "10%"]
    metric = "val_macro_f1" if with_warmup else "val_accuracy"
    configs = experiments.grid(**axes)
    k = len(configs)
    right, test_best, lucky, other_best, worst = (int(i) for i in rng.choice(k, size=5, replace=False))
    top = rng.uniform(0.72, 0.85)

    def column(best: int, lucky_one: int | None = None) -> np.ndarray:
        """(k, 3) scores whose mean is highest for ``best`` and lowest for ``worst``; ``lucky_one`` has
        the highest single run."""
        means = rng.uniform(top - 0.25, top - 0.06, size=k)
        means[best], means[worst] = top, top - 0.3
        values = rng.uniform(-0.02, 0.02, size=(k, 3))
        values += means[:, None] - values.mean(axis=1, keepdims=True)
        if lucky_one is not None:
            values[lucky_one] = top - 0.03 + rng.permutation([0.1, -0.05, -0.05])
        return values

    scores = {metric: column(right, lucky), "test_accuracy": column(test_best)}
    other = "val_accuracy" if with_warmup else "val_macro_f1"
    scores[other] = column(other_best)
    rows = [
        {**config, "seed": seed, **{name: float(v[i, seed]) for name, v in scores.items()}}
        | {"seconds": float(rng.uniform(5, 50))}
        for i, config in enumerate(configs)
        for seed in range(3)
    ]
    frame = pd.DataFrame(rows)
    return (
        frame.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True),
        list(axes),
        metric,
    )


@check("pick_best_config (choose on validation)", references=[experiments.pick_best_config])
def check_pick_best_config(fn: Any) -> Any:
    """``fn(results, config_columns, metric="val_accuracy") -> dict`` of the best mean-validation config."""
    rng = np.random.default_rng(fresh_seed())
    tables = [_results_table(rng, with_warmup=i % 2 == 1) for i in range(6)]
    for frame, columns, metric in tables:
        expected = experiments.pick_best_config(frame, columns, metric)
        got = call_learner(fn, frame.copy(), list(columns), metric)
        where = f"(config columns {columns}, metric={metric!r}, {len(frame)} runs)"
        if isinstance(got, pd.Series):
            fail_if(
                f"you returned a pandas Series {where}",
                "return a plain dict: {column: value}, e.g. series.to_dict()",
            )
        fail_if(
            compare_types(got, dict, name="return value"), "return {column: value} for the config columns"
        )
        message = compare_values(dict(got), expected, name="chosen configuration")
        if message:
            variants = {
                "you chose by the TEST score: the test set must not choose anything, or its score stops being "
                "an honest estimate; average the validation column": _best(
                    frame, columns, "test_accuracy", "mean"
                ),
                "you chose the single best run; average each configuration over its seeds first (groupby + mean), "
                "one lucky seed is not a better configuration": _best(frame, columns, metric, "single_row"),
                "you chose the LOWEST score; for accuracy and F1 higher is better (idxmax)": _best(
                    frame, columns, metric, "min"
                ),
            }
            if metric != "val_accuracy":
                variants["use the metric argument; you averaged val_accuracy"] = _best(
                    frame, columns, "val_accuracy", "mean"
                )
            fail_if(
                f"{message} {where}; expected {expected}",
                diagnose(dict(got), variants)
                or "group the rows by the config columns, average the metric over seeds, take the best mean, "
                "and return only the config columns",
            )
    return passed(
        f"picked the best mean validation configuration in {len(tables)} result tables where test score "
        "and the luckiest single run pointed elsewhere"
    )
