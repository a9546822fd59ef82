"""sft_helpers.experiments: grid runner, label noise, subsets, leakage, freezing, LoRA, memory."""

from __future__ import annotations

import random
from collections import Counter

import pandas as pd
import pytest
import torch
from datasets import ClassLabel, Dataset, Features, Value
from transformers import BertConfig, BertForSequenceClassification

from sft_helpers import experiments as ex
from sft_helpers.data.stats import near_duplicate_share


def labelled(n: int, num_labels: int = 3, seed: int = 0) -> Dataset:
    rng = random.Random(seed)
    words = "good bad fine great awful battery screen strap lid zipper works broke".split()
    features = Features({"text": Value("string"), "label": ClassLabel(num_classes=num_labels)})
    rows = [
        {
            "text": " ".join(rng.choices(words, k=rng.randint(4, 9))) + f" item{i}",
            "label": rng.randrange(num_labels),
        }
        for i in range(n)
    ]
    return Dataset.from_list(rows, features=features)


def tiny_bert(num_labels: int = 3) -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
        num_labels=num_labels,
    )
    return BertForSequenceClassification(config)


# ----------------------------------------------------------------------------- grid runner
def noisy_train(lr: float, batch_size: int, seed: int) -> dict:
    return {
        "val_accuracy": lr * 1000 + torch.rand(1).item(),
        "test_accuracy": random.random(),
        "bs": batch_size,
    }


def test_run_grid_shape_columns_and_reproducible():
    configs = ex.grid(lr=[1e-4, 1e-3], batch_size=[8, 32])
    assert len(configs) == 4 and configs[0] == {"lr": 1e-4, "batch_size": 8}
    a = ex.run_grid(configs, noisy_train, seeds=[0, 1, 2], progress=False)
    b = ex.run_grid(configs, noisy_train, seeds=[0, 1, 2], progress=False)
    assert a.shape[0] == 12
    assert {"lr", "batch_size", "seed", "val_accuracy", "test_accuracy", "seconds"} <= set(a.columns)
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"))
    assert a.groupby("seed")["val_accuracy"].nunique().min() > 1  # different configs differ
    c = ex.run_grid(configs, noisy_train, seeds=[3], progress=False)
    assert not (c["test_accuracy"].to_numpy() == a[a.seed == 0]["test_accuracy"].to_numpy()).all()


def test_run_grid_shows_progress(capsys):
    ex.run_grid(ex.grid(lr=[1e-4, 1e-3]), noisy_train_bs, seeds=[0, 1], progress=True, desc="my runs")
    err = capsys.readouterr().err
    assert "my runs" in err and "4/4" in err


def noisy_train_bs(lr: float, seed: int) -> dict:
    return noisy_train(lr, 8, seed)


def test_run_grid_errors():
    with pytest.raises(ValueError, match="configs is empty"):
        ex.run_grid([], noisy_train)
    with pytest.raises(ValueError, match="seeds"):
        ex.run_grid(ex.grid(lr=[1e-4], batch_size=[8]), noisy_train, seeds=[])
    with pytest.raises(ValueError, match="'seed' key"):
        ex.run_grid([{"lr": 1, "batch_size": 2, "seed": 1}], noisy_train)
    with pytest.raises(TypeError, match="dict"):
        ex.run_grid([{"lr": 1.0}], lambda lr, seed: 0.5, progress=False)
    with pytest.raises(ValueError, match="non-empty list"):
        ex.grid(lr=1e-4)


def test_summarize_and_pick_best_config():
    results = pd.DataFrame(
        {
            "lr": [1, 1, 2, 2, 3, 3],
            "seed": [0, 1, 0, 1, 0, 1],
            "val_accuracy": [0.5, 0.7, 0.9, 0.1, 0.62, 0.62],  # best single run: lr 2; best mean: lr 3
            "test_accuracy": [0.9, 0.9, 0.1, 0.1, 0.2, 0.2],  # best test: lr 1
        }
    )
    table = ex.summarize(results, ["lr"], ["val_accuracy"])
    assert table["val_accuracy_mean"].round(3).tolist() == [0.6, 0.5, 0.62]
    assert table["val_accuracy_count"].tolist() == [2, 2, 2]
    assert ex.pick_best_config(results, ["lr"]) == {"lr": 3}
    assert ex.pick_best_config(results, ["lr"], "test_accuracy") == {"lr": 1}
    with pytest.raises(ValueError, match="no column"):
        ex.pick_best_config(results, ["batch_size"])


