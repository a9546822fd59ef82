"""sft_helpers.teaching_loop: chapter 4's hand-written loop takes the library's steps; the confidence report."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from datasets import Dataset
from tokenizers import Tokenizer, models
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    DataCollatorWithPadding,
    PreTrainedTokenizerFast,
    get_linear_schedule_with_warmup,
)

from sft_helpers import batching, runtime, teaching_loop, training

VOCAB = 40


@pytest.fixture(autouse=True)
def _cpu_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFT_DEVICE", "cpu")
    torch.set_num_threads(1)


def make_tokenizer() -> PreTrainedTokenizerFast:
    word_level = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1}, unk_token="[UNK]"))
    return PreTrainedTokenizerFast(tokenizer_object=word_level, pad_token="[PAD]", unk_token="[UNK]")


def make_dataset(n: int = 40, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        ids = [2, *rng.integers(4, VOCAB, size=int(rng.integers(3, 15))).tolist(), 3]
        rows.append({"input_ids": ids, "attention_mask": [1] * len(ids), "label": ids[1] % 3})
    return Dataset.from_list(rows)


def tiny_bert(seed: int = 0, dropout: float = 0.1) -> BertForSequenceClassification:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=32, num_labels=3, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
    )  # fmt: skip
    return BertForSequenceClassification(config)


def hand_loop(model, dataset, collator, epochs: int, batch_size: int, lr: float, seed: int) -> list[float]:
    """The loop chapter 4 shows (without its evaluation), written the same way."""
    examples = batching.prepare_examples(dataset, model)
    lengths = batching.example_lengths(examples)
    total = epochs * math.ceil(len(examples) / batch_size)
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=lr, fused=True)
    scheduler = get_linear_schedule_with_warmup(optimizer, round(0.1 * total), total)
    runtime.seed_everything(seed)
    losses = []
    for epoch in range(epochs):
        for indices in batching.batch_order(
            lengths, batch_size, seed=seed, epoch=epoch, group_by_length=True
        ):
            batch = collator([examples[i] for i in indices])
            losses.append(teaching_loop.training_step(model, batch, optimizer, scheduler, 1.0))
    return losses


def test_the_hand_loop_takes_exactly_the_library_loops_steps() -> None:
    """Same seed, batches, optimizer and schedule: identical losses and weights, dropout included."""
    data, collator = make_dataset(), DataCollatorWithPadding(make_tokenizer())
    by_hand = tiny_bert()
    losses = hand_loop(by_hand, data, collator, epochs=2, batch_size=8, lr=3e-3, seed=4)
    library = tiny_bert()
    config = training.TrainConfig(
        epochs=2, batch_size=8, lr=3e-3, weight_decay=0.01, warmup_ratio=0.1, max_grad_norm=1.0,
        group_by_length=True, seed=4, progress=False, verbose=False, bf16=False,  # the hand loop's float32
    )  # fmt: skip
    result = training.train(library, data, None, config, collator=collator)
    assert [row["loss"] for row in result.history["train"]] == pytest.approx(losses, abs=1e-6)
    for (name, a), b in zip(by_hand.state_dict().items(), library.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=f"{name} differs")


def test_training_step_matches_a_manual_adamw_step_with_clipping() -> None:
    data, collator = make_dataset(8), DataCollatorWithPadding(make_tokenizer())
    batch = collator(batching.prepare_examples(data, tiny_bert()))
    model, twin = tiny_bert(dropout=0.0), tiny_bert(dropout=0.0)  # no dropout: the same computation
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 0.5**step)
    opt2 = torch.optim.AdamW(twin.parameters(), lr=0.1)
    loss = teaching_loop.training_step(model, batch, opt, sched, max_grad_norm=0.01)
    assert isinstance(loss, float) and model.training
    twin.train()
    expected = twin(**batch).loss
    expected.backward()
    norm = torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.01)
    assert norm > 0.01  # clipping was active
    opt2.step()
    assert loss == pytest.approx(expected.item())
    torch.testing.assert_close(dict(model.named_parameters()), dict(twin.named_parameters()))
    assert all(p.grad is None for p in model.parameters())  # zeroed for the next step
    assert sched.get_last_lr()[0] == pytest.approx(0.05)  # the schedule moved once


def test_confidence_report_agrees_with_torch() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 3)) * 3
    labels = rng.integers(0, 3, size=50)
    report = teaching_loop.confidence_report(logits, labels)
    expected_loss = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
    assert report["loss"] == pytest.approx(expected_loss)
    predicted = logits.argmax(1)
    assert report["accuracy"] == pytest.approx(np.mean(predicted == labels))
    assert report["wrong"] == int((predicted != labels).sum())
    n_wrong, n = report["wrong"], len(labels)
    mean_again = (report["loss_wrong"] * n_wrong + report["loss_right"] * (n - n_wrong)) / n
    assert mean_again == pytest.approx(report["loss"])
    assert report["loss_share_wrong"] == pytest.approx(report["loss_wrong"] * n_wrong / (report["loss"] * n))
    probs = torch.softmax(torch.tensor(logits), -1).numpy()
    assert report["confidence"] == pytest.approx(probs.max(1).mean())
    assert report["confidence_wrong"] == pytest.approx(probs.max(1)[predicted != labels].mean())


def test_loss_rises_while_accuracy_rises_when_mistakes_grow_confident() -> None:
    """The chapter's explanation in numbers: fewer mistakes, each more confident, cost more loss."""
    labels = np.zeros(10, dtype=int)
    before = np.array([[1.0, 0.0, 0.0]] * 8 + [[0.0, 0.5, 0.0]] * 2)  # 2 mistakes, unsure
    after = np.array([[3.0, 0.0, 0.0]] * 9 + [[0.0, 12.0, 0.0]])  # 1 mistake, very sure
    a, b = teaching_loop.confidence_report(before, labels), teaching_loop.confidence_report(after, labels)
    assert b["accuracy"] > a["accuracy"] and b["loss"] > a["loss"]
    assert b["loss_wrong"] > a["loss_wrong"] and b["loss_share_wrong"] > a["loss_share_wrong"]


def test_confidence_report_edge_cases() -> None:
    perfect = teaching_loop.confidence_report(np.eye(3) * 5, np.arange(3))
    assert perfect["wrong"] == 0 and perfect["loss_wrong"] == 0.0 and perfect["confidence_wrong"] == 0.0
    assert perfect["accuracy"] == 1.0 and perfect["loss_share_wrong"] == 0.0
    huge = teaching_loop.confidence_report(np.array([[1000.0, -1000.0]]), np.array([1]))
    assert math.isfinite(huge["loss"]) and huge["loss"] == pytest.approx(2000.0)
    with pytest.raises(ValueError, match="expected logits"):
        teaching_loop.confidence_report(np.zeros((2, 3)), np.zeros(3, dtype=int))
