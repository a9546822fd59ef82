"""Exercise checks of chapter 6 (SFT in practice): label noise, choosing a configuration, LoRA by hand.

* ``check_flip_labels(fn)``: ``fn(labels, fraction, seed, num_labels) -> list[int]`` must change
  exactly ``fraction * n`` labels (rounded), each to a *different* label drawn at random, give
  the same output for the same seed, and leave its input alone.
* ``check_pick_best_config(fn)``: ``fn(results, config_columns, metric="val_accuracy") -> dict``
  must return the configuration with the best *mean validation* score over seeds, never the
  one that looks best on the test set or on one lucky seed.
* ``check_lora_linear(cls)``: ``cls(base: nn.Linear, r, alpha)`` must keep ``base`` frozen, add
  trainable ``lora_A`` ``(r, in_features)`` and ``lora_B`` ``(out_features, r)`` with ``B = 0`` at
  the start, and compute ``base(x) + (alpha / r) x A^T B^T``: with the same weights as peft's LoRA
  layer it must give the same outputs, and a tiny BERT classifier adapted with it must have the
  same trainable parameter count and logits as the same model adapted by peft.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import torch

from sft_helpers.checks import references as _ref
from sft_helpers.checks.core import (
    CheckFailed,
    call_learner,
    check,
    compare_tensors,
    compare_types,
    compare_values,
    diagnose,
    fail_if,
    fresh_generator,
    fresh_seed,
    passed,
)

__all__ = ["check_flip_labels", "check_pick_best_config", "check_lora_linear"]


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


@check("flip_labels (label noise)", references=[_ref.flip_labels])
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
    configs = _ref.grid(**axes)
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


@check("pick_best_config (choose on validation)", references=[_ref.pick_best_config])
def check_pick_best_config(fn: Any) -> Any:
    """``fn(results, config_columns, metric="val_accuracy") -> dict`` of the best mean-validation config."""
    rng = np.random.default_rng(fresh_seed())
    tables = [_results_table(rng, with_warmup=i % 2 == 1) for i in range(6)]
    for frame, columns, metric in tables:
        expected = _ref.pick_best_config(frame, columns, metric)
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


# ----------------------------------------------------------------------------------------------
# LoRALinear
# ----------------------------------------------------------------------------------------------
def _lora_parameters(layer: Any, base: torch.nn.Linear, r: int, where: str) -> tuple[Any, Any]:
    for name in ("lora_A", "lora_B"):
        fail_if(
            f"your layer has no attribute {name} {where}" if not hasattr(layer, name) else None,
            "store the two low-rank factors as nn.Parameter attributes named lora_A and lora_B",
        )
    a, b = layer.lora_A, layer.lora_B
    a, b = getattr(a, "weight", a), getattr(b, "weight", b)  # nn.Linear factors are accepted too
    fail_if(
        "lora_A / lora_B are not nn.Parameter (or nn.Linear) objects, so they do not train"
        if not (isinstance(a, torch.nn.Parameter) and isinstance(b, torch.nn.Parameter))
        else None,
        "wrap each factor in nn.Parameter so that model.parameters() (and the optimizer) sees it",
    )
    want_a, want_b = (r, base.in_features), (base.out_features, r)
    if tuple(a.shape) != want_a or tuple(b.shape) != want_b:
        swapped = tuple(a.shape) == want_b[::-1] or tuple(b.shape) == want_a[::-1]
        raise CheckFailed(
            f"lora_A has shape {tuple(a.shape)} and lora_B {tuple(b.shape)}, but {want_a} and {want_b} "
            f"were expected {where}",
            "A maps the input down to r numbers: (r, in_features); B maps them back up: (out_features, r), "
            "the (out, in) layout of nn.Linear's weight" + (" (yours look transposed)" if swapped else ""),
        )
    return a, b


def _check_lora_case(cls: Any, gen: torch.Generator, d_in: int, d_out: int, r: int, alpha: float) -> None:
    """One layer size: construction, freezing, start at the base, peft's outputs, gradients."""
    where = f"(nn.Linear({d_in}, {d_out}), r={r}, alpha={alpha})"
    base = torch.nn.Linear(d_in, d_out)
    with torch.no_grad():
        base.weight.copy_(torch.randn(d_out, d_in, generator=gen) / d_in**0.5)
        base.bias.copy_(torch.randn(d_out, generator=gen))
    layer = call_learner(cls, base, r, alpha)
    fail_if(
        compare_types(layer, torch.nn.Module, name="object"),
        "LoRALinear is an nn.Module: subclass nn.Module and call super().__init__() first",
    )
    a, b = _lora_parameters(layer, base, r, where)
    own = {id(p) for p in (a, b)}
    frozen_bad = [n for n, p in layer.named_parameters() if id(p) not in own and p.requires_grad]
    fail_if(
        f"these parameters of your layer still train: {frozen_bad} {where}" if frozen_bad else None,
        "the pretrained weight and bias must stay fixed: set requires_grad to False on the wrapped "
        "layer's parameters; only the two factors train",
    )
    fail_if(
        "lora_A or lora_B does not require gradients " + where
        if not (a.requires_grad and b.requires_grad)
        else None,
        "the two factors are the only trainable part: leave requires_grad=True on them",
    )
    trainable = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    fail_if(
        f"your layer has {trainable} trainable parameters, but r * (in + out) = {r * (d_in + d_out)} "
        f"were expected {where}"
        if trainable != r * (d_in + d_out)
        else None,
        "only A (r x in) and B (out x r) train",
    )
    x = torch.randn(3, 5, d_in, generator=gen)
    layer.eval()
    with torch.no_grad():
        start = call_learner(lambda t: layer(t), x)
    with torch.no_grad():
        base_out = base(x)
    fail_if(
        compare_tensors(start, base_out, name="output before training"),
        diagnose(
            start,
            {
                "the bias is missing: call the wrapped nn.Linear itself (weight AND bias)": x @ base.weight.T,
                "you return only the low-rank update: add the wrapped layer's output": torch.zeros_like(
                    base_out
                ),
            },
        )
        or "at the start the adapted layer must compute exactly what the pretrained one did: "
        "initialise B with zeros (and A at random), so B A = 0",
    )
    fail_if(
        f"lora_A is all zeros at the start {where}" if bool((a == 0).all()) else None,
        "if A and B both start at zero, the gradient of each is zero (it is multiplied by the other): "
        "the adapter never learns. Only B starts at zero; A starts random (e.g. Kaiming uniform)",
    )
    # same weights as peft's layer -> same outputs
    reference = _ref.peft_lora_layer(base, r, alpha)
    ref_layer = reference.base_model.model.lin
    with torch.no_grad():
        ref_layer.lora_A["default"].weight.copy_(torch.randn(r, d_in, generator=gen))
        ref_layer.lora_B["default"].weight.copy_(torch.randn(d_out, r, generator=gen) * 0.1)
        a.copy_(ref_layer.lora_A["default"].weight)
        b.copy_(ref_layer.lora_B["default"].weight)
        expected = reference(x)
        got = call_learner(lambda t: layer(t), x)
        delta = x @ a.T @ b.T
    message = compare_tensors(got, expected, name="output with peft's weights", atol=1e-5, rtol=1e-4)
    if message:
        raise CheckFailed(
            f"{message} {where}",
            diagnose(
                got,
                {
                    "the update is not scaled: multiply B A x by alpha / r": lambda: base(x) + delta,
                    "the scaling is alpha, it should be alpha / r": lambda: base(x) + alpha * delta,
                    "the scaling is r / alpha, it should be alpha / r": lambda: base(x) + r / alpha * delta,
                    "you return only the update: add the frozen layer's output base(x)": lambda: (
                        alpha / r * delta
                    ),
                    "the bias is missing: call the wrapped nn.Linear (weight AND bias)": lambda: (
                        x @ base.weight.T + alpha / r * delta
                    ),
                },
            )
            or "output = base(x) + (alpha / r) * (x @ A^T) @ B^T",
        )
    # gradients reach the factors only
    layer.train()
    layer.zero_grad(set_to_none=True)
    out = call_learner(lambda t: layer(t), x)
    fail_if(
        f"your output does not depend on lora_A / lora_B through autograd {where}"
        if not getattr(out, "requires_grad", False)
        else None,
        "no gradient can reach the factors: use the parameters themselves in forward "
        "(no .detach(), no torch.no_grad())",
    )
    out.pow(2).sum().backward()
    fail_if(
        f"no gradient reached lora_A / lora_B {where}" if a.grad is None or b.grad is None else None,
        "use the parameters themselves in forward (no .detach(), no torch.no_grad())",
    )