# ----------------------------------------------------------------------------- label noise
@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.3, 1.0])
def test_flip_labels_exact_fraction_never_same_seeded(fraction):
    labels = [random.Random(1).randrange(3) for _ in range(250)]
    kept = list(labels)
    out = ex.flip_labels(labels, fraction, seed=5, num_labels=3)
    assert labels == kept  # input untouched
    changed = [i for i in range(250) if out[i] != labels[i]]
    assert len(changed) == round(fraction * 250)
    assert out == ex.flip_labels(labels, fraction, seed=5, num_labels=3)
    if 0 < fraction < 1:
        assert out != ex.flip_labels(labels, fraction, seed=6, num_labels=3)


def test_flip_labels_targets_are_random_among_the_others():
    labels = [i % 3 for i in range(3000)]
    out = ex.flip_labels(labels, 0.5, seed=0, num_labels=3)
    pairs = Counter((a, b) for a, b in zip(labels, out) if a != b)
    for old in range(3):
        counts = [pairs[(old, new)] for new in range(3) if new != old]
        assert min(counts) > 0.4 * sum(counts)


def test_flip_labels_on_a_dataset_keeps_features_and_input():
    ds = labelled(100)
    out = ex.flip_labels(ds, 0.2, seed=0)
    assert out.features == ds.features and out["text"] == ds["text"]
    assert sum(a != b for a, b in zip(out["label"], ds["label"])) == 20
    with pytest.raises(ValueError, match="fraction"):
        ex.flip_labels(ds, 20, seed=0)
    with pytest.raises(ValueError, match="num_labels"):
        ex.flip_labels([0, 1], 0.5, seed=0)
    with pytest.raises(ValueError, match="ints in 0..2"):
        ex.flip_labels([0, 5], 0.5, seed=0, num_labels=3)


# ----------------------------------------------------------------------------- subsets
@pytest.mark.parametrize("n", [3, 16, 50, 99])
def test_stratified_subset_sizes_and_proportions(n):
    ds = labelled(300, seed=2)
    sub = ex.stratified_subset(ds, n, seed=0)
    assert len(sub) == n
    whole, part = Counter(ds["label"]), Counter(sub["label"])
    assert set(part) == set(whole)  # every label present
    for y in whole:
        assert abs(part[y] - n * whole[y] / len(ds)) <= 1
    assert sub["text"] == ex.stratified_subset(ds, n, seed=0)["text"]
    assert set(sub["text"]) <= set(ds["text"])


def test_stratified_subset_edges():
    ds = labelled(30)
    assert len(ex.stratified_subset(ds, 1000, seed=0)) == 30
    with pytest.raises(ValueError, match="smaller than the number of labels"):
        ex.stratified_subset(ds, 2, seed=0)
    with pytest.raises(ValueError, match="positive int"):
        ex.stratified_subset(ds, 0, seed=0)


# ----------------------------------------------------------------------------- leakage
def test_find_leakage_exact_and_near():
    pool = ["the battery died after two days", "great screen but the strap broke", "works fine"]
    queries = [
        "works fine",  # exact
        "The battery died after two dayss",  # one typo: 5/7 shared words
        "the battery died after two days!",  # punctuation and case only: Jaccard 1
        "something else entirely",
    ]
    found = ex.find_leakage(queries, pool, threshold=0.7)
    assert found["query"].tolist() == [0, 1, 2]
    assert found["match"].tolist() == [2, 0, 0]
    assert found["kind"].tolist() == ["exact", "near", "near"]
    assert found["jaccard"].iloc[1] == pytest.approx(5 / 7)


