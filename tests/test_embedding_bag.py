"""EmbeddingBagClassifier and train_embedding_bag: masking, outputs, determinism, learning."""

from __future__ import annotations

import random

import datasets
import pytest
import torch
from torch import nn

from sft_helpers.embedding_bag import EmbeddingBagClassifier, predict_labels, train_embedding_bag
from sft_helpers.models import bundled_encoder_path


@pytest.fixture(scope="module")
def tokenizer():
    import transformers

    return transformers.AutoTokenizer.from_pretrained(str(bundled_encoder_path()), local_files_only=True)


def _toy_split(n: int, seed: int) -> datasets.Dataset:
    """Sentences whose label is decided by one sentiment word among neutral filler."""
    rng = random.Random(seed)
    words = {1: ["great", "wonderful", "excellent", "lovely"], 0: ["awful", "terrible", "boring", "poor"]}
    filler = "the film was really quite long and its plot".split()
    texts, labels = [], []
    for _ in range(n):
        label = rng.randrange(2)
        sentence = rng.sample(filler, 4)
        sentence.insert(rng.randrange(5), rng.choice(words[label]))
        texts.append(" ".join(sentence))
        labels.append(label)
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    return datasets.Dataset.from_dict({"text": texts, "label": labels}, features=features)


@pytest.fixture(scope="module")
def toy_data() -> datasets.DatasetDict:
    return datasets.DatasetDict(
        train=_toy_split(300, 0), validation=_toy_split(80, 1), test=_toy_split(80, 2)
    )


def test_forward_is_masked_mean_then_linear() -> None:
    torch.manual_seed(0)
    model = EmbeddingBagClassifier(vocab_size=50, dim=6, num_labels=3, padding_idx=0)
    ids = torch.tensor([[5, 7, 9, 0], [3, 4, 11, 12]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    out = model(input_ids=ids, attention_mask=mask)
    table = model.bag.weight
    means = torch.stack([table[[5, 7, 9]].mean(0), table[[3, 4]].mean(0)])  # (2, 6)
    torch.testing.assert_close(out.logits, model.classifier(means))
    assert out.loss is None and out.logits.shape == (2, 3)


def test_padding_does_not_change_logits_and_loss_matches_cross_entropy() -> None:
    torch.manual_seed(0)
    model = EmbeddingBagClassifier(vocab_size=40, dim=4, num_labels=2)
    short = model(input_ids=torch.tensor([[2, 3, 4]]), attention_mask=torch.ones(1, 3, dtype=torch.long))
    padded = model(input_ids=torch.tensor([[2, 3, 4, 0, 0]]), attention_mask=torch.tensor([[1, 1, 1, 0, 0]]))
    torch.testing.assert_close(short.logits, padded.logits)
    labels = torch.tensor([1])
    out = model(input_ids=torch.tensor([[2, 3, 4]]), labels=labels, token_type_ids=torch.zeros(1, 3))
    torch.testing.assert_close(out["loss"], nn.functional.cross_entropy(out.logits, labels))


def test_sparse_and_dense_tables_give_the_same_gradient_rows() -> None:
    ids, labels = torch.tensor([[1, 2, 3], [4, 5, 0]]), torch.tensor([0, 1])
    grads = []
    for sparse in (False, True):
        torch.manual_seed(0)
        model = EmbeddingBagClassifier(10, 4, 2, sparse=sparse)
        model(input_ids=ids, labels=labels).loss.backward()
        grad = model.bag.weight.grad
        grads.append(grad.to_dense() if grad.is_sparse else grad)
    torch.testing.assert_close(grads[0], grads[1])


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"vocab_size": 0, "dim": 4, "num_labels": 2}, "vocab_size"),
        ({"vocab_size": 10, "dim": -1, "num_labels": 2}, "dim"),
        ({"vocab_size": 10, "dim": 4, "num_labels": 0}, "num_labels"),
        ({"vocab_size": 10, "dim": 4, "num_labels": 2, "padding_idx": 10}, "padding_idx"),
    ],
)
def test_bad_constructor_arguments_name_the_argument(kwargs, words) -> None:
    with pytest.raises(ValueError, match=words):
        EmbeddingBagClassifier(**kwargs)


def test_bad_forward_inputs_say_what_was_expected() -> None:
    model = EmbeddingBagClassifier(10, 4, 2)
    with pytest.raises(ValueError, match=r"\(batch, seq\)"):
        model(input_ids=torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="attention_mask"):
        model(input_ids=torch.tensor([[1, 2, 3]]), attention_mask=torch.ones(1, 2))


def test_training_learns_the_toy_task_and_is_deterministic(tokenizer, toy_data) -> None:
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    model_a, scores_a = train_embedding_bag(toy_data, tokenizer, epochs=4, dim=16, lr=2e-2, seed=3)
    assert torch.equal(state, torch.random.get_rng_state()), "training must not move the global RNG"
    assert torch.get_num_threads() == threads, "training must give back the thread setting"
    model_b, scores_b = train_embedding_bag(toy_data, tokenizer, epochs=4, dim=16, lr=2e-2, seed=3)
    for key, value in model_a.state_dict().items():
        assert torch.equal(value, model_b.state_dict()[key]), key
    for key in ("train_accuracy", "validation_accuracy", "test_accuracy"):
        assert scores_a[key] == scores_b[key]
    assert scores_a["test_accuracy"] >= 0.95 and scores_a["validation_accuracy"] >= 0.95
    assert model_a.bag.weight.shape == (len(tokenizer), 16)
    _, scores_c = train_embedding_bag(toy_data, tokenizer, epochs=1, dim=16, seed=4)
    assert scores_c["epochs"] == 1
    assert predict_labels(model_a, tokenizer, ["a wonderful lovely film", "an awful boring film"]) == [1, 0]


def test_training_rejects_data_without_the_schema(tokenizer) -> None:
    bad = datasets.DatasetDict(train=datasets.Dataset.from_dict({"sentence": ["a"], "label": [0]}))
    with pytest.raises(ValueError, match="text"):
        train_embedding_bag(bad, tokenizer)
    with pytest.raises(ValueError, match="train"):
        train_embedding_bag(datasets.DatasetDict(test=bad["train"]), tokenizer)
    good = datasets.DatasetDict(train=datasets.Dataset.from_dict({"text": ["a b"], "label": [0]}))
    with pytest.raises(ValueError, match="epochs"):
        train_embedding_bag(good, tokenizer, epochs=0)
