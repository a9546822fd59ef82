"""The `train` command (sft_helpers.train_cli) on tiny subsets of the bundled data, in one process.

The same command under torchrun is tested in tests/test_distributed.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import BertConfig, BertForSequenceClassification

from sft_helpers import train_cli
from sft_helpers.data.bundled import CLASSIFICATION_LABELS
from sft_helpers.models import load_pretrained

TINY = ["--max-eval-examples", "8", "--batch-size", "8", "--epochs", "1", "--max-length", "32"]
QUIET = ["--no-progress", "--threads", "1", "--no-test"]


@pytest.fixture(autouse=True)
def _cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SFT_DEVICE", "cpu")


def classify(output_dir: Path, *extra: str) -> int:
    args = ["--task", "classification", "--max-train-examples", "16", *TINY, *QUIET]
    return train_cli.main([*args, "--output-dir", str(output_dir), *extra])


def test_help_says_the_batch_size_is_global(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "GLOBAL batch size" in text and "torchrun" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--task", "sentiment"],
        ["--data", "bundled"],  # no --task
        ["--task", "ner", "--epochs", "0"],
        ["--task", "ner", "--dropout", "1.5"],
        ["--task", "ner", "--bf16", "maybe"],
    ],
)
def test_bad_arguments_exit_with_usage(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_cli.main(argv)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_missing_data_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nowhere" / "train.csv"
    assert train_cli.main(["--task", "classification", "--data", str(missing), *QUIET]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "nowhere" in err


def test_csv_without_a_label_column_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "train.csv").write_text("text,stars\ngreat,5\nbad,1\n", encoding="utf-8")
    code = train_cli.main(["--task", "classification", "--data", str(tmp_path), *QUIET])
    assert code == 2
    err = capsys.readouterr().err
    assert "label" in err and "train.csv" in err


def test_set_dropout_turns_every_dropout_off() -> None:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32
    )
    model = BertForSequenceClassification(config)
    assert train_cli.set_dropout(model, 0.0) >= 4
    assert model.config.hidden_dropout_prob == 0.0 == model.config.attention_probs_dropout_prob
    ids = torch.randint(3, 30, (3, 7))
    model.train()
    training_out = model(input_ids=ids).logits
    model.eval()
    torch.testing.assert_close(training_out, model(input_ids=ids).logits, rtol=0, atol=0)
    with pytest.raises(ValueError, match="p must be"):
        train_cli.set_dropout(model, 1.0)


def test_classification_run_saves_resumes_and_repeats_bit_for_bit(tmp_path: Path, capsys) -> None:
    first = tmp_path / "first"
    assert classify(first) == 0
    out = capsys.readouterr().out
    assert "best validation at step 2" in out
    summary = json.loads((first / "metrics.json").read_text())
    assert summary["steps"] == 2 and summary["world_size"] == 1
    assert set(summary["best_validation"]) == {"loss", "accuracy", "macro_f1"}
    assert 0.0 <= summary["best_validation"]["accuracy"] <= 1.0
    model_dir = first / "model"
    assert (model_dir / "model.safetensors").is_file() and (model_dir / "tokenizer.json").is_file()
    assert not list(model_dir.glob("*.bin"))  # safetensors only
    labels = list(CLASSIFICATION_LABELS)
    model, tokenizer = load_pretrained(
        "sequence-classification", labels=labels, name=model_dir, verbose=False
    )
    saved = json.loads((model_dir / "config.json").read_text())["id2label"]
    assert [saved[str(i)] for i in range(len(saved))] == labels  # the label names travel with the model
    assert model.num_labels == len(labels)
    assert tokenizer("good value")["input_ids"][0] == tokenizer.cls_token_id

    # the same folder again: refused without --resume; with it, the finished run is taken up as it was
    assert classify(first) == 2
    assert "--resume" in capsys.readouterr().err
    before = load_file(str(model_dir / "model.safetensors"))
    assert classify(first, "--resume") == 0
    assert "Resumed from step-0000002" in capsys.readouterr().out
    after = load_file(str(model_dir / "model.safetensors"))
    assert all(torch.equal(before[k], after[k]) for k in before)

    # a second run with the same seed, from scratch: the same weights and numbers, bit for bit
    second = tmp_path / "second"
    assert classify(second) == 0
    again = load_file(str(second / "model" / "model.safetensors"))
    assert before.keys() == again.keys() and all(torch.equal(before[k], again[k]) for k in before)
    summary2 = json.loads((second / "metrics.json").read_text())
    assert summary2["best_validation"] == summary["best_validation"]
    assert summary2["final_train_loss"] == summary["final_train_loss"]
    # --overwrite starts afresh in a used folder
    assert classify(second, "--overwrite", "--seed", "1") == 0
    other = load_file(str(second / "model" / "model.safetensors"))
    assert not torch.equal(other["classifier.weight"], before["classifier.weight"])


def test_ner_run_trains_and_reports_entity_scores(tmp_path: Path, capsys) -> None:
    args = ["--task", "ner", "--max-train-examples", "16", *TINY, "--no-progress", "--threads", "1"]
    assert train_cli.main([*args, "--output-dir", str(tmp_path), "--label-all-subwords"]) == 0
    summary = json.loads((tmp_path / "metrics.json").read_text())
    assert set(summary["best_validation"]) == {"loss", "precision", "recall", "f1", "token_accuracy"}
    assert set(summary["test"]) == set(summary["best_validation"])  # evaluated on the test split too
    assert summary["config"]["early_stopping_metric"] == "f1"
    saved = json.loads((tmp_path / "model" / "config.json").read_text())
    assert set(saved["id2label"].values()) >= {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}
    out = capsys.readouterr().out
    assert "test:" in out and "f1" in out


def test_debug_shows_the_traceback_of_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    missing = tmp_path / "nothing-here"
    assert train_cli.main(["--task", "classification", "--data", str(missing), *QUIET]) == 2
    assert "add --debug" in capsys.readouterr().err
    with pytest.raises((FileNotFoundError, ValueError)):
        train_cli.main(["--task", "classification", "--data", str(missing), "--debug", *QUIET])


def test_a_bug_keeps_its_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Only user mistakes become one line: a ValueError from inside the training loop is a bug and raises."""
    from sft_helpers import training

    def broken_train(*args, **kwargs):
        raise ValueError("an internal bug, not the user's mistake")

    monkeypatch.setattr(training, "train", broken_train)
    with pytest.raises(ValueError, match="internal bug") as info:
        classify(tmp_path / "run")
    assert not isinstance(info.value, train_cli.UserError)
    assert "add --debug" not in capsys.readouterr().err


def test_a_bad_option_value_is_one_line_and_a_user_error_with_debug(tmp_path: Path, capsys) -> None:
    assert classify(tmp_path / "run", "--lr", "5") == 2  # TrainConfig refuses it: the user's mistake
    err = capsys.readouterr().err
    assert err.startswith("error: the training options:") and "lr" in err and "Traceback" not in err
    with pytest.raises(train_cli.UserError, match="lr") as info:
        classify(tmp_path / "run", "--lr", "5", "--debug")
    assert isinstance(info.value.__cause__, ValueError)  # --debug shows where it came from