def test_find_leakage_agrees_with_the_data_cards_share():
    ds = labelled(400, seed=3)
    texts = ds["text"]
    queries = [t.replace("item", "thing") for t in texts[:60]] + [t + " and more" for t in texts[60:80]]
    found = ex.find_leakage(queries, texts[100:])
    assert len(found) / len(queries) == pytest.approx(near_duplicate_share(queries, texts[100:]))


def test_leak_into_replaces_test_items_with_train_items():
    train, test = labelled(200, seed=4), labelled(50, seed=5)
    leaky, positions = ex.leak_into(test, train, 10, seed=0)
    assert len(leaky) == 50 and len(positions) == 10 and leaky.features == test.features
    assert all(leaky[p]["text"] in set(train["text"]) for p in positions)
    found = ex.find_leakage(leaky["text"], train["text"])
    assert set(positions) <= set(found["query"])
    near, positions = ex.leak_into(test, train, 10, seed=0, near=True)
    assert not any(near[p]["text"] in set(train["text"]) for p in positions)
    assert test["text"] == labelled(50, seed=5)["text"]  # the input is unchanged


# ----------------------------------------------------------------------------- models
def test_freeze_lower_layers_counts():
    model = tiny_bert()
    total = ex.count_parameters(model)
    assert total["trainable"] == total["total"] == sum(p.numel() for p in model.parameters())
    counts = ex.freeze_lower_layers(model, 2)
    expected = sum(p.numel() for p in model.bert.encoder.layer[2].parameters())
    expected += sum(p.numel() for p in model.bert.pooler.parameters())
    expected += sum(p.numel() for p in model.classifier.parameters())
    assert counts == {"total": total["total"], "trainable": expected}
    assert not any(p.requires_grad for p in model.bert.embeddings.parameters())
    with pytest.raises(ValueError, match="0..3"):
        ex.freeze_lower_layers(tiny_bert(), 4)
    with pytest.raises(ValueError, match="BERT-like"):
        ex.freeze_lower_layers(torch.nn.Linear(2, 2), 1)


def test_add_lora_trains_only_adapters_and_head():
    model = tiny_bert()
    lora = ex.add_lora(model, r=4, target_modules=("query", "value"))
    counts = ex.count_parameters(lora)
    d, layers, labels = 16, 3, 3
    adapters = layers * 2 * (4 * d + d * 4)  # A (r, d) and B (d, r) for query and value in each layer
    head = d * labels + labels
    assert counts["trainable"] == adapters + head
    names = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert all("lora_" in n or "classifier" in n for n in names)
    ids = torch.tensor([[1, 5, 7, 2]])
    out = lora(input_ids=ids, labels=torch.tensor([1]))
    out.loss.backward()
    assert all(p.grad is not None for p in lora.parameters() if p.requires_grad)


def test_set_dropout_and_training_memory():
    model = tiny_bert()
    n = ex.set_dropout(model, 0.0)
    assert n > 0 and all(m.p == 0.0 for m in model.modules() if isinstance(m, torch.nn.Dropout))
    batch = {"input_ids": torch.randint(0, 50, (4, 10)), "labels": torch.tensor([0, 1, 2, 0])}
    full = ex.training_memory(model, batch)
    n_params = sum(p.numel() for p in model.parameters())
    assert full["weights"] == full["gradients"] == 4 * n_params and full["optimizer"] == 8 * n_params
    ex.freeze_lower_layers(model, 3)
    frozen = ex.training_memory(model, batch)
    assert frozen["gradients"] < full["gradients"] and 0 < frozen["activations"] < full["activations"]
    with pytest.raises(ValueError, match="labels"):
        ex.training_memory(model, {"input_ids": batch["input_ids"]})


def test_measure_reports_time_and_memory():
    with ex.Measure(device="cpu") as m:
        x = torch.ones(4_000_000)  # 16 MB
        _ = (x * 2).sum()
    assert m.seconds > 0 and m.peak_bytes >= 0


