"""The chapter 2 and 3 checks: the reference passes, stubs and plausible mistakes fail with a useful hint."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from sft_helpers import attention, blocks, checks
from sft_helpers.checks.core import CheckResult, allow_reference


# ---------------------------------------------------------------- learner-like implementations
def good_sdpa(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)
    return weights @ v, weights


def _sdpa(scale=None, axis=-1, use_mask=True, invert=False, fill=-1e9, zero_rows=True):
    def fn(q, k, v, mask=None):
        d = q.shape[-1]
        scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(d) if scale is None else scale(d))
        if mask is not None and use_mask:
            allowed = ~mask if invert else mask
            scores = scores.masked_fill(~allowed, fill)
        weights = torch.softmax(scores, dim=axis)
        if mask is not None and use_mask and zero_rows:
            weights = weights * (~mask if invert else mask)
        return weights @ v, weights

    return fn


def stub(*args, **kwargs):
    raise NotImplementedError("write this function")


WRONG_SDPA = {
    "no scaling": (_sdpa(scale=lambda d: 1.0), "sqrt(d)"),
    "scaled by d": (_sdpa(scale=lambda d: 1 / d), "divided by d"),
    "softmax over queries": (_sdpa(axis=-2), "last axis"),
    "mask ignored": (_sdpa(use_mask=False), "mask is ignored"),
    "mask inverted": (_sdpa(invert=True), "inverted"),
    "mask inverted, -inf": (_sdpa(invert=True, fill=float("-inf"), zero_rows=False), ""),
    "fully masked rows uniform": (_sdpa(zero_rows=False), "multiply the weights by the mask"),
    "fully masked rows NaN": (_sdpa(fill=float("-inf"), zero_rows=False), "NaN"),
    "k not transposed": (lambda q, k, v, mask=None: good_sdpa(q, k.transpose(-2, -1), v, mask), ""),
    "returns output only": (lambda q, k, v, mask=None: good_sdpa(q, k, v, mask)[0], "return output, weights"),
    "float32 constant": (
        lambda q, k, v, mask=None: tuple(t.float() for t in good_sdpa(q, k, v, mask)),
        "dtype",
    ),
    "hard-coded": (lambda q, k, v, mask=None: (torch.zeros(2, 5, 8), torch.zeros(2, 5, 5)), ""),
}


@pytest.fixture(autouse=True)
def _no_grader_file(monkeypatch):
    monkeypatch.delenv("SFT_CHECK_RESULTS", raising=False)


def _assert_fails(result, hint_words=""):
    assert isinstance(result, CheckResult)
    assert result.passed is False, f"a wrong version passed: {result}"
    assert result.message
    if hint_words:
        assert hint_words in result.hint + result.message, f"hint should mention {hint_words!r}: {result}"


# ---------------------------------------------------------------- chapter 2
def test_sdpa_reference_and_a_learner_solution_pass():
    with allow_reference():
        assert checks.check_scaled_dot_product_attention(attention.scaled_dot_product_attention).passed
    for _ in range(3):  # fresh inputs each time
        result = checks.check_scaled_dot_product_attention(good_sdpa)
        assert result.passed, str(result)


def test_sdpa_reference_itself_is_refused():
    _assert_fails(
        checks.check_scaled_dot_product_attention(attention.scaled_dot_product_attention), "reference"
    )
    wrapper = lambda q, k, v, mask=None: attention.scaled_dot_product_attention(q, k, v, mask)  # noqa: E731
    _assert_fails(checks.check_scaled_dot_product_attention(wrapper))


def test_sdpa_stub_fails_without_raising():
    _assert_fails(checks.check_scaled_dot_product_attention(stub), "")
    assert "not implemented" in checks.check_scaled_dot_product_attention(stub).message.lower()


@pytest.mark.parametrize("mistake", sorted(WRONG_SDPA))
def test_sdpa_mistakes_fail_with_a_hint(mistake):
    fn, words = WRONG_SDPA[mistake]
    _assert_fails(checks.check_scaled_dot_product_attention(fn), words)


def test_sdpa_check_does_not_modify_inputs_or_global_rng():
    def mutating(q, k, v, mask=None):
        out = good_sdpa(q, k, v, mask)
        q.zero_()
        return out

    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    assert checks.check_scaled_dot_product_attention(mutating).passed
    assert torch.equal(torch.rand(3), before)


def good_split(x, n_heads):
    b, s, d = x.shape
    return x.view(b, s, n_heads, d // n_heads).transpose(1, 2)


def good_merge(x):
    b, h, s, dh = x.shape
    return x.transpose(1, 2).reshape(b, s, h * dh)


def test_head_checks_pass_on_solutions():
    assert checks.check_split_heads(good_split).passed
    assert checks.check_merge_heads(good_merge).passed
    with allow_reference():
        assert checks.check_split_heads(attention.split_heads).passed
        assert checks.check_merge_heads(attention.merge_heads).passed


@pytest.mark.parametrize(
    "fn, words",
    [
        (stub, ""),
        (lambda x, n: x.reshape(x.shape[0], n, x.shape[1], -1), "view as"),
        (lambda x, n: x.view(x.shape[0], x.shape[1], -1, n).permute(0, 3, 1, 2), "(d_head, n_heads)"),
        (lambda x, n: x.view(x.shape[0], x.shape[1], n, -1), "transpose"),
        (lambda x, n: x.view(x.shape[0], x.shape[1], n, -1).permute(0, 2, 3, 1), ""),
    ],
)
def test_split_heads_mistakes_fail(fn, words):
    _assert_fails(checks.check_split_heads(fn), words)


@pytest.mark.parametrize(
    "fn, words",
    [
        (stub, ""),
        (lambda x: x.reshape(x.shape[0], x.shape[2], -1), "without the transpose"),
        (lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1), "wrong order"),
        (lambda x: x.transpose(1, 2).view(x.shape[0], x.shape[2], -1), "reshape"),
        (lambda x: x.transpose(1, 2), ""),
    ],
)
def test_merge_heads_mistakes_fail(fn, words):
    _assert_fails(checks.check_merge_heads(fn), words)


class GoodMHSA(torch.nn.Module):
    """What a learner writes: four projections, the learner's own split / attend / merge."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            torch.nn.Linear(d_model, d_model) for _ in range(4)
        )
        self.last_attention = None

    def heads(self, x):
        return self.q_proj(x), self.k_proj(x), self.v_proj(x)

    def attend(self, x, mask, heads=None, scale=None):
        h = heads or self.n_heads
        q, k, v = (good_split(t, h) for t in self.heads(x))
        if scale is not None:
            q = q * scale(q.shape[-1], x.shape[-1])
        out, weights = good_sdpa(q, k, v, mask)
        self.last_attention = weights.detach()
        return good_merge(out)

    def forward(self, x, mask=None):
        return self.out_proj(self.attend(x, mask))


