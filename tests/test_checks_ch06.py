"""Chapter 6 checks: the reference passes, a stub fails, plausible wrong versions fail with advice."""

from __future__ import annotations

import random

import numpy as np

from sft_helpers import experiments
from sft_helpers.checks.ch06_practice import check_flip_labels, check_pick_best_config
from sft_helpers.checks.core import allow_reference


# ----------------------------------------------------------------------------- flip_labels versions
def good_flip(labels, fraction, seed, num_labels):
    rng = random.Random(seed)
    out = list(labels)
    for i in rng.sample(range(len(labels)), round(fraction * len(labels))):
        out[i] = rng.choice([y for y in range(num_labels) if y != labels[i]])
    return out


def flip_numpy(labels, fraction, seed, num_labels):
    gen = np.random.default_rng(seed)
    out = np.array(labels)
    idx = gen.choice(len(labels), size=int(fraction * len(labels) + 0.5), replace=False)
    out[idx] = (out[idx] + gen.integers(1, num_labels, size=len(idx))) % num_labels
    return out.tolist()


def flip_maybe_same(labels, fraction, seed, num_labels):
    rng = random.Random(seed)
    out = list(labels)
    for i in rng.sample(range(len(labels)), round(fraction * len(labels))):
        out[i] = rng.randrange(num_labels)  # sometimes the same label
    return out


def flip_each_with_probability(labels, fraction, seed, num_labels):
    rng = random.Random(seed)
    return [
        rng.choice([y for y in range(num_labels) if y != x]) if rng.random() < fraction else x for x in labels
    ]


def flip_wrong_base(labels, fraction, seed, num_labels):
    rng = random.Random(seed)
    out = list(labels)
    k = min(len(labels), round(fraction * 100))  # a percentage of 100, not of n
    for i in rng.sample(range(len(labels)), k):
        out[i] = rng.choice([y for y in range(num_labels) if y != labels[i]])
    return out


def flip_in_place(labels, fraction, seed, num_labels):
    rng = random.Random(seed)
    for i in rng.sample(range(len(labels)), round(fraction * len(labels))):
        labels[i] = rng.choice([y for y in range(num_labels) if y != labels[i]])
    return labels


def flip_unseeded(labels, fraction, seed, num_labels):
    rng = random.Random()
    out = list(labels)
    for i in rng.sample(range(len(labels)), round(fraction * len(labels))):
        out[i] = rng.choice([y for y in range(num_labels) if y != labels[i]])
    return out


def flip_next_label(labels, fraction, seed, num_labels):
    rng = random.Random(seed)
    out = list(labels)
    for i in rng.sample(range(len(labels)), round(fraction * len(labels))):
        out[i] = (labels[i] + 1) % num_labels  # always the same wrong label
    return out


def flip_first_k(labels, fraction, seed, num_labels):
    rng = random.Random(seed)
    out = list(labels)
    for i in range(round(fraction * len(labels))):
        out[i] = rng.choice([y for y in range(num_labels) if y != labels[i]])
    return out


def flip_stub(labels, fraction, seed, num_labels):
    raise NotImplementedError("choose positions, then new labels")


def test_flip_reference_and_good_versions_pass():
    with allow_reference():
        assert check_flip_labels(experiments.flip_labels).passed
    assert check_flip_labels(good_flip).passed
    assert check_flip_labels(flip_numpy).passed


def test_flip_stub_and_wrong_versions_fail():
    stub = check_flip_labels(flip_stub)
    assert not stub.passed and "not implemented" in stub.message
    expectations = {
        flip_maybe_same: "OTHER labels",
        flip_each_with_probability: "",
        flip_wrong_base: "",
        flip_in_place: "input",
        flip_unseeded: "seed",
        flip_next_label: "not at random",
        flip_first_k: "first",
    }
    for wrong, needle in expectations.items():
        result = check_flip_labels(wrong)
        assert not result.passed, wrong.__name__
        assert needle in result.message + result.hint, (wrong.__name__, str(result))


def test_flip_check_refuses_the_library_function():
    result = check_flip_labels(experiments.flip_labels)
    assert not result.passed and "reference" in result.message


# ----------------------------------------------------------------------------- pick_best_config versions
def good_pick(results, config_columns, metric="val_accuracy"):
    means = results.groupby(config_columns)[metric].mean()
    best = means.idxmax()
    best = best if isinstance(best, tuple) else (best,)
    return dict(zip(config_columns, best))


def pick_by_test(results, config_columns, metric="val_accuracy"):
    return good_pick(results, config_columns, "test_accuracy")


def pick_single_row(results, config_columns, metric="val_accuracy"):
    row = results.loc[results[metric].idxmax()]
    return {c: row[c] for c in config_columns}


def pick_lowest(results, config_columns, metric="val_accuracy"):
    means = results.groupby(config_columns)[metric].mean()
    return dict(zip(config_columns, means.idxmin()))


