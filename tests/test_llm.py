"""The bundled SmolLM2: one real GGUF conversion per session into a temporary cache, then its
reuse, and damaged caches (flipped byte, missing manifest, wrong logits) detected and rebuilt."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from sft_helpers import llm
from sft_helpers.models import load_pretrained

pytest.importorskip("gguf")


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """A cache folder holding one real conversion (about 20 s and 1.5 GB), and its first report."""
    folder = tmp_path_factory.mktemp("llm-cache") / llm.CACHE_NAME
    report = llm.prepare_cache(folder, verbose=False)
    return folder, report


@pytest.fixture
def fast_rebuild(monkeypatch, converted):
    """Rebuilds that skip the slow GGUF dequantisation: the pristine converted copy stands in for it.

    Everything else of ``convert`` (saving, manifest, atomic replace) runs for real.
    """
    pristine, _ = converted

    def dequantise_from_pristine():
        return llm._load_folder(pristine)

    monkeypatch.setattr(llm, "_dequantise_gguf", dequantise_from_pristine)


@pytest.fixture
def damaged(tmp_path, converted):
    """A copy of the converted cache that a test may damage."""
    folder = tmp_path / "copy"
    shutil.copytree(converted[0], folder)
    return folder


def test_first_use_converts_and_writes_a_complete_manifest(converted):
    folder, report = converted
    assert report.action == "converted" and report.problem is None
    manifest = json.loads((folder / llm.MANIFEST).read_text())
    assert "model.safetensors" in manifest["files"] and "tokenizer.json" in manifest["files"]
    assert len(manifest["probe_logits"]) == len(range(0, 49152, llm.PROBE_STRIDE))
    assert llm.check_files(folder) is None
    assert not list(folder.parent.glob(".*.tmp-*")), "the temporary folder was left behind"


def test_second_use_reuses_the_verified_cache(converted, capsys):
    folder, first = converted
    model, tokenizer = llm.load_causal_lm(cache_dir=folder)
    report = llm.last_cache_report()
    assert report.action == "reused" and report.path == folder
    assert "reused cache" in capsys.readouterr().out
    assert not model.training
    assert next(model.parameters()).dtype == torch.float32
    # the safetensors copy computes what the freshly dequantised model computed
    assert llm.check_logits(folder, model, tokenizer) is None
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)


def test_load_pretrained_causal_lm_uses_the_cache(converted, monkeypatch):
    monkeypatch.setenv("SFT_CACHE_DIR", str(converted[0].parent))
    assert llm.default_cache_dir() == converted[0]
    model, tokenizer = load_pretrained("causal-lm", verbose=False)
    assert llm.last_cache_report().action == "reused"
    assert tokenizer.eos_token == "<|im_end|>"


def test_flipped_byte_in_weights_is_detected_and_rebuilt(damaged, fast_rebuild, capsys):
    weights = damaged / "model.safetensors"
    with weights.open("r+b") as handle:
        handle.seek(weights.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0x01]))
    problem = llm.check_files(damaged)
    assert problem is not None and "model.safetensors" in problem and "SHA-256" in problem
    report = llm.prepare_cache(damaged)
    out = capsys.readouterr().out
    assert report.action == "rebuilt" and "SHA-256" in report.problem
    assert out.count("\n") == 1 and "rejected" in out  # reported in one line
    assert llm.check_files(damaged) is None
    assert llm.prepare_cache(damaged, verbose=False).action == "reused"


def test_missing_manifest_means_an_interrupted_conversion(damaged, fast_rebuild):
    (damaged / llm.MANIFEST).unlink()
    assert "manifest is missing" in llm.check_files(damaged)
    report = llm.prepare_cache(damaged, verbose=False)
    assert report.action == "rebuilt" and "manifest" in report.problem


def test_wrong_reference_logits_are_detected(damaged, fast_rebuild):
    manifest = json.loads((damaged / llm.MANIFEST).read_text())
    manifest["probe_logits"][0] += 1.0
    (damaged / llm.MANIFEST).write_text(json.dumps(manifest))
    assert llm.check_files(damaged) is None  # the files match their hashes...
    report = llm.prepare_cache(damaged, verbose=False)
    assert report.action == "rebuilt" and "logits" in report.problem  # ...but the model does not


def test_missing_weights_file_is_detected(damaged):
    (damaged / "model.safetensors").unlink()
    assert llm.check_files(damaged) == "model.safetensors is missing"


def test_named_local_folder_and_bad_names(converted, tmp_path):
    model, tokenizer = llm.load_causal_lm(name=converted[0], verbose=False)
    assert type(model).__name__ == "LlamaForCausalLM"
    with pytest.raises(ValueError, match="no such folder"):
        llm.load_causal_lm(name="./no/such/folder", verbose=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="config.json"):
        llm.load_causal_lm(name=tmp_path / "empty", verbose=False)
    with pytest.raises(ValueError, match="cache_dir"):
        llm.load_causal_lm(name=converted[0], cache_dir=tmp_path, verbose=False)


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SFT_CACHE_DIR", str(tmp_path))
    assert llm.default_cache_dir() == tmp_path / llm.CACHE_NAME
    monkeypatch.delenv("SFT_CACHE_DIR")
    assert llm.default_cache_dir().parts[-2:] == ("sft-workbook", llm.CACHE_NAME)
