"""A submission cannot make a check compare its code with itself by rebinding the reference.

Each test swaps a name the checks rely on, the way a cell of a forged submission would, and
asserts the check fails and names what was swapped (on the code before issue 17 item 3 these
checks passed: they looked the reference up by its public name).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

from sft_helpers import attention, checks
from sft_helpers.checks import integrity, references


def wrong_split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """A plausible wrong answer: heads taken from the wrong axis order."""
    b, s, d = x.shape
    return x.reshape(b, n_heads, s, d // n_heads)


def wrong_sdpa(q, k, v, mask=None):
    """Attention without the 1/sqrt(d) scaling."""
    scores = q @ k.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, -1e9)
    weights = torch.softmax(scores, -1)
    if mask is not None:
        weights = weights * mask
    return weights @ v, weights


@pytest.fixture(autouse=True)
def clean_snapshot():
    """Every test starts and ends with nothing swapped (monkeypatch undoes each swap)."""
    assert integrity.rebound() == []
    yield
    assert integrity.rebound() == [], "a test left a swapped name behind"


def test_the_wrong_answers_fail_when_nothing_is_swapped():
    assert not checks.check_split_heads(wrong_split_heads).passed
    assert not checks.check_scaled_dot_product_attention(wrong_sdpa).passed


def test_rebinding_the_library_reference_does_not_make_a_wrong_answer_pass(monkeypatch):
    monkeypatch.setattr(attention, "split_heads", wrong_split_heads)
    result = checks.check_split_heads(wrong_split_heads)
    assert not result.passed
    assert (
        "sft_helpers.attention.split_heads (now wrong_split_heads, defined in the notebook)" in result.message
    )
    assert "cannot be trusted" in result.message and "restart the kernel" in result.hint
    # the check computes its expected values from the reference captured at import
    assert references.split_heads is not wrong_split_heads
    assert references.split_heads.__module__ == "sft_helpers.attention"


def test_a_rebinding_fails_every_later_check_not_only_its_own(monkeypatch):
    def good_merge_heads(x):
        b, h, s, d = x.shape
        return x.transpose(1, 2).reshape(b, s, h * d)

    assert checks.check_merge_heads(good_merge_heads).passed
    monkeypatch.setattr(attention, "scaled_dot_product_attention", wrong_sdpa)
    result = checks.check_merge_heads(good_merge_heads)
    assert not result.passed and "scaled_dot_product_attention" in result.message


def test_replacing_the_code_of_the_reference_is_noticed(monkeypatch):
    monkeypatch.setattr(attention.split_heads, "__code__", wrong_split_heads.__code__)
    result = checks.check_split_heads(wrong_split_heads)
    assert not result.passed and "split_heads (its __code__ was replaced)" in result.message


def test_swapping_a_method_of_the_reference_class_is_noticed(monkeypatch):
    monkeypatch.setattr(attention.MultiHeadSelfAttention, "forward", lambda self, x, mask=None: x)
    assert "sft_helpers.attention.MultiHeadSelfAttention.forward (now" in " ".join(integrity.rebound())
    result = checks.check_split_heads(wrong_split_heads)
    assert not result.passed and "MultiHeadSelfAttention.forward" in result.message


def test_rebinding_torch_functions_the_checks_compute_with_is_noticed(monkeypatch):
    def my_layer_norm(x, shape, weight=None, bias=None, eps=1e-5):
        return x  # wrong, and now also "F.layer_norm"

    monkeypatch.setattr(torch.nn.functional, "layer_norm", my_layer_norm)
    result = checks.check_layer_norm(lambda x, w, b, eps: my_layer_norm(x, x.shape[-1:], w, b, eps))
    assert not result.passed and "torch.nn.functional.layer_norm" in result.message


def test_a_learner_function_that_swaps_the_reference_while_it_runs_fails(monkeypatch):
    def sneaky(x, n_heads):
        monkeypatch.setattr(attention, "split_heads", wrong_split_heads)
        return wrong_split_heads(x, n_heads)

    result = checks.check_split_heads(sneaky)
    assert not result.passed and "sft_helpers.attention.split_heads" in result.message


def test_forging_a_check_function_is_reported(monkeypatch):
    from sft_helpers.checks import CheckResult

    monkeypatch.setattr(checks, "check_split_heads", lambda fn: CheckResult(True, "forged"))
    assert any(
        n.startswith("sft_helpers.checks.check_split_heads (now ")
        and "<lambda>, defined in the notebook" in n
        for n in integrity.rebound()
    )


def test_a_late_third_party_reference_is_watched_too(monkeypatch):
    import sklearn.metrics

    def my_f1(y_true, y_pred, **kwargs):
        return 0.5

    references.third_party("sklearn.metrics.f1_score")  # the check imports it on first use
    monkeypatch.setattr(sklearn.metrics, "f1_score", my_f1)
    result = checks.check_macro_f1(lambda t, p: 0.5)
    assert (
        not result.passed
        and "sklearn.metrics.f1_score (now " in result.message
        and "my_f1, defined" in result.message
    )


def test_libraries_rebinding_their_own_names_are_not_reported():
    import torch._dynamo  # noqa: F401  (it rebinds torch.manual_seed to a wrapper of its own)
    from transformers.models.bert import modeling_bert  # noqa: F401

    assert integrity.rebound() == []


def test_a_swap_before_the_checks_are_imported_is_reported():
    """The cell order of a forged notebook: swap first, then `from sft_helpers import checks`."""
    code = textwrap.dedent(
        """
        import torch
        import sft_helpers.attention as attention

        def split_heads(x, n_heads):
            b, s, d = x.shape
            return x.reshape(b, n_heads, s, d // n_heads)

        attention.split_heads = split_heads
        from sft_helpers import checks
        result = checks.check_split_heads(split_heads)
        print(result.passed)
        print(result.message)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    passed, message = out.stdout.split("\n", 1)
    assert passed == "False"
    assert (
        "sft_helpers.attention.split_heads (now split_heads, defined in the notebook, before the checks were imported)"
        in message
    )


def test_chapter_8_checks_use_the_private_reference_and_flag_a_rebinding(monkeypatch):
    from sft_helpers import qa

    def always_no_answer(*args, **kwargs):
        return (qa.CLS_INDEX, qa.CLS_INDEX)

    assert references.best_span is qa.best_span  # held in the one place, captured at import
    monkeypatch.setattr(qa, "best_span", always_no_answer)
    result = checks.check_best_span(always_no_answer)
    assert not result.passed and "sft_helpers.qa.best_span" in result.message
    assert references.best_span is not always_no_answer