# ----------------------------------------------------------------------------- contrast pairs, stop words
def test_find_leakage_with_labels_skips_contrast_pairs():
    pool = ["I'm not happy with it.", "the battery died after two days", "I'm happy with it!"]
    pool_labels = [0, 0, 2]
    queries = ["I'm happy with it.", "The battery died after two dayss", "I'm happy with it."]
    query_labels = [0, 0, 2]  # query 0: its only near twin with label 0 is the negated review
    without = ex.find_leakage(queries, pool, threshold=0.7)
    assert without["query"].tolist() == [0, 1, 2]  # text alone: all three look leaked
    labelled_found = ex.find_leakage(queries, pool, 0.7, query_labels, pool_labels)
    # query 0 (label 0) has the same words as "I'm happy with it!" (label 2), and the negated
    # review (label 0) at Jaccard 5/6: a same-label twin above the threshold, so still a leak
    assert labelled_found["query"].tolist() == [0, 1, 2]
    assert labelled_found["match"].tolist() == [0, 1, 2]
    contrast_only = ex.find_leakage(["I'm happy with it."], ["I'm not happy with it."], 0.8, [2], [0])
    assert contrast_only.empty  # opposite labels: a contrast pair, not a leak
    shown = ex.find_leakage(
        ["I'm happy with it."], ["I'm not happy with it."], 0.8, [2], [0], include_contrast=True
    )
    assert shown["kind"].tolist() == ["contrast"]
    same = ex.find_leakage(["I'm happy with it."], ["I'm not happy with it."], 0.8, [2], [2])
    assert same["kind"].tolist() == ["near"]
    exact = ex.find_leakage(["works fine"], ["works fine"], 0.8, [1], [0])
    assert exact["kind"].tolist() == ["exact"]  # the same text is a leak whatever its label
    with pytest.raises(ValueError, match="both"):
        ex.find_leakage(queries, pool, 0.7, query_labels)
    with pytest.raises(ValueError, match="one label per text"):
        ex.find_leakage(queries, pool, 0.7, [0], pool_labels)


def test_remove_stop_words_deletes_negations():
    assert ex.remove_stop_words("This is not worth it.") == "worth"  # "not" goes, and the verdict flips
    assert ex.remove_stop_words("It never broke, but the lid is very loose!") == "broke, lid loose!"
    assert ex.remove_stop_words("Great battery", stop_words={"great"}) == "battery"
    assert ex.NEGATION_WORDS <= set(
        __import__("sklearn.feature_extraction.text", fromlist=["x"]).ENGLISH_STOP_WORDS
    ) | {"cannot"}
    with pytest.raises(TypeError):
        ex.remove_stop_words(["not", "a", "string"])


# ----------------------------------------------------------------------------- LoRA by hand, patience
def test_lora_linear_matches_peft_and_starts_at_the_base():
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    base = torch.nn.Linear(12, 9)
    holder = torch.nn.Sequential()
    holder.add_module("lin", torch.nn.Linear(12, 9))
    holder.lin.load_state_dict(base.state_dict())
    peft_model = get_peft_model(
        holder, LoraConfig(r=4, lora_alpha=8, target_modules=["lin"], lora_dropout=0.0)
    )
    mine = ex.LoRALinear(base, r=4, alpha=8)
    x = torch.randn(2, 5, 12)
    torch.testing.assert_close(mine(x), base(x))  # B = 0: the pretrained layer's output
    layer = peft_model.base_model.model.lin
    with torch.no_grad():
        layer.lora_B["default"].weight.normal_()
        mine.lora_A.copy_(layer.lora_A["default"].weight)
        mine.lora_B.copy_(layer.lora_B["default"].weight)
    torch.testing.assert_close(mine(x), peft_model(x))
    assert mine.scaling == layer.scaling["default"] == 2.0
    assert [n for n, p in mine.named_parameters() if p.requires_grad] == ["lora_A", "lora_B"]


