"""sft_helpers.training, batching and checkpoints on tiny models: repeatability, resume, accumulation, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Sequence, Value
from tokenizers import Tokenizer, models
from torch.optim.optimizer import register_optimizer_step_pre_hook
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertForTokenClassification,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    PreTrainedTokenizerFast,
)

from sft_helpers import batching, checkpoints, metrics, training

VOCAB = 40


@pytest.fixture(autouse=True)
def _cpu_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFT_DEVICE", "cpu")
    torch.set_num_threads(1)


def make_tokenizer() -> PreTrainedTokenizerFast:
    word_level = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1}, unk_token="[UNK]"))
    return PreTrainedTokenizerFast(tokenizer_object=word_level, pad_token="[PAD]", unk_token="[UNK]")


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return make_tokenizer()


def make_dataset(n: int = 64, seed: int = 0, num_labels: int = 2, token_labels: bool = False) -> Dataset:
    """Random token sequences of 3-20 tokens; the label is the class of the first real token."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        ids = [2, *rng.integers(4, VOCAB, size=int(rng.integers(3, 20))).tolist(), 3]
        if token_labels:
            label = [-100] + [i % num_labels for i in ids[1:-1]] + [-100]
        else:
            label = ids[1] % num_labels
        rows.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": label, "text": "unused"})
    return Dataset.from_list(rows)


def tiny_bert(
    num_labels: int = 2, seed: int = 0, dropout: float = 0.1, token: bool = False
) -> torch.nn.Module:
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        num_labels=num_labels,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    cls = BertForTokenClassification if token else BertForSequenceClassification
    return cls(config)


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs"


def config(**overrides) -> training.TrainConfig:
    base = {"epochs": 2, "batch_size": 8, "lr": 3e-3, "progress": False, "verbose": False, "seed": 1}
    return training.TrainConfig(**(base | overrides))


# ----------------------------------------------------------------------------- basic behaviour
def test_training_learns_and_reports(tokenizer, tmp_path: Path) -> None:
    train, val = make_dataset(96), make_dataset(32, seed=1)
    model = tiny_bert()
    before = training.evaluate(model, val, DataCollatorWithPadding(tokenizer))["loss"]
    result = training.train(
        model,
        train,
        val,
        config(epochs=4, output_dir=str(tmp_path), early_stopping_metric="accuracy"),
        collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=metrics.classification_metrics,
    )
    assert result.steps == 4 * 12
    assert [row["step"] for row in result.history["train"]] == list(range(1, 49))
    assert [row["step"] for row in result.history["eval"]] == [12, 24, 36, 48]
    assert result.history["eval"][-1]["loss"] < before
    assert result.best_metrics["accuracy"] == max(r["accuracy"] for r in result.history["eval"])
    assert result.best_checkpoint is not None and (result.best_checkpoint / "model.safetensors").is_file()
    # only the latest and the best checkpoints are kept
    kept = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("step-"))
    assert kept == sorted({f"step-{result.best_step:07d}", "step-0000048"})
    # the model ends with the best weights
    assert training.evaluate(model, val, DataCollatorWithPadding(tokenizer), metrics.classification_metrics)[
        "accuracy"
    ] == pytest.approx(result.best_metrics["accuracy"])
    fig = result.plot()
    assert len(fig.axes) == 2