class NoOutProj(GoodMHSA):
    def forward(self, x, mask=None):
        return self.attend(x, mask)


class OneHead(GoodMHSA):
    def forward(self, x, mask=None):
        return self.out_proj(self.attend(x, mask, heads=1))


class ScaledByModelWidth(GoodMHSA):
    def forward(self, x, mask=None):
        return self.out_proj(self.attend(x, mask, scale=lambda dh, dm: math.sqrt(dh) / math.sqrt(dm)))


class SwappedKV(GoodMHSA):
    def heads(self, x):
        return self.q_proj(x), self.v_proj(x), self.k_proj(x)


class IgnoresMask(GoodMHSA):
    def forward(self, x, mask=None):
        return self.out_proj(self.attend(x, None))


class ReturnsTuple(GoodMHSA):
    def forward(self, x, mask=None):
        return self.out_proj(self.attend(x, mask)), self.last_attention


class NoWeightsKept(GoodMHSA):
    def forward(self, x, mask=None):
        out = self.out_proj(self.attend(x, mask))
        self.last_attention = None
        return out


class AveragedWeights(GoodMHSA):
    def forward(self, x, mask=None):
        out = self.out_proj(self.attend(x, mask))
        self.last_attention = self.last_attention.mean(1)
        return out


class DetachedValues(GoodMHSA):
    def heads(self, x):
        return self.q_proj(x), self.k_proj(x), self.v_proj(x).detach()


