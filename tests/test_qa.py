"""sft_helpers.qa: offsets -> token spans, doc_stride windows, span search, post-processing, SQuAD v2 scores."""

from __future__ import annotations

import importlib.util
import math
import random

import numpy as np
import pytest
import torch

from sft_helpers import qa
from sft_helpers.models import load_pretrained


@pytest.fixture(scope="module")
def tokenizer():
    _, tok = load_pretrained("question-answering", verbose=False)
    return tok


# ------------------------------------------------------------------ the metric, by hand
@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("The University of Lyon.", "university of lyon"),
        ("  An   apple,  a day! ", "apple day"),
        ("the", ""),
        ("Theatre", "theatre"),  # 'the' only as a whole word
        ("2-1", "21"),  # punctuation inside a token goes too
        ("O'Neill's", "oneills"),
    ],
)
def test_normalize_answer_follows_the_official_rule(text: str, normal: str) -> None:
    assert qa.normalize_answer(text) == normal


def test_exact_match_and_f1_hand_computed() -> None:
    assert qa.exact_match("the Lyon", "Lyon") == 1
    assert qa.exact_match("in Lyon", "Lyon") == 0
    # 'in lyon' vs 'lyon': 1 shared word, precision 1/2, recall 1 -> F1 2/3
    assert qa.f1_score("in Lyon", "Lyon") == pytest.approx(2 / 3)
    # 'lyon in 2004' vs 'lyon 2004 france': 2 shared, P 2/3, R 2/3 -> 2/3
    assert qa.f1_score("Lyon in 2004", "Lyon 2004 France") == pytest.approx(2 / 3)
    assert qa.f1_score("", "") == 1.0
    assert qa.f1_score("Lyon", "") == 0.0
    assert qa.f1_score("", "Lyon") == 0.0
    assert qa.f1_score("a", "the") == 1.0  # both normalise to empty
    # repeated words count with multiplicity: 'new new york' vs 'new york': common 2, P 2/3, R 1 -> 0.8
    assert qa.f1_score("new new york", "new york") == pytest.approx(0.8)