def test_seeded_run_is_bit_for_bit_repeatable(tokenizer) -> None:
    runs = []
    for _ in range(2):
        model = tiny_bert()
        result = training.train(
            model,
            make_dataset(),
            make_dataset(16, seed=1),
            config(),
            collator=DataCollatorWithPadding(tokenizer),
        )
        runs.append((weights(model), result.history))
    assert_same_weights(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    other = tiny_bert()
    training.train(other, make_dataset(), None, config(seed=2), collator=DataCollatorWithPadding(tokenizer))
    assert not torch.equal(weights(other)["classifier.weight"], runs[0][0]["classifier.weight"])


class InterruptingCollator:
    """A collator that raises KeyboardInterrupt on its n-th call, like a learner pressing stop."""

    def __init__(self, inner, stop_at: int) -> None:
        self.inner, self.stop_at, self.calls = inner, stop_at, 0

    def __call__(self, features):
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return self.inner(features)


@pytest.mark.parametrize("group_by_length", [False, True])
def test_resumed_run_ends_with_the_same_weights(tokenizer, tmp_path: Path, group_by_length: bool) -> None:
    settings = {"epochs": 3, "grad_accum_steps": 2, "eval_every": 3, "group_by_length": group_by_length}
    train, val = make_dataset(72), make_dataset(16, seed=1)  # 9 batches: the last accumulation group is short

    full = tiny_bert()
    reference = training.train(
        full,
        train,
        val,
        config(output_dir=str(tmp_path / "a"), **settings),
        DataCollatorWithPadding(tokenizer),
    )

    interrupted = tiny_bert()
    run_b = config(output_dir=str(tmp_path / "b"), **settings)
    # 9 batches and 5 optimizer steps per epoch; with one collator call per evaluation (steps 3, 6, 9),
    # call 22 is epoch 3's first batch: the latest checkpoint (step 9) lies in the middle of epoch 2
    with pytest.raises(KeyboardInterrupt):
        training.train(
            interrupted, train, val, run_b, InterruptingCollator(DataCollatorWithPadding(tokenizer), 22)
        )
    latest = json.loads((tmp_path / "b" / "checkpoints.json").read_text())["latest"]
    assert 0 < int(latest.split("-")[1]) < reference.steps

    resumed_model = tiny_bert(seed=5)  # different initial weights: everything must come from the checkpoint
    resumed = training.train(
        resumed_model, train, val, run_b, DataCollatorWithPadding(tokenizer), resume=True
    )
    assert resumed.steps == reference.steps
    assert resumed.history == reference.history
    assert_same_weights(weights(resumed_model), weights(full))


def test_resume_refuses_a_changed_config_or_another_model(tokenizer, tmp_path: Path) -> None:
    train = make_dataset(32)
    run = config(output_dir=str(tmp_path), epochs=1)
    training.train(tiny_bert(), train, None, run, DataCollatorWithPadding(tokenizer))
    with pytest.raises(ValueError, match="lr"):
        training.train(tiny_bert(), train, None, config(output_dir=str(tmp_path), epochs=1, lr=1e-4),
                       DataCollatorWithPadding(tokenizer), resume=True)  # fmt: skip
    with pytest.raises(checkpoints.CheckpointError, match="different model"):
        training.train(tiny_bert(num_labels=3), make_dataset(32, num_labels=3), None, run,
                       DataCollatorWithPadding(tokenizer), resume=True)  # fmt: skip
    with pytest.raises(ValueError, match="no checkpoint"):
        training.train(tiny_bert(), train, None, config(output_dir=str(tmp_path / "empty")),
                       DataCollatorWithPadding(tokenizer), resume=True)  # fmt: skip


def test_damaged_checkpoint_is_detected(tokenizer, tmp_path: Path) -> None:
    training.train(tiny_bert(), make_dataset(32), None, config(output_dir=str(tmp_path), epochs=1),
                   DataCollatorWithPadding(tokenizer))  # fmt: skip
    folder = training.read_latest(tmp_path)
    checkpoints.verify_checkpoint(folder)
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(checkpoints.CheckpointError, match="damaged"):
        checkpoints.load_checkpoint(folder, tiny_bert())


def test_stray_temporary_folder_from_a_killed_save_is_ignored(tokenizer, tmp_path: Path) -> None:
    run = config(output_dir=str(tmp_path), epochs=1)
    training.train(tiny_bert(), make_dataset(32), None, run, DataCollatorWithPadding(tokenizer))
    (tmp_path / ".tmp-step-0000099-abc").mkdir()  # what a save killed half-way leaves
    (tmp_path / ".tmp-step-0000099-abc" / "model.safetensors").write_bytes(b"half")
    assert training.read_latest(tmp_path).name == "step-0000004"
    checkpoints.prune_checkpoints(tmp_path)
    assert not (tmp_path / ".tmp-step-0000099-abc").exists()


def test_gradient_accumulation_matches_a_larger_batch(tokenizer) -> None:
    train = make_dataset(64)
    results = []
    for batch_size, accum in ((16, 1), (8, 2), (4, 4)):
        # float64: Adam divides by sqrt(v), which magnifies float32's summation-order rounding
        # (seen: 1.3e-5 on one of 640 weights on an AMD EPYC), so float32 would need a loose
        # tolerance; in float64 the three runs agree to 1e-10 if the accumulation is exact.
        model = tiny_bert(dropout=0.0).double()
        training.train(model, train, None, config(batch_size=batch_size, grad_accum_steps=accum, epochs=1),
                       DataCollatorWithPadding(tokenizer))  # fmt: skip
        results.append(weights(model))
    for other in results[1:]:
        for key in results[0]:
            torch.testing.assert_close(other[key], results[0][key], rtol=1e-9, atol=1e-10)


def _step_gradients(run) -> list[dict[int, torch.Tensor]]:
    """The gradients every optimizer step of ``run()`` applied (before the step, after any clipping)."""
    seen: list[dict[int, torch.Tensor]] = []

    def hook(optimizer, args, kwargs) -> None:
        params = [p for group in optimizer.param_groups for p in group["params"]]
        seen.append({i: p.grad.detach().clone() for i, p in enumerate(params) if p.grad is not None})

    handle = register_optimizer_step_pre_hook(hook)
    try:
        run()
    finally:
        handle.remove()
    return seen


def with_label_holes(dataset: Dataset, seed: int = 5) -> Dataset:
    """About a third of the token labels set to -100 (ignored), so examples count different units."""
    rng = np.random.default_rng(seed)
    return dataset.map(lambda row: {"labels": [y if rng.random() > 0.3 else -100 for y in row["labels"]]})


@pytest.mark.parametrize("task", ["token", "sequence"])
def test_accumulated_gradients_equal_one_large_batch(tokenizer, task: str) -> None:
    """4 micro-batches of 8 take the steps of one batch of 32: the same gradients, then the same weights.

    76 examples of 3-20 tokens: the batch-32 run has batches of 32, 32 and 12; the accumulated run
    has groups of 8+8+8+8 twice, then an uneven last group of 8+4. With token labels each
    micro-batch holds a different number of labelled tokens, so a mean of the micro-batches' mean
    losses would weight tokens of short micro-batches more than those of long ones.
    """
    token = task == "token"
    train = make_dataset(76, token_labels=token, num_labels=3)
    if token:
        train = with_label_holes(train)
    collator = DataCollatorForTokenClassification(tokenizer) if token else DataCollatorWithPadding(tokenizer)
    runs = []
    for batch_size, accum in ((32, 1), (8, 4)):
        model = tiny_bert(num_labels=3, dropout=0.0, token=token).double()  # float64: see the test above
        settings = config(batch_size=batch_size, grad_accum_steps=accum, epochs=2, max_grad_norm=None,
                          group_by_length=False)  # fmt: skip
        grads = _step_gradients(lambda m=model, s=settings: training.train(m, train, None, s, collator))
        runs.append((grads, weights(model)))
    (grads_big, weights_big), (grads_accum, weights_accum) = runs
    assert len(grads_big) == len(grads_accum) == 6  # 3 steps an epoch
    for step, (big, accum) in enumerate(zip(grads_big, grads_accum)):
        assert big.keys() == accum.keys()
        for i in big:
            torch.testing.assert_close(accum[i], big[i], rtol=1e-9, atol=1e-12, msg=f"step {step + 1}, param {i}")
    for key in weights_big:
        torch.testing.assert_close(weights_accum[key], weights_big[key], rtol=1e-9, atol=1e-10, msg=key)


def test_accumulated_causal_lm_gradients_equal_one_large_batch(tokenizer) -> None:
    """A causal LM's loss skips each example's first label (it predicts token t+1 from tokens <= t)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    rows = make_dataset(40).to_list()
    data = Dataset.from_list([{"input_ids": r["input_ids"], "attention_mask": r["attention_mask"],
                               "labels": r["input_ids"]} for r in rows])  # fmt: skip
    collator = DataCollatorForTokenClassification(tokenizer)  # pads labels with -100
    runs = []
    for batch_size, accum in ((20, 1), (5, 4)):
        torch.manual_seed(0)
        gpt = GPT2Config(vocab_size=VOCAB, n_positions=32, n_embd=16, n_layer=1, n_head=2, resid_pdrop=0.0,
                         embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=2, eos_token_id=3)  # fmt: skip
        model = GPT2LMHeadModel(gpt).double()
        settings = config(batch_size=batch_size, grad_accum_steps=accum, epochs=1, max_grad_norm=None,
                          group_by_length=False)  # fmt: skip
        runs.append(_step_gradients(lambda m=model, s=settings: training.train(m, data, None, s, collator)))
    assert len(runs[0]) == len(runs[1]) == 2
    for big, accum in zip(*runs):
        for i in big:
            # transformers computes the causal LM loss on float32 logits (logits.float()), so the
            # tolerance is float32 rounding (seen: 1e-5 relative); unweighted micro-batches miss by 5e-2
            torch.testing.assert_close(accum[i], big[i], rtol=1e-4, atol=1e-7)

def test_early_stopping_stops_and_restores_the_best(tokenizer) -> None:
    scores = iter([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])  # the metric only gets worse after the first evaluation

    def falling_metric(logits, labels):
        return {"score": next(scores)}

    model = tiny_bert()
    snapshots = []

    def recording_metric(logits, labels):
        snapshots.append(weights(model))
        return falling_metric(logits, labels)

    result = training.train(
        model, make_dataset(64), make_dataset(16, seed=1),
        config(epochs=6, eval_every=2, early_stopping_metric="score", patience=2),
        DataCollatorWithPadding(tokenizer), compute_metrics=recording_metric,
    )  # fmt: skip
    assert result.stopped_early
    assert result.steps == 6 and len(result.history["eval"]) == 3
    assert result.best_step == 2 and result.best_metrics["score"] == 0.9
    assert_same_weights(weights(model), snapshots[0])


def test_loss_as_the_early_stopping_metric_is_minimised() -> None:
    assert training.TrainConfig().higher_is_better is False
    assert training.TrainConfig(early_stopping_metric="f1").higher_is_better is True
    assert (
        training.TrainConfig(early_stopping_metric="f1", early_stopping_mode="min").higher_is_better is False
    )


# ----------------------------------------------------------------------------- batching
def test_length_grouped_batches_are_deterministic_and_pad_less() -> None:
    lengths = np.random.default_rng(0).integers(2, 60, size=500).tolist()
    grouped = batching.batch_order(lengths, 16, seed=3, epoch=0, group_by_length=True, group_size=8)
    assert grouped == batching.batch_order(lengths, 16, seed=3, epoch=0, group_by_length=True, group_size=8)
    assert grouped != batching.batch_order(lengths, 16, seed=3, epoch=1, group_by_length=True, group_size=8)
    assert sorted(i for batch in grouped for i in batch) == list(range(500))
    plain = batching.batch_order(lengths, 16, seed=3, epoch=0)
    assert sorted(i for batch in plain for i in batch) == list(range(500))
    waste_grouped = batching.padding_waste(lengths, grouped)["pad_fraction"]
    waste_plain = batching.padding_waste(lengths, plain)["pad_fraction"]
    assert waste_grouped < waste_plain / 3


def test_model_input_names_and_column_selection(tokenizer) -> None:
    names, as_kwargs = batching.model_input_names(tiny_bert())
    assert as_kwargs and {"input_ids", "attention_mask", "labels"} <= names
    examples = batching.prepare_examples(make_dataset(4), tiny_bert(), "train")
    assert set(examples[0]) == {"input_ids", "attention_mask", "labels"}  # 'text' dropped


# ----------------------------------------------------------------------------- other models and tasks
class BagOfEmbeddings(torch.nn.Module):
    """A plain module whose forward takes the batch dict and returns a dict with loss and logits."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.EmbeddingBag(VOCAB, 8, mode="mean", padding_idx=0)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, batch):
        logits = self.head(self.embed(batch["input_ids"]))
        out = {"logits": logits}
        if "labels" in batch:
            out["loss"] = torch.nn.functional.cross_entropy(logits, batch["labels"])
        return out


def test_plain_module_trains(tokenizer) -> None:
    torch.manual_seed(0)
    model = BagOfEmbeddings()
    train = make_dataset(64)
    before = training.evaluate(model, train, DataCollatorWithPadding(tokenizer))["loss"]
    result = training.train(model, train, train, config(epochs=5, lr=3e-2),
                            DataCollatorWithPadding(tokenizer), metrics.classification_metrics)  # fmt: skip
    assert result.history["eval"][-1]["loss"] < before - 0.05  # it fits its training data
    assert 0.0 <= result.best_metrics["accuracy"] <= 1.0


def test_token_classification_and_predict_order(tokenizer) -> None:
    train, val = (
        make_dataset(48, token_labels=True, num_labels=3),
        make_dataset(12, seed=1, token_labels=True, num_labels=3),
    )
    model = tiny_bert(num_labels=3, token=True)
    collator = DataCollatorForTokenClassification(tokenizer)
    id2label = {0: "O", 1: "B-X", 2: "I-X"}
    result = training.train(model, train, val, config(epochs=1), collator, metrics.ner_metrics(id2label))
    assert {"f1", "token_accuracy", "loss"} <= set(result.best_metrics)
    # 3 batches of different widths; float32: this checks the order, not bf16 rounding (autocast on native-bf16 CPUs)
    out = training.predict(model, val, collator, batch_size=4, bf16=False)
    width = max(len(x) for x in val["input_ids"])
    assert out.logits.shape == (12, width, 3) and out.labels.shape == (12, width)
    # predictions come back in the data set's order even though inference sorts by length
    for i in (0, 5, 11):
        ids = torch.tensor([val[i]["input_ids"]])
        with torch.no_grad():
            alone = model(input_ids=ids).logits[0].numpy()
        np.testing.assert_allclose(out.logits[i, : ids.shape[1]], alone, rtol=1e-4, atol=1e-5)
        assert (out.labels[i, ids.shape[1] :] == -100).all()


def test_predict_without_labels(tokenizer) -> None:
    data = make_dataset(10).remove_columns("labels")
    out = training.predict(tiny_bert(), data, DataCollatorWithPadding(tokenizer))
    assert out.logits.shape == (10, 2) and out.labels is None and out.loss is None


# ----------------------------------------------------------------------------- clear errors
def test_errors_name_the_problem(tokenizer) -> None:
    collate = DataCollatorWithPadding(tokenizer)
    with pytest.raises(ValueError, match="train_dataset is empty"):
        training.train(tiny_bert(), make_dataset(4).select([]), None, config(), collate)
    with pytest.raises(ValueError, match="tokenize it first"):
        training.train(
            tiny_bert(), Dataset.from_dict({"text": ["a b"], "label": [0]}), None, config(), collate
        )
    with pytest.raises(ValueError, match="no 'label' or 'labels'"):
        training.train(tiny_bert(), make_dataset(4).remove_columns("labels"), None, config(), collate)
    with pytest.raises(ValueError, match="outside 0..1"):
        training.train(tiny_bert(), make_dataset(8, num_labels=3), None, config(), collate)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        training.train(tiny_bert(), make_dataset(4), None, {"epochs": 1}, collate)
    with pytest.raises(TypeError, match="collator"):
        training.train(tiny_bert(), make_dataset(4), None, config(), collator="pad")
    with pytest.raises(ValueError, match="patience"):
        training.train(tiny_bert(), make_dataset(4), None, config(patience=1), collate)
    with pytest.raises(ValueError, match="early_stopping_metric='f1'"):
        training.train(
            tiny_bert(), make_dataset(8), make_dataset(4), config(early_stopping_metric="f1"), collate
        )
    frozen = tiny_bert()
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        training.train(frozen, make_dataset(4), None, config(), collate)


def test_class_count_mismatch_is_reported(tokenizer) -> None:
    features = Features({"input_ids": Sequence(Value("int64")), "label": ClassLabel(names=["a", "b", "c"])})
    data = Dataset.from_dict({"input_ids": [[2, 5, 3]], "label": [0]}, features=features)
    with pytest.raises(ValueError, match="3 classes but the model's head has num_labels=2"):
        training.train(tiny_bert(), data, None, config(), DataCollatorWithPadding(tokenizer))


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", 0), ("batch_size", -1), ("lr", 5), ("warmup_ratio", 1.0), ("max_grad_norm", 0.0),
     ("early_stopping_mode", "up"), ("eval_every", 0), ("grad_accum_steps", 1.5)],
)  # fmt: skip
def test_bad_config_values(field: str, value) -> None:
    with pytest.raises(ValueError, match=f"TrainConfig.{field}"):
        training.TrainConfig(**{field: value})


