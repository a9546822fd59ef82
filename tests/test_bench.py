"""The benchmark scripts: they skip cleanly without data, and run end to end on tiny data.

The real benchmark folders are large and only on some machines, so the end-to-end runs use
tiny SST-2 and CoNLL files written here, in the same formats. They check that every script
still runs after a library upgrade and prints well-formed JSON lines, not the figures.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

SCRIPTS = ("train_throughput", "real_classification", "real_ner", "real_qa", "attention", "course_time",
           "speed_levers", "ner_data_difficulty")
DATA_SCRIPTS = ("train_throughput", "real_classification", "real_ner", "real_qa")


def run_script(name: str, *args: str, benchmarks: Path, timeout: int = 600) -> list[dict]:
    """Run ``bench/<name>.py`` with ``SFT_BENCHMARKS_DIR=benchmarks``; its stdout as JSON records."""
    env = {**os.environ, "SFT_BENCHMARKS_DIR": str(benchmarks), "SFT_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / f"{name}.py"), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"bench/{name}.py failed:\n{done.stderr[-3000:]}"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines, f"bench/{name}.py printed nothing"
    return [json.loads(line) for line in lines]  # every stdout line must be JSON


@pytest.mark.parametrize("name", DATA_SCRIPTS)
def test_scripts_skip_cleanly_without_the_benchmark_folder(name: str, tmp_path: Path) -> None:
    records = run_script(name, benchmarks=tmp_path / "absent")
    assert len(records) == 1
    assert records[0]["skipped"] is True
    assert "absent" in records[0]["reason"] or "no SST-2 data" in records[0]["reason"]


def test_every_script_is_covered() -> None:
    found = {p.stem for p in (REPO_ROOT / "bench").glob("*.py") if not p.name.startswith("_")}
    assert found == set(SCRIPTS), "a new benchmark script needs a test here"


WORDS = "good bad fine dull great awful warm flat bright grim the a film plot cast".split()


def write_tiny_sst2(folder: Path, n_train: int = 48, n_dev: int = 16) -> None:
    rng = random.Random(0)
    folder.mkdir(parents=True)
    for name, n in (("train.tsv", n_train), ("dev.tsv", n_dev)):
        rows = ["text\tlabel"]
        for i in range(n):
            words = rng.choices(WORDS, k=rng.randint(2, 12))
            rows.append(f"{' '.join(words)} \t{i % 2}")
        (folder / name).write_text("\n".join(rows) + "\n", encoding="utf-8")


def write_tiny_conll(folder: Path, n_train: int = 40, n_valid: int = 12) -> None:
    rng = random.Random(1)
    names = ["Anna", "Berlin", "Siemens", "Olympics"]
    types = ["PER", "LOC", "ORG", "MISC"]
    folder.mkdir(parents=True)
    for name, n in (("train.txt", n_train), ("valid.txt", n_valid)):
        blocks = ["-DOCSTART- -X- -X- O\n"]
        for _ in range(n):
            lines = []
            for _ in range(rng.randint(3, 9)):
                if rng.random() < 0.3:
                    k = rng.randrange(4)
                    lines.append(f"{names[k]} NNP B-NP B-{types[k]}")
                else:
                    lines.append(f"{rng.choice(WORDS)} NN I-NP O")
            blocks.append("\n".join(lines) + "\n")
        (folder / name).write_text("\n".join(blocks), encoding="utf-8")


def test_train_throughput_runs_every_configuration(tmp_path: Path) -> None:
    write_tiny_sst2(tmp_path / "sst2")
    records = run_script(
        "train_throughput",
        *("--train-size", "32", "--eval-size", "16", "--batch-size", "8", "--precision", "bf16"),
        benchmarks=tmp_path,
    )
    header, *configs, summary = records
    assert header["real_tokens"] > 0 and set(header["matmul_peak_gflops"]) == {"fp32", "bf16"}
    assert [(c["config"], c["train_dtype"]) for c in configs] == [
        ("trainer_default", "fp32"),
        ("trainer_grouped", "fp32"),
        ("ours_random", "fp32"),
        ("ours_grouped", "fp32"),
        ("trainer_grouped_bf16", "bf16"),
        ("ours_grouped_bf16", "bf16"),
    ]
    for config in configs:
        assert config["examples_per_s"] > 0 and 0 <= config["dev_accuracy"] <= 1
    fastest = max(
        (c for c in configs if c["config"].startswith("ours_grouped")), key=lambda c: c["examples_per_s"]
    )
    assert summary["summary"] == f"{fastest['config']} vs Trainer"
    assert summary["speedup_vs_trainer_default"] > 0
    assert isinstance(summary["quality_within_0_5_point"], bool)


def test_train_throughput_fp32_runs_only_the_float32_configurations(tmp_path: Path) -> None:
    write_tiny_sst2(tmp_path / "sst2")
    records = run_script(
        "train_throughput",
        *("--train-size", "16", "--eval-size", "8", "--batch-size", "8", "--precision", "fp32"),
        *("--only", "trainer_default", "trainer_grouped", "ours_grouped"),
        benchmarks=tmp_path,
    )
    header, *configs, summary = records
    assert set(header["matmul_peak_gflops"]) == {"fp32"}
    assert [c["config"] for c in configs] == ["trainer_default", "trainer_grouped", "ours_grouped"]
    assert summary["summary"] == "ours_grouped vs Trainer" and summary["trainer_best"] in (
        "trainer_default",
        "trainer_grouped",
    )


def test_real_classification_reports_dev_accuracy_and_references(tmp_path: Path) -> None:
    write_tiny_sst2(tmp_path / "sst2")
    (tmp_path / "REFERENCE_SCORES.md").write_text(
        "## SST-2 accuracy\n| model | split | acc | source |\n|---|---|---|---|\n| tiny | dev | 80.0 | here |\n"
    )
    records = run_script(
        "real_classification", "--train-size", "32", "--batch-size", "8", benchmarks=tmp_path
    )
    result = next(r for r in records if r.get("result") == "sst2_dev")
    assert result["train_size"] == 32 and 0 <= result["dev_accuracy"] <= 1
    assert [r["reference"]["model"] for r in records if "reference" in r] == ["tiny"]


def test_real_ner_runs_ours_and_trainer_side_by_side(tmp_path: Path) -> None:
    write_tiny_conll(tmp_path / "conll2003")
    records = run_script(
        "real_ner",
        "--with-trainer",
        "--batch-size",
        "8",
        "--precision",
        "bf16",
        "--seeds",
        "0",
        "1",
        benchmarks=tmp_path,
    )
    runs = [r for r in records if "engine" in r]
    comparisons = [r for r in records if "comparison" in r]
    assert [(r["engine"], r["seed"], r["train_dtype"]) for r in runs] == [
        ("sft_helpers", 0, "bf16"),
        ("transformers.Trainer", 0, "fp32"),
        ("transformers.Trainer+bf16", 0, "bf16"),
        ("sft_helpers", 1, "bf16"),
        ("transformers.Trainer", 1, "fp32"),
        ("transformers.Trainer+bf16", 1, "bf16"),
    ]
    # the same number of optimizer steps: the runs are comparable
    assert {r["steps"] for r in runs} == {5}
    assert all(set(r["per_type"]) <= {"PER", "LOC", "ORG", "MISC"} for r in runs)
    assert [c["comparison"] for c in comparisons] == [
        "sft_helpers vs transformers.Trainer",
        "sft_helpers vs transformers.Trainer+bf16",
    ]
    for c in comparisons:
        assert c["seeds"] == 2 and c["throughput_ratio"] > 0
        assert c["f1_sft_helpers"]["mean"] == round(
            sum(r["f1"] for r in runs if r["engine"] == "sft_helpers") / 2, 4
        )


def test_real_ner_rejects_repeated_seeds(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "real_ner.py"), "--seeds", "1", "1"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--seeds has duplicates" in done.stderr


def write_tiny_squad(folder: Path, n_train: int = 24, n_dev: int = 8) -> None:
    """A SQuAD 2.0 folder (train-v2.0.json, dev-v2.0.json) with answerable and unanswerable questions."""
    rng = random.Random(0)
    folder.mkdir(parents=True)
    cities = ["Lyon", "Porto", "Kyoto", "Lima", "Oslo", "Quito"]
    for name, n in (("train-v2.0.json", n_train), ("dev-v2.0.json", n_dev)):
        paragraphs = []
        for i in range(n):
            city = rng.choice(cities)
            context = f"Person {i} was born in {city} and later moved abroad."
            qas = [{"id": f"{name}-{i}-a", "question": f"Where was person {i} born?",
                    "answers": [{"text": city, "answer_start": context.index(city)}], "is_impossible": False},
                   {"id": f"{name}-{i}-b", "question": f"When did person {i} move?", "answers": [],
                    "is_impossible": True}]  # fmt: skip
            paragraphs.append({"context": context, "qas": qas})
        doc = {"version": "v2.0", "data": [{"title": "people", "paragraphs": paragraphs}]}
        (folder / name).write_text(json.dumps(doc), encoding="utf-8")


def test_real_qa_runs_the_chapter_recipe_on_a_squad_folder(tmp_path: Path) -> None:
    write_tiny_squad(tmp_path / "squad_v2")
    records = run_script("real_qa", "--batch-size", "8", "--max-length", "64", "--doc-stride", "16",
                         benchmarks=tmp_path)  # fmt: skip
    assert len(records) == 1
    r = records[0]
    assert r["engine"] == "sft_helpers" and r["train_questions"] == 48 and r["dev_questions"] == 16
    assert r["unanswerable_share"] == 0.5 and r["steps"] == 6
    for key in ("dev_threshold0", "dev_second_half_tuned"):
        assert 0 <= r[key]["f1"] <= 100 and 0 <= r[key]["exact"] <= 100
    assert r["dev_second_half_tuned"]["total"] == 8


def test_attention_benchmark_compares_the_three_implementations(tmp_path: Path) -> None:
    records = run_script("attention", "--lengths", "16", "32", "--batch", "2", benchmarks=tmp_path)
    *rows, summary = records
    assert {r["impl"] for r in rows} == {"ours", "F.scaled_dot_product_attention", "nn.MultiheadAttention"}
    assert {r["seq_len"] for r in rows} == {16, 32} and all(r["ms"] > 0 for r in rows)
    assert summary["min_ratio"] <= summary["max_ratio"]


@pytest.mark.notebook
def test_course_time_reports_each_chapter_against_its_budget(tmp_path: Path) -> None:
    import nbformat

    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("SIZE = 2")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "from sft_helpers.results import record\n_ = record('size_squared', SIZE * SIZE)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "01_tiny.ipynb")
    records = run_script("course_time", "--fast", "--notebooks", str(folder), "--build-dir", str(tmp_path / "b"),
                         benchmarks=tmp_path)
    chapter, total = records
    assert chapter["chapter"] == "01_tiny" and chapter["ok"] is True and chapter["mode"] == "fast"
    assert chapter["seconds"] > 0 and chapter["budget_s"] == 240.0
    assert chapter["seconds_over_budget"] == round(chapter["seconds"] / 240.0, 3)
    assert total["total_seconds"] == chapter["seconds"] and total["budget_s"] == 900.0


def test_speed_levers_measures_each_lever_side_by_side(tmp_path: Path) -> None:
    records = run_script("speed_levers", "--steps", "2", "--only", "batches", "evaluation", benchmarks=tmp_path)
    batches = [r for r in records if r["lever"] == "batches"]
    evaluation = [r for r in records if r["lever"] == "evaluation"]
    assert len(batches) >= 2 and len(evaluation) >= 2, records
    assert all(r["seconds"] > 0 for r in evaluation)
    assert all(0 <= r["others_busy_cores"] <= os.cpu_count() for r in records)


def test_ner_data_difficulty_reports_f1_errors_and_the_baseline(tmp_path: Path) -> None:
    (r,) = run_script("ner_data_difficulty", "--epochs", "1", "--max-train", "32", benchmarks=tmp_path)
    assert r["bench"] == "ner_data_difficulty" and 0 <= r["test_f1"] <= 1
    assert 0 < r["memorising_f1"] < 0.5  # the bundled data's memorising baseline stays far below
    assert set(r["errors"]) >= {"boundary", "missed", "spurious"}
    assert r["seen_unseen"]["seen"]["n"] + r["seen_unseen"]["unseen"]["n"] == r["entities"]