def pick_whole_row(results, config_columns, metric="val_accuracy"):
    means = results.groupby(config_columns, as_index=False)[metric].mean()
    return means.loc[means[metric].idxmax()].to_dict()


def pick_series(results, config_columns, metric="val_accuracy"):
    means = results.groupby(config_columns, as_index=False)[metric].mean()
    return means.loc[means[metric].idxmax(), config_columns]


def pick_ignores_metric(results, config_columns, metric="val_accuracy"):
    return good_pick(results, config_columns, "val_accuracy")


def pick_stub(results, config_columns, metric="val_accuracy"):
    raise NotImplementedError("groupby, mean, idxmax")


def test_pick_reference_and_good_version_pass():
    with allow_reference():
        assert check_pick_best_config(experiments.pick_best_config).passed
    assert check_pick_best_config(good_pick).passed


def test_pick_stub_and_wrong_versions_fail():
    stub = check_pick_best_config(pick_stub)
    assert not stub.passed and "not implemented" in stub.message
    expectations = {
        pick_by_test: "TEST",
        pick_single_row: "single best run",
        pick_lowest: "LOWEST",
        pick_whole_row: "keys",
        pick_series: "Series",
        pick_ignores_metric: "",
    }
    for wrong, needle in expectations.items():
        result = check_pick_best_config(wrong)
        assert not result.passed, wrong.__name__
        assert needle in result.message + result.hint, (wrong.__name__, str(result))


# ----------------------------------------------------------------------------- LoRALinear versions
import math  # noqa: E402

import torch  # noqa: E402

from sft_helpers.checks.ch06_practice import check_lora_linear  # noqa: E402


class GoodLoRA(torch.nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.base.requires_grad_(False)
        self.lora_A = torch.nn.Parameter(torch.randn(r, base.in_features) / math.sqrt(base.in_features))
        self.lora_B = torch.nn.Parameter(torch.zeros(base.out_features, r))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.scaling * (x @ self.lora_A.T) @ self.lora_B.T


class LoRAAsLinears(torch.nn.Module):  # factors as nn.Linear layers without bias: also right
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        for p in base.parameters():
            p.requires_grad = False
        self.lora_A = torch.nn.Linear(base.in_features, r, bias=False)
        self.lora_B = torch.nn.Linear(r, base.out_features, bias=False)
        torch.nn.init.zeros_(self.lora_B.weight)
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.scaling * self.lora_B(self.lora_A(x))


class LoRANoScale(GoodLoRA):
    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.T) @ self.lora_B.T


class LoRAAlphaScale(GoodLoRA):
    def forward(self, x):
        return self.base(x) + self.scaling * self.lora_A.shape[0] * (x @ self.lora_A.T) @ self.lora_B.T


class LoRABothZero(GoodLoRA):
    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        torch.nn.init.zeros_(self.lora_A)


class LoRARandomB(GoodLoRA):
    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        torch.nn.init.normal_(self.lora_B)


class LoRANotFrozen(GoodLoRA):
    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        self.base.requires_grad_(True)


class LoRATransposed(torch.nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.lora_A = torch.nn.Parameter(torch.randn(base.in_features, r))
        self.lora_B = torch.nn.Parameter(torch.zeros(r, base.out_features))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + self.scaling * x @ self.lora_A @ self.lora_B


class LoRANoBias(GoodLoRA):
    def forward(self, x):
        return x @ self.base.weight.T + self.scaling * (x @ self.lora_A.T) @ self.lora_B.T


class LoRADetached(GoodLoRA):
    def forward(self, x):
        return self.base(x) + self.scaling * (x @ self.lora_A.detach().T) @ self.lora_B.detach().T


class LoRAStub(torch.nn.Module):
    def __init__(self, base, r, alpha):
        raise NotImplementedError("wrap the layer")


def test_lora_reference_and_good_versions_pass():
    with allow_reference():
        assert check_lora_linear(experiments.LoRALinear).passed
    assert check_lora_linear(GoodLoRA).passed
    assert check_lora_linear(LoRAAsLinears).passed


def test_lora_stub_and_wrong_versions_fail_with_advice():
    stub = check_lora_linear(LoRAStub)
    assert not stub.passed and "not implemented" in stub.message
    expectations = {
        LoRANoScale: "not scaled",
        LoRAAlphaScale: "alpha / r",
        LoRABothZero: "never learns",
        LoRARandomB: "initialise B with zeros",
        LoRANotFrozen: "still train",
        LoRATransposed: "(out_features, r)",
        LoRANoBias: "bias",
        LoRADetached: "gradient",
    }
    for wrong, needle in expectations.items():
        result = check_lora_linear(wrong)
        assert not result.passed, wrong.__name__
        assert needle in result.message + result.hint, (wrong.__name__, str(result))


def test_lora_check_refuses_the_library_class():
    result = check_lora_linear(experiments.LoRALinear)
    assert not result.passed and "reference" in result.message