def test_squad_v2_scores_hand_computed() -> None:
    refs = {
        "id": ["a", "b", "c", "d"],
        "answers": [
            {"text": ["Lyon", "the city of Lyon"], "answer_start": [0, 0]},
            {"text": ["1998"], "answer_start": [0]},
            {"text": [], "answer_start": []},
            {"text": [], "answer_start": []},
        ],
    }
    preds = {"a": "city of Lyon", "b": "in 1998", "c": "", "d": "Porto"}
    s = qa.squad_v2_scores(preds, refs)
    # a: EM 1 (matches the second gold answer), b: EM 0 F1 2/3, c: right (empty), d: wrong
    assert s["total"] == 4 and s["HasAns_total"] == 2 and s["NoAns_total"] == 2
    assert s["exact"] == pytest.approx(100 * 2 / 4)
    assert s["f1"] == pytest.approx(100 * (1 + 2 / 3 + 1 + 0) / 4)
    assert s["HasAns_f1"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    assert s["NoAns_exact"] == s["NoAns_f1"] == pytest.approx(50.0)
    with pytest.raises(KeyError, match="no prediction"):
        qa.squad_v2_scores({"a": "Lyon"}, refs)


def test_matches_evaluate_when_it_loads_offline() -> None:
    if importlib.util.find_spec("evaluate") is None:
        pytest.skip("the evaluate library is not installed")
    import evaluate

    try:
        metric = evaluate.load("squad_v2")
    except Exception as err:  # noqa: BLE001 - offline: the metric script is on the hub
        pytest.skip(f"evaluate's squad_v2 does not load offline: {err}")
    refs = {"id": ["a", "b"], "answers": [{"text": ["Lyon"], "answer_start": [0]}, {"text": [], "answer_start": []}]}
    preds = {"a": "in Lyon", "b": ""}
    theirs = metric.compute(
        predictions=[{"id": k, "prediction_text": v, "no_answer_probability": 0.0} for k, v in preds.items()],
        references=[{"id": i, "answers": a} for i, a in zip(refs["id"], refs["answers"])],
    )
    ours = qa.squad_v2_scores(preds, refs)
    assert theirs["f1"] == pytest.approx(ours["f1"]) and theirs["exact"] == pytest.approx(ours["exact"])


def test_best_null_threshold_scans_like_find_best_thresh() -> None:
    refs = {
        "id": ["a", "b", "c"],
        "answers": [
            {"text": ["Lyon"], "answer_start": [0]},
            {"text": [], "answer_start": []},
            {"text": ["Porto"], "answer_start": [0]},
        ],
    }
    results = {
        "a": {"text": "Lyon", "null_minus_best": -2.0},  # right, confident
        "b": {"text": "Kyoto", "null_minus_best": 1.0},  # unanswerable, wrong span
        "c": {"text": "Porto", "null_minus_best": 3.0},  # right, but a high null score
    }
    threshold, best = qa.best_null_threshold(results, refs)
    # answering a, b, c gives 2/3; answering a and c only would need a threshold between b and c: impossible
    # in order; best prefix: answer a (score 2 of 3 with b left empty) or all three (2 of 3): first max kept
    assert threshold == -2.0 and best == pytest.approx(100 * 2 / 3)
    preds = qa.apply_threshold(results, threshold)
    assert preds == {"a": "Lyon", "b": "", "c": ""}
    # all questions unanswerable: "no answer" everywhere is best, with a finite threshold below all
    refs_none = {"id": ["b"], "answers": [{"text": [], "answer_start": []}]}
    t, s = qa.best_null_threshold({"b": results["b"]}, refs_none)
    assert math.isfinite(t) and t < 1.0 and s == 100.0


# ------------------------------------------------------------------ character -> token
def test_char_to_token_span_inside_partly_outside_and_question_tokens() -> None:
    # [CLS] who won [SEP] lyon beat porto [SEP]
    offsets = [(0, 0), (0, 3), (4, 7), (0, 0), (0, 4), (5, 9), (10, 15), (0, 0)]
    seq = [None, 0, 0, None, 1, 1, 1, None]
    assert qa.char_to_token_span(offsets, seq, 0, 4) == (4, 4)
    assert qa.char_to_token_span(offsets, seq, 5, 15) == (5, 6)
    assert qa.char_to_token_span(offsets, seq, 10, 20) == (0, 0)  # runs past the window's context
    assert qa.char_to_token_span(offsets, [None, 0, 0, None, 1, 1, 1, None][:4] + [None] * 4, 0, 4) == (0, 0)
    # a window whose context starts at character 5: an answer at 0..4 is outside
    assert qa.char_to_token_span([(0, 0), (0, 3), (0, 0), (5, 9), (0, 0)], [None, 0, None, 1, None], 0, 4) == (0, 0)


def test_train_features_label_every_window_and_round_trip(tokenizer) -> None:
    rng = random.Random(0)
    words = [rng.choice(["alpha", "beta", "gamma", "Delta", "epsilon", "zeta", "eta", "theta"]) for _ in range(150)]
    context = " ".join(words)
    start = len(" ".join(words[:120])) + 1
    answer = " ".join(words[120:122])
    examples = {
        "id": ["x", "y"],
        "question": ["  what is it?", "nothing here?"],
        "context": [context, context],
        "answers": [{"text": [answer], "answer_start": [start]}, {"text": [], "answer_start": []}],
    }
    feats = qa.prepare_train_features(examples, tokenizer, max_length=64, doc_stride=16)
    n_per = len(feats["labels"]) // 2
    assert n_per >= 3  # a long context gives several windows
    labelled = [lab for lab in feats["labels"][:n_per] if lab != [0, 0]]
    assert labelled, "the window holding the answer is labelled"
    for w, lab in enumerate(feats["labels"][:n_per]):
        if lab != [0, 0]:
            assert tokenizer.decode(feats["input_ids"][w][lab[0] : lab[1] + 1]) == answer.lower()
    assert all(lab == [0, 0] for lab in feats["labels"][n_per:])  # no answer: [CLS] everywhere
    assert all(len(ids) <= 64 for ids in feats["input_ids"])
    assert set(feats) >= {"input_ids", "attention_mask", "labels"}
    with pytest.raises(ValueError, match="doc_stride"):
        qa.prepare_train_features(examples, tokenizer, max_length=64, doc_stride=40)


def test_eval_features_offsets_only_on_context(tokenizer) -> None:
    examples = {"id": ["x"], "question": ["who?"], "context": ["Lyon beat Porto in the final."]}
    feats = qa.prepare_eval_features(examples, tokenizer, max_length=64, doc_stride=16)
    assert feats["example_id"] == ["x"]
    offsets = feats["offset_mapping"][0]
    assert offsets[0] is None and offsets[-1] is None  # [CLS], [SEP]
    kept = [o for o in offsets if o is not None]
    assert examples["context"][0][kept[0][0] : kept[-1][1]] == "Lyon beat Porto in the final."


# ------------------------------------------------------------------ span search and post-processing
def _brute(s, e, mask, length):
    best = None
    for a in range(len(s)):
        for b in range(a, min(len(s), a + length)):
            if mask[a] and mask[b] and (best is None or s[a] + e[b] > best[2]):
                best = (a, b, s[a] + e[b])
    return best


@pytest.mark.parametrize("seed", range(20))
def test_best_span_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 40))
    s, e = rng.normal(size=n).tolist(), rng.normal(size=n).tolist()
    mask = (rng.random(n) > 0.3).tolist()
    length = int(rng.integers(1, 8))
    expected = _brute(s, e, mask, length)
    got = qa.best_span(s, e, mask, length)
    if expected is None:
        assert got is None
    else:
        assert got[:2] == expected[:2] and got[2] == pytest.approx(expected[2])
    top = qa.top_spans(s, e, mask, length, n_best=5)
    assert [t[2] for t in top] == sorted((t[2] for t in top), reverse=True)


