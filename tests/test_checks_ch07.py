"""Chapter 7 checks: the reference passes, a stub fails, plausible wrong versions fail with advice."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sft_helpers.checks import ch07_instruction as ch07
from sft_helpers.checks.core import allow_reference
from sft_helpers.instructions import mask_prompt_labels


# ----------------------------------------------------------------------------- label mask
def good_mask(input_ids, prompt_lengths, attention_mask):
    labels = input_ids.clone()
    for i, n in enumerate(prompt_lengths.tolist()):
        labels[i, :n] = -100
    labels[attention_mask == 0] = -100
    return labels


def mask_by_pad_id(input_ids, prompt_lengths, attention_mask):
    labels = good_mask(input_ids, prompt_lengths, torch.ones_like(attention_mask))
    labels[input_ids == 2] = -100
    return labels


def mask_inverted(input_ids, prompt_lengths, attention_mask):
    labels = input_ids.clone()
    for i, n in enumerate(prompt_lengths.tolist()):
        labels[i, n:] = -100
    return labels


def mask_no_padding(input_ids, prompt_lengths, attention_mask):
    return good_mask(input_ids, prompt_lengths, torch.ones_like(attention_mask))


def mask_off_by_one(input_ids, prompt_lengths, attention_mask):
    return good_mask(input_ids, prompt_lengths + 1, attention_mask)


def mask_stub(input_ids, prompt_lengths, attention_mask):
    raise NotImplementedError("copy input_ids, then -100 where position < prompt_length")


def test_label_mask_accepts_correct_versions():
    assert ch07.check_label_mask(good_mask).passed
    with allow_reference():
        assert ch07.check_label_mask(mask_prompt_labels).passed


def test_label_mask_rejects_reference_and_stub():
    assert not ch07.check_label_mask(mask_prompt_labels).passed
    result = ch07.check_label_mask(mask_stub)
    assert not result.passed and "not implemented" in result.message


@pytest.mark.parametrize(
    ("wrong", "advice"),
    [
        (mask_by_pad_id, "attention_mask, not from input_ids"),
        (mask_inverted, "wrong way round"),
        (mask_no_padding, "padding"),
        (mask_off_by_one, "off by one"),
    ],
)
def test_label_mask_rejects_wrong_versions_with_advice(wrong, advice):
    result = ch07.check_label_mask(wrong)
    assert not result.passed
    assert advice in result.hint, result


# ----------------------------------------------------------------------------- response loss
def good_loss(logits, labels):
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)


def loss_unshifted(logits, labels):
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)


def loss_sum(logits, labels):
    return F.cross_entropy(
        logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100, reduction="sum"
    )


def loss_as_float(logits, labels):
    return good_loss(logits, labels).item()


@pytest.mark.parametrize("fn", [good_loss, loss_as_float])
def test_response_loss_accepts_correct_versions(fn):
    assert ch07.check_response_loss(fn).passed


@pytest.mark.parametrize(("wrong", "advice"), [(loss_unshifted, "shift"), (loss_sum, "MEAN")])
def test_response_loss_rejects_wrong_versions(wrong, advice):
    result = ch07.check_response_loss(wrong)
    assert not result.passed
    assert advice in result.hint, result


# ----------------------------------------------------------------------------- LoRA count
def good_count(shapes, rank):
    return sum(rank * (n_in + n_out) for n_out, n_in in shapes)


def count_product(shapes, rank):
    return sum(rank * n_in * n_out for n_out, n_in in shapes)


def count_a_only(shapes, rank):
    return sum(rank * n_in for _, n_in in shapes)


def count_first_layer(shapes, rank):
    return rank * sum(shapes[0])


def test_lora_count_matches_peft_on_smollm_shapes():
    # q_proj (576 -> 576) and k_proj (576 -> 192) of SmolLM2 with r = 8
    assert ch07.lora_count_with_peft([(576, 576), (192, 576)], 8) == 8 * (576 + 576) + 8 * (576 + 192)


def test_lora_count_accepts_correct_and_rejects_wrong_versions():
    assert ch07.check_lora_parameter_count(good_count).passed
    for wrong, advice in [
        (count_product, "not rank * in * out"),
        (count_a_only, "both matrices"),
        (count_first_layer, "every adapted layer"),
    ]:
        result = ch07.check_lora_parameter_count(wrong)
        assert not result.passed
        assert advice in result.hint, result
    assert not ch07.check_lora_parameter_count(lambda shapes, rank: None).passed


def test_exported_references_are_right_and_cannot_be_handed_in():
    shapes = [(576, 576), (192, 576), (1536, 576)]
    assert ch07.reference_lora_parameter_count(shapes, 8) == ch07.lora_count_with_peft(shapes, 8)
    assert not ch07.check_lora_parameter_count(ch07.reference_lora_parameter_count).passed
    assert not ch07.check_response_loss(ch07.reference_response_loss).passed
    with allow_reference():
        assert ch07.check_lora_parameter_count(ch07.reference_lora_parameter_count).passed
        assert ch07.check_response_loss(ch07.reference_response_loss).passed