class MinusInfMask(GoodMHSA):
    def attend(self, x, mask, heads=None, scale=None):
        q, k, v = (good_split(t, self.n_heads) for t in self.heads(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, -1)
        self.last_attention = weights.detach()
        return good_merge(weights @ v)


class PerHeadLayers(GoodMHSA):
    def __init__(self, d_model, n_heads):
        super().__init__(d_model, n_heads)
        self.extra = torch.nn.ModuleList(torch.nn.Linear(d_model, d_model) for _ in range(n_heads))


class NamedDifferently(torch.nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.inner = GoodMHSA(d_model, n_heads)

    def forward(self, x, mask=None):
        return self.inner(x, mask)


class WrapsTorch(torch.nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            torch.nn.Linear(d_model, d_model) for _ in range(4)
        )
        self.n_heads = n_heads

    def forward(self, x, mask=None):
        mha = torch.nn.MultiheadAttention(x.shape[-1], self.n_heads, batch_first=True)
        return mha(x, x, x)[0]


def test_mhsa_check_passes_a_learner_class_and_the_reference_only_when_allowed():
    for _ in range(2):  # fresh sizes and weights each time
        result = checks.check_multi_head_self_attention(GoodMHSA)
        assert result.passed, str(result)
    with allow_reference():
        assert checks.check_multi_head_self_attention(attention.MultiHeadSelfAttention).passed
    _assert_fails(checks.check_multi_head_self_attention(attention.MultiHeadSelfAttention), "reference")


def test_mhsa_check_passes_with_the_learners_own_attention_function_from_a_notebook():
    """The class calls module-level functions (as in the notebook), here the chapter's solutions."""

    class FromPieces(torch.nn.Module):
        def __init__(self, d_model, n_heads):
            super().__init__()
            self.n_heads = n_heads
            self.q_proj = torch.nn.Linear(d_model, d_model)
            self.k_proj = torch.nn.Linear(d_model, d_model)
            self.v_proj = torch.nn.Linear(d_model, d_model)
            self.out_proj = torch.nn.Linear(d_model, d_model)

        def forward(self, x, mask=None):
            q = good_split(self.q_proj(x), self.n_heads)
            k = good_split(self.k_proj(x), self.n_heads)
            v = good_split(self.v_proj(x), self.n_heads)
            out, self.last_attention = good_sdpa(q, k, v, mask)
            return self.out_proj(good_merge(out))

    assert checks.check_multi_head_self_attention(FromPieces).passed


@pytest.mark.parametrize(
    "cls, words",
    [
        (stub, "not implemented"),
        (NoOutProj, "out_proj"),
        (OneHead, "one wide head"),
        (ScaledByModelWidth, "sqrt(d_head)"),
        (SwappedKV, "swapped"),
        (IgnoresMask, "mask is not used"),
        (ReturnsTuple, "last_attention"),
        (NoWeightsKept, "last_attention"),
        (AveragedWeights, "per head"),
        (DetachedValues, "gradient"),
        (MinusInfMask, "NaN"),
        (PerHeadLayers, "extra parameters"),
        (NamedDifferently, "q_proj"),
        (WrapsTorch, ""),
    ],
    ids=lambda v: getattr(v, "__name__", str(v))[:30],
)
def test_mhsa_mistakes_fail_with_a_hint(cls, words):
    result = checks.check_multi_head_self_attention(cls)
    _assert_fails(result)
    if words:
        assert words.lower() in (result.message + result.hint).lower(), str(result)


def test_mhsa_check_refuses_nn_multihead_attention_inside():
    result = checks.check_multi_head_self_attention(WrapsTorch)
    assert "reference" in (result.message + result.hint) or "differ" in result.message, str(result)


# ---------------------------------------------------------------- chapter 3
def good_layer_norm(x, weight, bias, eps=1e-12):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def test_layer_norm_check_passes_on_solutions():
    assert checks.check_layer_norm(good_layer_norm).passed
    with allow_reference():
        assert checks.check_layer_norm(blocks.layer_norm).passed


@pytest.mark.parametrize(
    "fn, words",
    [
        (stub, ""),
        (
            lambda x, w, b, eps: (
                (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + eps) * w + b
            ),
            "biased",
        ),
        (
            lambda x, w, b, eps: (
                (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True, unbiased=False) + eps) * w + b
            ),
            "inside the square root",
        ),
        (lambda x, w, b, eps: good_layer_norm(x, torch.ones_like(w), torch.zeros_like(b), eps), "weight"),
        (lambda x, w, b, eps: F.layer_norm(x, x.shape[-1:], w, b, eps), "reference"),
        (lambda x, w, b, eps: good_layer_norm(x, b, w, eps), "order"),
        (
            lambda x, w, b, eps: good_layer_norm(x.transpose(0, -1), w[:, None], b[:, None], eps).transpose(
                0, -1
            ),
            "",
        ),
        (
            lambda x, w, b, eps: (
                (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True, unbiased=False) * w + b
            ),
            "",
        ),
        (lambda x, w, b, eps: x.clone(), ""),
    ],
)
def test_layer_norm_mistakes_fail(fn, words):
    _assert_fails(checks.check_layer_norm(fn), words)


def good_feed_forward(x, w1, b1, w2, b2):
    return F.gelu(x @ w1.T + b1) @ w2.T + b2


def test_feed_forward_check_passes_on_solutions():
    assert checks.check_feed_forward(good_feed_forward).passed
    assert checks.check_feed_forward(
        lambda x, w1, b1, w2, b2: F.linear(F.gelu(F.linear(x, w1, b1)), w2, b2)
    ).passed
    with allow_reference():
        assert checks.check_feed_forward(blocks.feed_forward).passed


@pytest.mark.parametrize(
    "fn, words",
    [
        (stub, ""),
        (lambda x, w1, b1, w2, b2: F.relu(x @ w1.T + b1) @ w2.T + b2, "ReLU"),
        (lambda x, w1, b1, w2, b2: F.gelu(x @ w1.T + b1, approximate="tanh") @ w2.T + b2, "exact"),
        (lambda x, w1, b1, w2, b2: F.gelu(x @ w1 + b1) @ w2 + b2, ""),
        (lambda x, w1, b1, w2, b2: (x @ w1.T + b1) @ w2.T + b2, "activation"),
        (lambda x, w1, b1, w2, b2: F.gelu(x @ w1.T + b1) @ w2.T, "b2"),
        (lambda x, w1, b1, w2, b2: F.gelu((x @ w1.T + b1) @ w2.T + b2), "between"),
    ],
)
def test_feed_forward_mistakes_fail(fn, words):
    _assert_fails(checks.check_feed_forward(fn), words)


def test_checks_report_a_hanging_function():
    def hangs(q, k, v, mask=None):
        while True:
            pass

    import sft_helpers.checks.core as core

    old = core.DEFAULT_TIMEOUT
    core.DEFAULT_TIMEOUT = 1.0
    try:
        result = checks.check_scaled_dot_product_attention(hangs)
    finally:
        core.DEFAULT_TIMEOUT = old
    _assert_fails(result, "")
    assert "finish" in result.message


def test_checks_are_registered_with_names():
    from sft_helpers.checks.core import registered_checks

    names = registered_checks()
    for fn in (
        "check_scaled_dot_product_attention",
        "check_split_heads",
        "check_merge_heads",
        "check_multi_head_self_attention",
    ):
        assert fn in names
    assert names["check_layer_norm"] == "layer norm" and "check_feed_forward" in names
