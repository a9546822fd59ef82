"""Chapter 3's block exercise: check_encoder_layer passes a correct post-LN layer (and feeds it to the
six-layer reproduction), and fails the usual wrong assemblies with advice that names the mistake."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sft_helpers import attention, blocks, checks
from sft_helpers.checks.core import CheckResult


class PostLN(nn.Module):
    """A learner's correct post-LN (BERT) encoder layer, with the exercise's __init__."""

    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, layer_norm_eps=1e-12):
        super().__init__()
        self.attention = attention.MultiHeadSelfAttention(d_model, n_heads, dropout=dropout)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.ffn = blocks.FeedForward(d_model, d_ff, dropout=dropout)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        h = self.norm1(x + self.dropout1(self.attention(x, mask)))  # (batch, seq, d_model)
        return self.norm2(h + self.dropout2(self.ffn(h)))


class Stub(PostLN):
    def forward(self, x, mask=None):
        raise NotImplementedError("residual sum first, then LayerNorm")


class PreLN(PostLN):
    def forward(self, x, mask=None):
        h = x + self.dropout1(self.attention(self.norm1(x), mask))
        return h + self.dropout2(self.ffn(self.norm2(h)))


class FfnReadsInput(PostLN):
    def forward(self, x, mask=None):
        h = self.norm1(x + self.dropout1(self.attention(x, mask)))
        return self.norm2(h + self.dropout2(self.ffn(x)))


class SecondResidualFromInput(PostLN):
    def forward(self, x, mask=None):
        h = self.norm1(x + self.dropout1(self.attention(x, mask)))
        return self.norm2(x + self.dropout2(self.ffn(h)))


class NoAttentionResidual(PostLN):
    def forward(self, x, mask=None):
        h = self.norm1(self.dropout1(self.attention(x, mask)))
        return self.norm2(h + self.dropout2(self.ffn(h)))


class NoFfnResidual(PostLN):
    def forward(self, x, mask=None):
        h = self.norm1(x + self.dropout1(self.attention(x, mask)))
        return self.norm2(self.dropout2(self.ffn(h)))


class NormsSwapped(PostLN):
    def forward(self, x, mask=None):
        h = self.norm2(x + self.dropout1(self.attention(x, mask)))
        return self.norm1(h + self.dropout2(self.ffn(h)))


class MaskIgnored(PostLN):
    def forward(self, x, mask=None):
        h = self.norm1(x + self.dropout1(self.attention(x)))
        return self.norm2(h + self.dropout2(self.ffn(h)))


class NoSecondNorm(PostLN):
    def forward(self, x, mask=None):
        h = self.norm1(x + self.dropout1(self.attention(x, mask)))
        return h + self.dropout2(self.ffn(h))


class NoSublayerDropout(PostLN):
    def forward(self, x, mask=None):
        h = self.norm1(x + self.attention(x, mask))
        return self.norm2(h + self.ffn(h))


class DropoutAfterNorm(PostLN):
    def forward(self, x, mask=None):
        h = self.dropout1(self.norm1(x + self.attention(x, mask)))
        return self.dropout2(self.norm2(h + self.ffn(h)))


class RenamedModules(nn.Module):
    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, layer_norm_eps=1e-12):
        super().__init__()
        self.attn = attention.MultiHeadSelfAttention(d_model, n_heads)
        self.ln = nn.LayerNorm(d_model)

    def forward(self, x, mask=None):
        return self.ln(x + self.attn(x, mask))


class Subclass(blocks.EncoderLayer):
    pass


class CallsReference(PostLN):
    def forward(self, x, mask=None):
        ref = blocks.EncoderLayer.__new__(blocks.EncoderLayer)
        nn.Module.__init__(ref)
        ref.norm_first = False
        for name in ("attention", "norm1", "ffn", "norm2", "dropout1", "dropout2"):
            setattr(ref, name, getattr(self, name))
        return blocks.EncoderLayer.forward(ref, x, mask)


def _fails(result: CheckResult, words: str) -> None:
    assert isinstance(result, CheckResult)
    assert result.passed is False, f"a wrong layer passed: {result}"
    assert words in result.hint + result.message, f"expected {words!r} in: {result.message} | {result.hint}"


def test_a_correct_post_ln_layer_passes_twice():
    for _ in range(2):  # fresh inputs each time
        result = checks.check_encoder_layer(PostLN)
        assert result.passed, result
        assert "BertLayer" in result.message


@pytest.mark.parametrize(
    ("layer_class", "words"),
    [
        (Stub, "not implemented"),
        (PreLN, "pre-LN"),
        (FfnReadsInput, "must read the output of the first LayerNorm"),
        (SecondResidualFromInput, "second residual"),
        (NoAttentionResidual, "attention sub-layer's residual"),
        (NoFfnResidual, "feed-forward sub-layer's residual"),
        (NormsSwapped, "norm1 belongs to the attention"),
        (MaskIgnored, "mask is not used"),
        (NoSecondNorm, "second LayerNorm is missing"),
        (NoSublayerDropout, "not dropped out"),
        (DropoutAfterNorm, "before the residual sum"),
        (RenamedModules, "keep the sub-modules"),
        (Subclass, "reference"),
        (CallsReference, "reference"),
        (blocks.EncoderLayer, "reference"),
    ],
)
def test_wrong_layers_fail_with_advice(layer_class, words):
    _fails(checks.check_encoder_layer(layer_class), words)


def test_not_a_class_fails_politely():
    result = checks.check_encoder_layer(PostLN(8, 2, 32))  # an instance, not the class
    assert result.passed is False and result.message


def test_the_learner_layer_feeds_the_six_layer_reproduction():
    """encode_with_our_layers(layer_class=...) builds the stack from the learner's class, same numbers."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=16,
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    ids = torch.randint(1, 50, (2, 7))
    am = torch.tensor([[1] * 7, [1] * 4 + [0] * 3])
    ours = blocks.encode_with_our_layers(model, ids, am)
    learners = blocks.encode_with_our_layers(model, ids, am, layer_class=PostLN)
    with torch.no_grad():
        theirs = model(input_ids=ids, attention_mask=am, output_hidden_states=True).hidden_states
    real = am.bool()
    for a, b, c in zip(learners, ours, theirs):
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(a[real], c[real], atol=1e-5, rtol=1e-4)
    stack = blocks.Encoder.from_hf_bert(model, layer_class=PostLN)
    assert all(type(layer) is PostLN for layer in stack.layers)


def test_copy_bert_layer_rejects_a_class_without_the_sub_modules():
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertLayer

    layer = BertLayer(BertConfig(hidden_size=16, num_attention_heads=4, intermediate_size=64))
    with pytest.raises(TypeError, match="sub-modules"):
        blocks.copy_bert_layer(layer, RenamedModules)
    assert type(blocks.copy_bert_layer(layer)) is blocks.EncoderLayer
