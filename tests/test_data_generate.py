"""The generator reproduces the bundled files byte for byte, and the cards' numbers."""

from __future__ import annotations

import json

import pytest

from sft_helpers.data import generate, news, reviews
from sft_helpers.data.bundled import MANIFEST, bundled_dir, data_files


def test_regeneration_is_byte_for_byte(tmp_path):
    generate.write_data(tmp_path)
    for rel in [*data_files(), MANIFEST]:
        assert (tmp_path / rel).read_bytes() == (bundled_dir() / rel).read_bytes(), rel


def test_seed_changes_the_data():
    assert reviews.generate(1)["train"][:20] != reviews.generate(2)["train"][:20]
    assert news.generate(1)["train"][:20] != news.generate(2)["train"][:20]


@pytest.fixture(scope="module")
def recomputed():
    return generate.compute_stats(reviews.generate(generate.SEED), news.generate(generate.SEED))


@pytest.mark.parametrize("name", ["classification", "ner"])
def test_card_numbers_recompute_within_tolerance(recomputed, name):
    committed = json.loads((bundled_dir() / name / generate.STATS_FILE).read_text())
    assert generate.compare_stats(committed, recomputed[name]) == []


@pytest.mark.parametrize("name", ["classification", "ner"])
def test_card_is_rendered_from_the_stats(recomputed, name):
    from sft_helpers.data import cards

    committed = json.loads((bundled_dir() / name / generate.STATS_FILE).read_text())
    render = cards.classification_card if name == "classification" else cards.ner_card
    assert (bundled_dir() / name / "README.md").read_text() == render(committed)


def test_cards_print_the_required_numbers():
    card = (bundled_dir() / "classification" / "README.md").read_text()
    stats = json.loads((bundled_dir() / "classification" / generate.STATS_FILE).read_text())
    assert f"{stats['baselines']['bag_of_words']['test']['accuracy']:.3f}" in card
    assert f"{stats['baselines']['bag_of_words']['test']['accuracy_unseen_words']:.3f}" in card
    for phrase in ["Near duplicates", "Distinct patterns", "Known limits", "Licence", "MIT"]:
        assert phrase in card
    card = (bundled_dir() / "ner" / "README.md").read_text()
    stats = json.loads((bundled_dir() / "ner" / generate.STATS_FILE).read_text())
    assert f"{stats['baselines']['memorising']['test']['f1']:.3f}" in card
    for phrase in [
        "seen (as an entity) in train",
        "Near duplicates",
        "Hand-written templates",
        "Known limits",
        "MIT",
    ]:
        assert phrase in card


def test_compare_stats_flags_real_differences():
    assert generate.compare_stats({"a": 0.5, "b": {"c": 3}}, {"a": 0.51, "b": {"c": 3}}) == []
    problems = generate.compare_stats({"a": 0.5, "b": {"c": 3}}, {"a": 0.6, "b": {"c": 4}, "d": 1})
    assert len(problems) == 3


def test_check_command_reports_a_changed_file(tmp_path, capsys):
    generate.write_data(tmp_path)
    path = tmp_path / "classification" / "test.tsv"
    path.write_text(path.read_text().replace("negative", "positive", 1))
    assert generate.main(["--check", "--data-only", "--out", str(tmp_path)]) == 1
    assert "test.tsv differs" in capsys.readouterr().out