def test_inject_lora_counts_and_logits_equal_peft():
    import copy

    model = tiny_bert()
    peft_model = ex.add_lora(copy.deepcopy(model), r=4, alpha=16, dropout=0.0).eval()
    mine = ex.inject_lora(copy.deepcopy(model), ex.LoRALinear, r=4, alpha=16).eval()
    assert ex.count_parameters(mine)["trainable"] == ex.count_parameters(peft_model)["trainable"]
    assert sum(isinstance(m, ex.LoRALinear) for m in mine.modules()) == 3 * 2
    with torch.no_grad():
        for name, module in peft_model.named_modules():
            if isinstance(getattr(module, "lora_A", None), torch.nn.ModuleDict):
                module.lora_B["default"].weight.normal_()
                target = mine.get_submodule(name.split("base_model.model.", 1)[-1])
                target.lora_A.copy_(module.lora_A["default"].weight)
                target.lora_B.copy_(module.lora_B["default"].weight)
        ids = torch.randint(0, 50, (3, 8))
        torch.testing.assert_close(mine(input_ids=ids).logits, peft_model(input_ids=ids).logits)
    with pytest.raises(ValueError, match="no nn.Linear"):
        ex.inject_lora(tiny_bert(), target_modules=("nothing",))


def test_patience_stop_follows_the_training_loop_rule():
    losses = [1.0, 0.9, 0.8, 0.85, 0.82, 0.81, 0.7]
    assert ex.patience_stop(losses, 3) == (5, 2)  # 3 evaluations without a new best after index 2
    assert ex.patience_stop(losses, 4) == (6, 6)  # never runs out: last index, best at the end
    assert ex.patience_stop([0.5, 0.6, 0.7], 1, higher_is_better=True) == (2, 2)
    assert ex.patience_stop([0.5, 0.4], 1, higher_is_better=True) == (1, 0)
    with pytest.raises(ValueError):
        ex.patience_stop(losses, 0)


# ----------------------------------------------------------------------------- train_and_evaluate
def _token_set(n: int, seed: int) -> Dataset:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        length = rng.randint(3, 12)
        ids = [rng.randrange(1, 50) for _ in range(length)]
        rows.append({"input_ids": ids, "attention_mask": [1] * length, "label": int(ids[0] % 3)})
    return Dataset.from_list(rows)


@pytest.mark.parametrize("eval_every", [None, 10**9])
def test_train_and_evaluate_reuses_the_last_evaluation_only_when_it_scored_these_weights(eval_every):
    """The watched set's scores equal a fresh evaluate() of the final weights (reused or not)."""
    from sft_helpers import metrics, training

    def collator(examples):  # pads input_ids and attention_mask with 0
        width = max(len(e["input_ids"]) for e in examples)
        out = {
            k: torch.tensor([e[k] + [0] * (width - len(e[k])) for e in examples])
            for k in ("input_ids", "attention_mask")
        }
        out["labels"] = torch.tensor([e["labels"] for e in examples])
        return out

    train, val, test = _token_set(40, 0), _token_set(24, 1), _token_set(16, 2)
    config = training.TrainConfig(
        epochs=3, batch_size=8, lr=5e-3, eval_every=eval_every, progress=False, verbose=False, bf16=False
    )
    model = tiny_bert()
    out = ex.train_and_evaluate(
        model, train, {"val": val, "test": test}, config, collator, metrics.classification_metrics
    )
    fresh_val = training.evaluate(model, val, collator, metrics.classification_metrics, bf16=False)
    fresh_test = training.evaluate(model, test, collator, metrics.classification_metrics, bf16=False)
    assert out["val_accuracy"] == pytest.approx(fresh_val["accuracy"])
    assert out["val_loss"] == pytest.approx(fresh_val["loss"], rel=1e-5)
    assert out["test_loss"] == pytest.approx(fresh_test["loss"], rel=1e-5)
    assert out["steps"] == 15 and "step" not in {k.split("_", 1)[1] for k in out if k.startswith("val_")}