@check(
    "LoRALinear (LoRA by hand)",
    references=[_ref.LoRALinear, "peft.tuners.lora.layer.Linear"],
)
def check_lora_linear(cls: Any) -> Any:
    """``cls(base, r, alpha)``: frozen base + (alpha / r) * B A, B = 0 at the start; same as peft."""
    gen = fresh_generator()
    cases = [(12, 10, 4, 8), (16, 16, 2, 2), (20, 7, 8, 32)]
    for d_in, d_out, r, alpha in cases:
        _check_lora_case(cls, gen, d_in, d_out, r, alpha)
    # a tiny BERT classifier: same trainable count and logits as peft's
    from sft_helpers import experiments as ex

    got_count, want_count, logits, want_logits = _tiny_bert_comparison(cls, gen)
    fail_if(
        f"a tiny BERT adapted with your class has {got_count} trainable parameters, peft's {want_count}"
        if got_count != want_count
        else None,
        "only the adapters (and the classification head, which inject_lora unfreezes) may train",
    )
    fail_if(
        compare_tensors(logits, want_logits, name="tiny BERT logits with peft's adapter weights"),
        "with the same A and B in every query and value layer the model must give peft's logits",
    )
    del ex
    return passed(
        f"frozen base, B = 0 at the start, same outputs as peft's LoRA on {len(cases)} layers (ranks 2-8), "
        f"same trainable parameters ({got_count}) and logits on a tiny BERT"
    )