def test_frozen_parameters_are_saved_as_trainable_only(tmp_path: Path) -> None:
    model = tiny_bert()
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith("classifier"))
    checkpoints.save_weights(model, tmp_path / "w.safetensors")
    from safetensors.torch import load_file

    assert set(load_file(str(tmp_path / "w.safetensors"))) == {"classifier.weight", "classifier.bias"}
    other = tiny_bert(seed=3)
    for name, p in other.named_parameters():
        p.requires_grad_(name.startswith("classifier"))
    checkpoints.load_weights(other, tmp_path / "w.safetensors")
    assert torch.equal(other.classifier.weight, model.classifier.weight)


# ----------------------------------------------------------------------------- plots
def test_training_plots_and_their_errors() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from sft_helpers.plotting import plot_confusion_matrix, plot_history, plot_length_histogram

    history = {
        "train": [{"step": s, "loss": 1.0 / s} for s in range(1, 11)],
        "eval": [{"step": 5, "loss": 0.3, "accuracy": 0.8}, {"step": 10, "loss": 0.2, "accuracy": 0.9}],
    }
    assert len(plot_history(history, metric="accuracy").axes) == 2
    assert len(plot_history(history).axes) == 1
    with pytest.raises(ValueError, match="metric='f1'"):
        plot_history(history, metric="f1")
    with pytest.raises(ValueError, match="empty"):
        plot_history({"train": [], "eval": []})
    ax = plot_confusion_matrix(np.array([[5, 1], [2, 7]]), ["neg", "pos"], normalize=True)
    assert [t.get_text() for t in ax.texts] == ["0.83", "0.17", "0.22", "0.78"]
    with pytest.raises(ValueError, match="labels has 3 names"):
        plot_confusion_matrix(np.eye(2), ["a", "b", "c"])
    ax = plot_length_histogram([3, 5, 9, 12], max_length=10)
    assert ax.get_legend() is not None
    with pytest.raises(ValueError, match="non-empty"):
        plot_length_histogram([])


