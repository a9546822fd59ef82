"""sft_helpers.sequence_models: the recall task, the two models and the measurements of chapter 2, section 9."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sft_helpers import attention
from sft_helpers import sequence_models as seqm


def test_recall_batch_targets_are_the_first_tokens():
    gen = torch.Generator().manual_seed(0)
    tokens, targets = seqm.recall_first_batch(5, 7, 4, gen)
    assert tokens.shape == (5, 7) and targets.shape == (5,)
    assert torch.equal(targets, tokens[:, 0])
    assert int(tokens.min()) >= 0 and int(tokens.max()) < 4
    with pytest.raises(ValueError):
        seqm.recall_first_batch(5, 1, 4, gen)


@pytest.mark.parametrize("model", [seqm.GRURecall(6, 8), seqm.AttentionRecall(6, 8, max_len=10, n_heads=2)])
def test_recall_models_answer_one_distribution_per_sequence(model):
    out = model(torch.randint(0, 6, (3, 10)))
    assert out.shape == (3, 6)


def test_attention_recall_takes_another_attention_class():
    built = []

    class Spy(attention.MultiHeadSelfAttention):
        def __init__(self, d_model, n_heads):
            super().__init__(d_model, n_heads)
            built.append((d_model, n_heads))

    model = seqm.AttentionRecall(5, 8, max_len=6, n_heads=2, attention_cls=Spy)
    assert built == [(8, 2)] and isinstance(model.attn, Spy)


def test_one_attention_layer_learns_to_recall_the_first_token():
    torch.manual_seed(0)
    run = seqm.train_recall(seqm.AttentionRecall(8, 32, max_len=8), 8, 8, steps=120, batch=32, seed=0)
    assert run["accuracy"] > 0.9
    assert len(run["loss"]) == 120 and run["loss"][-1] < run["loss"][0]
    assert run["seconds"] > 0


def test_evaluate_recall_is_deterministic_and_restores_the_mode():
    model = seqm.GRURecall(4, 8).train()
    a, b = seqm.evaluate_recall(model, 5, 4, n=64), seqm.evaluate_recall(model, 5, 4, n=64)
    assert a == b and model.training


def test_the_gru_gradient_to_the_first_input_vanishes_faster_than_attentions():
    torch.manual_seed(0)
    gru, attn = nn.GRU(16, 16, batch_first=True), attention.MultiHeadSelfAttention(16, 2)
    g_short, g_long = (seqm.gradient_reach(gru, n, 16, batch=4) for n in (4, 64))
    a_short, a_long = (seqm.gradient_reach(attn, n, 16, batch=4) for n in (4, 64))
    assert 0 < g_long < g_short and 0 < a_long < a_short
    assert g_long / g_short < 1e-3 * (a_long / a_short)
    assert gru.weight_hh_l0.dtype == torch.float32  # measured on a float64 copy


def test_sequential_ops_grow_with_length_for_the_loop_only():
    cell, attn = nn.GRUCell(8, 8), attention.MultiHeadSelfAttention(8, 2)
    x_short, x_long = torch.randn(2, 4, 8), torch.randn(2, 16, 8)
    loop = [seqm.count_sequential_ops(lambda x=x: seqm.gru_step_by_step(cell, x)) for x in (x_short, x_long)]
    att = [seqm.count_sequential_ops(lambda x=x: attn(x)) for x in (x_short, x_long)]
    assert (loop[1] - loop[0]) % 12 == 0 and loop[1] > 3 * loop[0]  # the same operations once per token
    assert att[0] == att[1] > 0


def test_gru_step_by_step_matches_nn_gru():
    torch.manual_seed(0)
    gru = nn.GRU(6, 6, batch_first=True)
    cell = nn.GRUCell(6, 6)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in gru.state_dict().items()})
    x = torch.randn(3, 5, 6)
    torch.testing.assert_close(seqm.gru_step_by_step(cell, x), gru(x)[1][0])


def test_thread_speedup_restores_the_thread_count():
    before = torch.get_num_threads()
    one, many, speedup = seqm.thread_speedup(lambda: torch.randn(64, 64) @ torch.randn(64, 64), repeats=2)
    assert one > 0 and many > 0 and speedup == pytest.approx(one / many)
    assert torch.get_num_threads() == before
    assert seqm.time_ms(lambda: None, repeats=1) >= 0