def _tiny_bert_comparison(cls: Any, gen: torch.Generator) -> tuple[int, int, torch.Tensor, torch.Tensor]:
    import copy

    BertConfig = _ref.third_party("transformers.BertConfig")  # noqa: N806
    BertForSequenceClassification = _ref.third_party("transformers.BertForSequenceClassification")  # noqa: N806

    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        num_labels=3,
    )
    torch.manual_seed(int(torch.randint(0, 10**6, (1,), generator=gen)))
    model = BertForSequenceClassification(config).eval()
    peft_model = _ref.add_lora(copy.deepcopy(model), r=4, alpha=8, dropout=0.0).eval()
    mine = call_learner(lambda m: _ref.inject_lora(m, cls, r=4, alpha=8), copy.deepcopy(model)).eval()
    count = _ref.count_parameters(mine)["trainable"]
    want = _ref.count_parameters(peft_model)["trainable"]
    with torch.no_grad():
        for name, module in peft_model.named_modules():
            if hasattr(module, "lora_A") and isinstance(module.lora_A, torch.nn.ModuleDict):
                module.lora_B["default"].weight.normal_(0, 0.5, generator=gen)
                path = name.split("base_model.model.", 1)[-1]
                target = mine.get_submodule(path)
                a = getattr(target.lora_A, "weight", target.lora_A)
                b = getattr(target.lora_B, "weight", target.lora_B)
                a.copy_(module.lora_A["default"].weight)
                b.copy_(module.lora_B["default"].weight)
        ids = torch.randint(0, 50, (2, 7), generator=gen)
        want_logits = peft_model(input_ids=ids).logits
        logits = call_learner(lambda m, t: m(input_ids=t).logits, mine, ids)
    return count, want, logits, want_logits
