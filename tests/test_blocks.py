"""sft_helpers.blocks against nn.LayerNorm, nn.TransformerEncoderLayer and the pretrained BERT layers."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.testing import assert_close

from sft_helpers import attention as A
from sft_helpers import blocks as B


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(7,), (3, 10), (2, 4, 16)])
def test_layer_norm_matches_torch(shape, dtype):
    x = torch.randn(shape, dtype=dtype) * 3 + 1
    w, b = torch.randn(shape[-1], dtype=dtype), torch.randn(shape[-1], dtype=dtype)
    for eps in (1e-12, 1e-5):
        assert_close(B.layer_norm(x, w, b, eps), F.layer_norm(x, shape[-1:], w, b, eps))


@pytest.mark.parametrize("activation", ["gelu", "relu", "gelu_tanh", "silu"])
def test_feed_forward_function_and_module_agree(activation):
    ffn = B.FeedForward(8, 32, activation=activation).double()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    ref = ffn(x)
    got = B.feed_forward(
        x, ffn.linear1.weight, ffn.linear1.bias, ffn.linear2.weight, ffn.linear2.bias, activation
    )
    assert got.shape == (2, 5, 8)
    assert_close(got, ref)
    # position-wise: each position's output depends on that position only
    assert_close(ffn(x[:, 2:3]), ref[:, 2:3])


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match="gelu"):
        B.FeedForward(4, 8, activation="swish2")


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_encoder_layer_matches_torch_transformer_encoder_layer(norm_first, dtype, activation):
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(
        16, 4, 64, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first, dtype=dtype
    ).eval()
    ours = B.EncoderLayer.from_torch_encoder_layer(ref).eval()
    assert ours.norm_first is norm_first
    x = torch.randn(3, 6, 16, dtype=dtype)
    am = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [1] * 5 + [0]])
    assert_close(ours(x), ref(x))
    assert_close(ours(x, A.padding_mask(am)), ref(x, src_key_padding_mask=~am.bool()))


def test_pre_ln_and_post_ln_differ():
    torch.manual_seed(0)
    post = B.EncoderLayer(8, 2, 32)
    pre = B.EncoderLayer(8, 2, 32, norm_first=True)
    pre.load_state_dict(post.state_dict())
    x = torch.randn(1, 4, 8)
    assert not torch.allclose(pre(x), post(x))
    # post-LN outputs are normalised; pre-LN outputs keep the residual stream's scale
    assert_close(post(x).mean(-1), torch.zeros(1, 4), atol=1e-5, rtol=0)


def test_encoder_layer_gradcheck_float64():
    torch.manual_seed(0)
    layer = B.EncoderLayer(4, 2, 8, norm_first=True).double()
    x = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    mask = A.causal_mask(3)
    assert torch.autograd.gradcheck(lambda x: layer(x, mask), (x,))


def test_from_hf_bert_layer_rejects_other_modules():
    with pytest.raises(TypeError, match="BertLayer"):
        B.EncoderLayer.from_hf_bert_layer(nn.Linear(2, 2))


@pytest.fixture(scope="module")
def bert():
    from sft_helpers.models import load_pretrained

    model, tokenizer = load_pretrained("base", verbose=False)
    return model, tokenizer


def test_our_layers_reproduce_pretrained_hidden_states(bert):
    model, tokenizer = bert
    sentences = ["The river bank was muddy after the rain.", "Hello!", "Transformers stack six layers here."]
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        ref = model(**batch, output_hidden_states=True).hidden_states
    ours = B.encode_with_our_layers(model, batch["input_ids"], batch["attention_mask"])
    assert len(ours) == len(ref) == model.config.num_hidden_layers + 1
    real = batch["attention_mask"].bool()
    assert (~real).any(), "the test needs padding"
    for a, b in zip(ours, ref, strict=True):
        assert (a - b)[real].abs().max().item() <= 1e-5


def test_from_hf_bert_layer_copies_and_float64_agrees_everywhere(bert):
    model, tokenizer = bert
    layer = model.encoder.layer[2]
    ours = B.EncoderLayer.from_hf_bert_layer(layer)
    assert ours.attention.n_heads == 12 and ours.ffn.linear1.out_features == 1536
    assert ours.norm1.eps == layer.attention.output.LayerNorm.eps
    assert ours.training == layer.training
    # copies, not shared tensors
    assert ours.ffn.linear1.weight.data_ptr() != layer.intermediate.dense.weight.data_ptr()
    x = torch.randn(2, 5, 384, dtype=torch.float64)
    am = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    additive = (1.0 - am[:, None, None, :].double()) * torch.finfo(torch.float64).min
    with torch.no_grad():
        ref = layer.double()(x, additive)
        got = ours.double()(x, A.padding_mask(am))
    layer.float()
    assert_close(got, ref, atol=1e-10, rtol=1e-10)


def test_parameter_breakdown_and_flops(bert):
    model, _ = bert
    parts = B.parameter_breakdown(model)
    assert sum(parts.values()) == sum(p.numel() for p in model.parameters())
    d, dff, n = 384, 1536, 6
    assert parts["attention"] == n * 4 * (d * d + d)
    assert parts["feed-forward"] == n * (2 * d * dff + dff + d)
    assert parts["layer norms"] == (2 * n + 1) * 2 * d
    flops = B.encoder_flops_per_token(d, dff, n, seq_len=128)
    assert flops["total"] == flops["projections"] + flops["feed-forward"] + flops["attention scores"]
    # about 2 FLOPs per weight of the matmuls, plus the sequence-dependent part
    assert flops["projections"] + flops["feed-forward"] == 2 * n * (4 * d * d + 2 * d * dff)
