"""sft_helpers.attention against PyTorch's implementations, gradients, masks and error messages."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.testing import assert_close

from sft_helpers import attention as A

DTYPES = [torch.float32, torch.float64]


def _qkv(shape_q, seq_k, d_v=None, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    *batch, seq_q, d = shape_q
    q = torch.randn(*batch, seq_q, d, generator=g, dtype=dtype)
    k = torch.randn(*batch, seq_k, d, generator=g, dtype=dtype)
    v = torch.randn(*batch, seq_k, d_v or d, generator=g, dtype=dtype)
    return q, k, v


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape_q, seq_k, d_v",
    [((5, 8), 5, None), ((2, 7, 4), 3, 6), ((2, 3, 6, 16), 6, None), ((1, 2, 1, 8), 9, 5)],
)
def test_sdpa_matches_torch_without_mask(shape_q, seq_k, d_v, dtype):
    q, k, v = _qkv(shape_q, seq_k, d_v, dtype)
    out, weights = A.scaled_dot_product_attention(q, k, v)
    assert_close(out, F.scaled_dot_product_attention(q, k, v))
    assert weights.shape == (*shape_q[:-1], seq_k)
    assert_close(weights.sum(-1), torch.ones(shape_q[:-1], dtype=dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_shape", [(2, 3, 5, 6), (2, 1, 1, 6), (5, 6), (1, 6), (2, 1, 5, 6)])
def test_sdpa_matches_torch_with_mask(mask_shape, dtype):
    q, k, v = _qkv((2, 3, 5, 8), 6, dtype=dtype, seed=1)
    mask = torch.rand(mask_shape, generator=torch.Generator().manual_seed(2)) > 0.4
    mask[..., 0] = True  # no fully masked row here: torch gives NaN there
    out, weights = A.scaled_dot_product_attention(q, k, v, mask)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert not weights.masked_select(~mask.expand_as(weights)).any(), "masked positions must get weight 0"


def test_causal_mask_matches_is_causal():
    q, k, v = _qkv((2, 4, 7, 8), 7, seed=3)
    out, weights = A.scaled_dot_product_attention(q, k, v, A.causal_mask(7))
    assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True))
    assert torch.equal(weights.triu(1), torch.zeros_like(weights))
    assert torch.equal(A.causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))


def test_fully_masked_row_gives_zeros_not_nan_and_finite_gradients():
    q, k, v = _qkv((2, 5, 4), 5, dtype=torch.float64, seed=4)
    q.requires_grad_(True)
    mask = torch.ones(2, 5, 5, dtype=torch.bool)
    mask[0, 2] = False  # query 2 of sentence 0 may look at nothing
    mask[1, :, 3:] = False
    out, weights = A.scaled_dot_product_attention(q, k, v, mask)
    assert torch.equal(out[0, 2], torch.zeros(4, dtype=torch.float64))
    assert torch.equal(weights[0, 2], torch.zeros(5, dtype=torch.float64))
    assert torch.isfinite(out).all() and torch.isfinite(weights).all()
    out.sum().backward()
    assert torch.isfinite(q.grad).all()
    # every other row still matches PyTorch
    ref = F.scaled_dot_product_attention(q.detach(), k, v, attn_mask=mask)
    keep = mask.any(-1)
    assert_close(out.detach()[keep], ref[keep])


def test_gradcheck_float64_with_mask():
    q, k, v = _qkv((2, 3, 4), 3, dtype=torch.float64, seed=5)
    for t in (q, k, v):
        t.requires_grad_(True)
    mask = torch.tensor([[True, True, False], [False, False, False], [True, False, True]])

    def out(q, k, v):
        return A.scaled_dot_product_attention(q, k, v, mask)[0]

    assert torch.autograd.gradcheck(out, (q, k, v))
    assert torch.autograd.gradgradcheck(out, (q, k, v))


@pytest.mark.parametrize(
    "args, error, words",
    [
        ((torch.randn(5), torch.randn(5, 4), torch.randn(5, 4)), ValueError, "(..., seq, d)"),
        ((torch.randn(2, 5, 4), torch.randn(2, 5, 3), torch.randn(2, 5, 4)), ValueError, "last dimension"),
        ((torch.randn(2, 5, 4), torch.randn(2, 6, 4), torch.randn(2, 5, 4)), ValueError, "same number"),
    ],
)
def test_wrong_shapes_raise(args, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        A.scaled_dot_product_attention(*args)


def test_bad_masks_raise_and_say_the_expected_shape():
    q, k, v = _qkv((2, 3, 5, 8), 6)
    with pytest.raises(ValueError, match=r"\(2, 3, 5, 6\)"):
        A.scaled_dot_product_attention(q, k, v, torch.ones(2, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="broadcast"):
        A.scaled_dot_product_attention(q, k, v, torch.ones(4, 1, 1, 6, dtype=torch.bool))
    with pytest.raises(TypeError, match="torch.bool"):
        A.scaled_dot_product_attention(q, k, v, torch.ones(2, 1, 1, 6, dtype=torch.long))


def test_padding_mask():
    am = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    mask = A.padding_mask(am)
    assert mask.shape == (2, 1, 1, 4) and mask.dtype == torch.bool
    assert torch.equal(mask[:, 0, 0], am.bool())
    assert torch.equal(A.padding_mask(am.bool()), mask)
    with pytest.raises(ValueError, match=r"\(batch, seq\)"):
        A.padding_mask(am[0])
    with pytest.raises(ValueError, match="only 0"):
        A.padding_mask(am * 2)
    with pytest.raises(TypeError):
        A.padding_mask(am.float())


@pytest.mark.parametrize("batch, seq, d_model, heads", [(2, 5, 12, 3), (1, 1, 8, 8), (3, 4, 6, 1)])
def test_split_and_merge_heads(batch, seq, d_model, heads):
    x = torch.randn(batch, seq, d_model)
    split = A.split_heads(x, heads)
    assert split.shape == (batch, heads, seq, d_model // heads)
    # head h holds features h*d_head ... (h+1)*d_head - 1 of every position
    d_head = d_model // heads
    for h in range(heads):
        assert torch.equal(split[:, h], x[..., h * d_head : (h + 1) * d_head])
    assert torch.equal(A.merge_heads(split), x)
    with pytest.raises(ValueError, match="dividing"):
        A.split_heads(torch.randn(2, 5, 7), 2)
    with pytest.raises(ValueError, match=r"\(batch, n_heads, seq, d_head\)"):
        A.merge_heads(x)


def _torch_mha_and_ours(d_model=16, heads=4, dtype=torch.float32, seed=6):
    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(d_model, heads, batch_first=True, dtype=dtype).eval()
    ours = A.MultiHeadSelfAttention.from_torch_multihead_attention(mha).eval()
    return mha, ours


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("use_mask", ["none", "padding", "causal"])
def test_multi_head_matches_torch_multihead_attention(dtype, use_mask):
    mha, ours = _torch_mha_and_ours(dtype=dtype)
    x = torch.randn(3, 7, 16, dtype=dtype)
    am = torch.tensor([[1] * 7, [1] * 4 + [0] * 3, [1] * 2 + [0] * 5])
    if use_mask == "none":
        ref, ref_w = mha(x, x, x, average_attn_weights=False)
        out = ours(x)
    elif use_mask == "padding":
        # nn.MultiheadAttention: True means *ignore* (the opposite of ours)
        ref, ref_w = mha(x, x, x, key_padding_mask=~am.bool(), average_attn_weights=False)
        out = ours(x, A.padding_mask(am))
    else:
        ref, ref_w = mha(x, x, x, attn_mask=~A.causal_mask(7), average_attn_weights=False)
        out = ours(x, A.causal_mask(7))
    assert out.shape == (3, 7, 16)
    assert_close(out, ref)
    assert_close(ours.last_attention, ref_w)


def test_multi_head_fully_masked_sentence_zero_where_torch_gives_nan():
    mha, ours = _torch_mha_and_ours()
    x = torch.randn(2, 4, 16)
    am = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]])
    ref, _ = mha(x, x, x, key_padding_mask=~am.bool())
    out = ours(x, A.padding_mask(am))
    assert torch.isnan(ref[1]).all(), "PyTorch's documented behaviour changed; update chapter 2's remark"
    assert_close(out[1], ours.out_proj.bias.expand(4, 16))  # zero attention output, then the out bias
    assert_close(out[0], ref[0])


def test_multi_head_errors():
    with pytest.raises(ValueError, match="divisible"):
        A.MultiHeadSelfAttention(10, 3)
    m = A.MultiHeadSelfAttention(8, 2)
    with pytest.raises(ValueError, match="d_model=8"):
        m(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="padding_mask"):
        m(torch.randn(2, 3, 8), torch.ones(2, 3, dtype=torch.bool))


def test_multi_head_dropout_only_in_training():
    m = A.MultiHeadSelfAttention(8, 2, dropout=0.5)
    x = torch.randn(2, 5, 8)
    m.eval()
    assert torch.equal(m(x), m(x))
    m.train()
    torch.manual_seed(0)
    a = m(x)
    torch.manual_seed(1)
    assert not torch.equal(a, m(x))


@pytest.fixture(scope="module")
def bert():
    from sft_helpers.models import load_pretrained

    model, tokenizer = load_pretrained("base", verbose=False)
    model.set_attn_implementation("eager")
    return model, tokenizer


def test_reproduces_pretrained_attention_probabilities_and_output(bert):
    model, tokenizer = bert
    batch = tokenizer(["Attention is all you need.", "A short one"], padding=True, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True, output_attentions=True)
        for i in (0, 3):
            layer = model.encoder.layer[i]
            ours = A.MultiHeadSelfAttention.from_hf_bert_attention(layer.attention).eval()
            x = out.hidden_states[i]
            y = ours(x, A.padding_mask(batch["attention_mask"]))
            real = batch["attention_mask"].bool()[:, None, :, None].expand_as(ours.last_attention)
            assert_close(ours.last_attention[real], out.attentions[i][real], atol=1e-6, rtol=1e-5)
            # BERT's attention sub-layer = our attention, then residual + LayerNorm
            additive = (1.0 - batch["attention_mask"][:, None, None, :].float()) * torch.finfo(x.dtype).min
            ref = layer.attention(x, additive)[0]
            assert_close(layer.attention.output.LayerNorm(y + x), ref, atol=1e-5, rtol=1e-5)