# ----------------------------------------------------------------------------- a killed process
CHILD = """
import os, signal, sys
sys.path.insert(0, {tests!r})
os.environ["SFT_DEVICE"] = "cpu"
import torch
torch.set_num_threads(1)
from transformers import DataCollatorWithPadding
import test_training as t
from sft_helpers import checkpoints, training

mode, kill_at = {mode!r}, {kill_at}
calls = 0
if mode == "save":  # die while the kill_at-th checkpoint is being written (weights already on disk)
    original = checkpoints.save_file
    def dying_save_file(*args, **kwargs):
        global calls
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)
    checkpoints.save_file = dying_save_file
inner = DataCollatorWithPadding(t.make_tokenizer())
def collate(features):
    global calls
    if mode == "batch":
        calls += 1
        if calls == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return inner(features)
training.train(t.tiny_bert(), t.make_dataset(72), t.make_dataset(16, seed=1),
               t.config(output_dir={out!r}, **{settings!r}), collate)
"""


@pytest.mark.parametrize(("mode", "kill_at"), [("batch", 17), ("save", 3)])
def test_sigkilled_run_resumes_to_the_same_weights(
    tokenizer, tmp_path: Path, mode: str, kill_at: int
) -> None:
    """SIGKILL mid-epoch, or in the middle of writing a checkpoint: resuming still ends bit-identical."""
    import subprocess
    import sys

    settings = {"epochs": 3, "eval_every": 2}
    train, val = make_dataset(72), make_dataset(16, seed=1)
    full = tiny_bert()
    training.train(
        full,
        train,
        val,
        config(output_dir=str(tmp_path / "a"), **settings),
        DataCollatorWithPadding(tokenizer),
    )

    out = tmp_path / "b"
    code = CHILD.format(
        tests=str(Path(__file__).parent), mode=mode, kill_at=kill_at, out=str(out), settings=settings
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert child.returncode == -9, child.stderr[-2000:]  # killed, not finished
    latest = training.read_latest(out)
    assert latest is not None and int(latest.name.split("-")[1]) < 27
    checkpoints.verify_checkpoint(latest)  # the pointer only ever names complete checkpoints

    resumed = tiny_bert(seed=9)
    training.train(
        resumed,
        train,
        val,
        config(output_dir=str(out), **settings),
        DataCollatorWithPadding(tokenizer),
        resume=True,
    )
    assert_same_weights(weights(resumed), weights(full))


def test_train_puts_the_determinism_switch_back(tokenizer) -> None:
    torch.use_deterministic_algorithms(False)
    try:
        training.train(tiny_bert(), make_dataset(16), None, config(epochs=1), DataCollatorWithPadding(tokenizer))
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(False)