def test_best_span_validates_its_inputs() -> None:
    with pytest.raises(ValueError, match="one length"):
        qa.best_span([0.0, 1.0], [0.0], [True, True])
    with pytest.raises(ValueError, match="max_answer_length"):
        qa.best_span([0.0], [0.0], [True], 0)
    assert qa.best_span([1.0, 2.0], [1.0, 2.0], [False, False]) is None


def test_postprocess_takes_the_best_window_and_the_min_null_score() -> None:
    examples = {"id": ["q"], "context": ["Lyon beat Porto"]}
    features = {
        "example_id": ["q", "q"],
        "offset_mapping": [
            [None, (0, 4), (5, 9), None],  # window 0: "Lyon", "beat"
            [None, (5, 9), (10, 15), None],  # window 1: "beat", "Porto"
        ],
    }
    start = np.array([[1.0, 2.0, 0.0, 9.0], [3.0, 0.0, 4.0, 9.0]])
    end = np.array([[1.0, 2.0, 0.0, 9.0], [0.5, 0.0, 4.0, 9.0]])
    out = qa.postprocess(examples, features, start, end, n_best=5, max_answer_length=5)["q"]
    assert out["text"] == "Porto" and out["window"] == 1 and out["score"] == pytest.approx(8.0)
    assert out["null_score"] == pytest.approx(min(1.0 + 1.0, 3.0 + 0.5))
    assert out["null_minus_best"] == pytest.approx(2.0 - 8.0)
    assert out["n_windows"] == 2
    # the learner's search plugs in: one span per window
    learner = qa.postprocess(examples, features, start, end, best_span_fn=qa.best_span)["q"]
    assert learner["text"] == "Porto"
    assert qa.apply_threshold({"q": out}, -7.0) == {"q": ""}
    assert qa.apply_threshold({"q": out}, 0.0) == {"q": "Porto"}


@pytest.mark.parametrize(
    ("question", "kind"),
    [("Who founded X?", "who"), ("In what year was X born?", "when"), ("In which city was X born?", "where"),
     ("How many people live in X?", "how many"), ("Which river flows through X?", "which"),
     ("What does X make?", "what"), ("Name the river.", "other")],
)  # fmt: skip
def test_question_type(question: str, kind: str) -> None:
    assert qa.question_type(question) == kind


# ------------------------------------------------------------------ model, adapter, answer
def test_load_pretrained_question_answering_and_adapter(tokenizer, tmp_path) -> None:
    model, _ = load_pretrained("question-answering", verbose=False)
    assert model.qa_outputs.out_features == 2
    with pytest.raises(ValueError, match="fixed head"):
        load_pretrained("question-answering", num_labels=2, verbose=False)
    enc = tokenizer(["who won?"], ["Lyon beat Porto."], return_tensors="pt")
    wrapped = qa.SpanQAModel(model)
    out = wrapped(**enc, labels=torch.tensor([[5, 5]]))
    assert out["logits"].shape == (1, enc["input_ids"].shape[1], 2)
    assert out["loss"].ndim == 0 and torch.isfinite(out["loss"])
    assert "loss" not in wrapped(**enc)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    reply = qa.answer("Who won?", "Lyon beat Porto in the final.", str(tmp_path), null_threshold=1e9)
    assert reply["answer"] and reply["answer"] in "Lyon beat Porto in the final."
    assert qa.answer("Who won?", "Lyon beat Porto.", model, tokenizer, null_threshold=-1e9)["answer"] == ""
    with pytest.raises(ValueError, match="tokenizer"):
        qa.answer("Who won?", "Lyon beat Porto.", model)
    with pytest.raises(ValueError, match="non-empty"):
        qa.answer(" ", "Lyon beat Porto.", model, tokenizer)
