"""The instruction data set, its chat-template encoding with prompt masking, its scores, and
batched generation (on a tiny random llama model with SmolLM2's real tokenizer)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from sft_helpers import generation, instructions
from sft_helpers.instructions import IGNORE_INDEX

pytest.importorskip("gguf")


@pytest.fixture(scope="module")
def tokenizer():
    """SmolLM2's tokenizer, read straight from the GGUF file (no model conversion needed)."""
    from transformers import AutoTokenizer

    from sft_helpers.llm import gguf_path

    path = gguf_path()
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


@pytest.fixture(scope="module")
def tiny_model(tokenizer):
    """A randomly initialised 2-layer llama with SmolLM2's vocabulary: fast, and a real causal LM."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def pairs():
    return instructions.build_instruction_dataset(n_train=6, n_test=3, seed=0)


# ----------------------------------------------------------------------------- building examples
def test_examples_from_tags():
    tokens = ["Maria", "Jordan", "of", "Dvorak", "Telecom", "met", "Ana", "in", "Lima", "."]
    tags = ["B-PER", "I-PER", "O", "B-ORG", "I-ORG", "O", "B-PER", "O", "B-LOC", "O"]
    entities = instructions.entities_from_tags(tokens, tags)
    assert entities == {
        "PER": ["Maria Jordan", "Ana"],
        "ORG": ["Dvorak Telecom"],
        "LOC": ["Lima"],
        "MISC": [],
    }
    assert list(json.loads(instructions.entities_json(entities))) == list(instructions.ENTITY_TYPES)
    assert instructions.redact_people(tokens, tags) == "[PER] of Dvorak Telecom met [PER] in Lima ."
    example = instructions.make_example("redact", tokens=tokens, tags=tags)
    assert example["people"] == ["Maria Jordan", "Ana"] and "[PER]" in example["prompt"]
    with pytest.raises(ValueError, match="tokens has"):
        instructions.entities_from_tags(tokens, tags[:-1])
    with pytest.raises(ValueError, match="task="):
        instructions.make_example("summarise", text="x")
    with pytest.raises(ValueError, match="label must be"):
        instructions.make_example("sentiment", text="ok", label="neutral")


def test_dataset_is_deterministic_split_and_consistent(pairs):
    again = instructions.build_instruction_dataset(n_train=6, n_test=3, seed=0)
    assert pairs["train"].to_list() == again["train"].to_list()
    assert pairs["test"].to_list() == again["test"].to_list()
    other = instructions.build_instruction_dataset(n_train=6, n_test=3, seed=1)
    assert pairs["train"]["prompt"] != other["train"]["prompt"]
    assert set(pairs["train"]["source_split"]) == {"train"} and set(pairs["test"]["source_split"]) == {"test"}
    for split, n in (("train", 6), ("test", 3)):
        tasks = pairs[split]["task"]
        assert {t: tasks.count(t) for t in instructions.TASKS} == dict.fromkeys(instructions.TASKS, n)
    for row in pairs["train"]:
        assert row["text"] in row["prompt"] and row["response"] not in ("", None)
        if row["task"] == "entities":
            assert instructions.parse_entities(row["response"])["PER"] == row["people"]


def test_dataset_matches_its_bundled_source(pairs):
    from sft_helpers.data import load_ner

    ner = load_ner()
    names = ner["test"].features["ner_tags"].feature.names
    for row in pairs["test"]:
        if row["task"] == "entities":
            source = ner["test"][row["source_index"]]
            gold = instructions.entities_from_tags(source["tokens"], [names[t] for t in source["ner_tags"]])
            assert instructions.parse_entities(row["response"]) == gold


def test_dataset_argument_errors():
    with pytest.raises(ValueError, match="tasks must be"):
        instructions.build_instruction_dataset(tasks=["poetry"])
    with pytest.raises(ValueError, match="n_train"):
        instructions.build_instruction_dataset(n_train=-1)
    with pytest.raises(ValueError, match="asked for"):
        instructions.build_instruction_dataset(n_train=1, n_test=10**6)


def test_redaction_pairs_name_people_in_the_asked_share():
    pairs = instructions.build_instruction_dataset(
        {"redact": 20}, {"redact": 10}, seed=0, tasks=["redact"], redact_people_share=0.75
    )
    train, test = pairs["train"].to_list(), pairs["test"].to_list()
    assert sum(bool(r["people"]) for r in train) == 15  # round(0.75 * 20)
    assert all(r["people"] for r in test)  # every held-out redaction prompt names someone
    for row in train + test:
        assert (row["response"] != row["text"]) == bool(row["people"])
        assert all(person not in row["response"] for person in row["people"])
    everyone = instructions.build_instruction_dataset(
        {"redact": 8}, 1, tasks=["redact"], redact_people_share=1.0
    )
    assert all(r["people"] for r in everyone["train"])
    with pytest.raises(ValueError, match="redact_people_share"):
        instructions.build_instruction_dataset(tasks=["redact"], redact_people_share=1.5)
    with pytest.raises(ValueError, match="name a person"):
        instructions.build_instruction_dataset({"redact": 1}, {"redact": 400}, tasks=["redact"])


# ----------------------------------------------------------------------------- tokenization and masking
def test_encode_masks_exactly_the_prompt(tokenizer):
    enc = instructions.encode_example(tokenizer, "Say yes.", "yes")
    n = enc["prompt_length"]
    assert enc["labels"][:n] == [IGNORE_INDEX] * n
    assert enc["labels"][n:] == enc["input_ids"][n:]
    assert tokenizer.decode(enc["input_ids"][:n]).endswith("<|im_start|>assistant\n")
    assert tokenizer.decode(enc["input_ids"][n:]) == "yes<|im_end|>\n"  # the end-of-turn token is learned
    assert enc["input_ids"][:n] == instructions.chat_ids(tokenizer, "Say yes.")
    short = instructions.encode_example(tokenizer, "Say yes.", "yes " * 50, max_length=n + 3)
    assert len(short["input_ids"]) == n + 3
    with pytest.raises(ValueError, match="no room for the response"):
        instructions.encode_example(tokenizer, "Say yes.", "yes", max_length=n)


def test_collator_pads_right_and_agrees_with_mask_prompt_labels(tokenizer, pairs):
    encoded = instructions.tokenize_instructions(pairs["train"].select(range(5)), tokenizer)
    rows = [encoded[i] for i in range(5)]
    batch = instructions.InstructionCollator(tokenizer)(rows)
    lengths = [len(r["input_ids"]) for r in rows]
    assert batch["input_ids"].shape == (5, max(lengths))
    assert batch["attention_mask"].sum(1).tolist() == lengths
    assert (batch["labels"][batch["attention_mask"] == 0] == IGNORE_INDEX).all()
    prompt_lengths = torch.tensor([r["prompt_length"] for r in rows])
    rebuilt = instructions.mask_prompt_labels(batch["input_ids"], prompt_lengths, batch["attention_mask"])
    assert torch.equal(rebuilt, batch["labels"])
    # pad id == end-of-turn id: each response's <|im_end|> keeps its label although it equals the pad id
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert tokenizer.pad_token_id == eos
    for i, n in enumerate(lengths):
        assert batch["labels"][i, n - 2] == eos  # ... <|im_end|> \n
    # a mask function builds the same labels from the padded batch (the chapter's exercise plugs in here)
    seen = []

    def recording_mask(input_ids, prompt_lengths, attention_mask):
        seen.append(prompt_lengths.tolist())
        return instructions.mask_prompt_labels(input_ids, prompt_lengths, attention_mask)

    masked = instructions.InstructionCollator(tokenizer, mask_fn=recording_mask)(rows)
    assert torch.equal(masked["labels"], batch["labels"]) and seen == [prompt_lengths.tolist()]
    nothing_masked = instructions.InstructionCollator(tokenizer, mask_fn=lambda ids, n, m: ids)(rows)
    assert torch.equal(nothing_masked["labels"], batch["input_ids"])  # the labels really come from mask_fn
    without_length = [
        {k: v for k, v in r.items() if k != "prompt_length"} for r in rows
    ]  # as train() passes them
    assert torch.equal(
        instructions.InstructionCollator(tokenizer, mask_fn=recording_mask)(without_length)["labels"],
        batch["labels"],
    )
    assert seen[-1] == prompt_lengths.tolist()
    with pytest.raises(ValueError, match="prompt_length"):
        instructions.InstructionCollator(tokenizer, mask_fn=recording_mask)([{"input_ids": [1, 2]}])
    padded = instructions.InstructionCollator(tokenizer, pad_to_multiple_of=16)(rows)
    assert padded["input_ids"].shape[1] % 16 == 0
    with pytest.raises(ValueError, match="empty"):
        instructions.InstructionCollator(tokenizer)([])


def test_only_response_tokens_contribute_to_the_loss(tokenizer, tiny_model, pairs):
    encoded = instructions.tokenize_instructions(pairs["train"].select(range(3)), tokenizer)
    batch = instructions.InstructionCollator(tokenizer)([encoded[i] for i in range(3)])
    output = tiny_model(**batch)
    logits = output.logits.detach().requires_grad_()  # (3, seq, vocab)
    vocab = logits.shape[-1]
    by_hand = F.cross_entropy(
        logits[:, :-1].reshape(-1, vocab), batch["labels"][:, 1:].reshape(-1), ignore_index=IGNORE_INDEX
    )
    torch.testing.assert_close(by_hand, output.loss.detach())
    by_hand.backward()
    touched = logits.grad.abs().sum(-1) > 0
    expected = torch.zeros_like(touched)
    expected[:, :-1] = batch["labels"][:, 1:] != IGNORE_INDEX
    assert torch.equal(touched, expected)
    # changing prompt tokens' targets changes nothing; unmasking them changes the loss
    unmasked = tiny_model(
        **{**batch, "labels": batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)}
    )
    assert not torch.isclose(unmasked.loss, output.loss)


# ----------------------------------------------------------------------------- scores
def test_scores_of_perfect_and_broken_answers(pairs):
    rows = pairs["test"].to_list()
    perfect = instructions.score_answers(rows, [r["response"] for r in rows])
    assert perfect["entities"] == {
        "n": 3,
        "json_valid": 1.0,
        "exact": 1.0,
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
    }
    assert perfect["sentiment"]["exact"] == perfect["sentiment"]["accuracy"] == 1.0
    assert perfect["redact"]["exact"] == 1.0 and perfect["redact"]["leaked"] == 0.0
    broken = instructions.score_answers(rows, ["I am not sure." for _ in rows])
    assert broken["entities"]["json_valid"] == 0.0 and broken["entities"]["f1"] == 0.0
    assert broken["sentiment"]["accuracy"] == 0.0
    with pytest.raises(ValueError, match="must match"):
        instructions.score_answers(rows, [])


def test_entity_scores_count_hallucinations_and_misses():
    gold = {"PER": ["Ana"], "ORG": ["Acme"], "LOC": [], "MISC": []}
    predicted = instructions.parse_entities('{"PER": ["Ana", "Bob"], "LOC": "Lima", "EXTRA": [1]}')
    assert predicted == {"PER": ["Ana", "Bob"], "ORG": [], "LOC": ["Lima"], "MISC": []}
    counts = instructions.entity_counts(gold, predicted)
    assert (counts["tp"], counts["fp"], counts["fn"]) == (1, 2, 1)
    assert instructions.prf(counts) == pytest.approx({"precision": 1 / 3, "recall": 0.5, "f1": 0.4})
    assert instructions.parse_entities("[1, 2]") is None and instructions.parse_entities("{oops") is None
    assert instructions.entity_counts(gold, None)["fn"] == 2


def test_sentiment_and_redact_scores():
    rows = [
        {"task": "sentiment", "response": "mixed", "people": []},
        {
            "task": "redact",
            "response": "[PER] met [PER] .",
            "text": "Ana Lopez met Bob .",
            "people": ["Ana Lopez", "Bob"],
        },
    ]
    scores = instructions.score_answers(rows, ["This review is mixed, not positive.", "[PER] met Bob ."])
    assert scores["sentiment"] == {"n": 1, "exact": 0.0, "accuracy": 1.0}
    assert scores["redact"] == {"n": 1, "exact": 0.0, "leaked": 0.5}
    assert instructions.first_label("Positive!") == "positive" and instructions.first_label("no idea") is None


def test_a_name_leaks_wholly_or_in_part():
    gold = "[PER] met the Becker Group ."
    assert instructions.name_leaked("Carlos Becker", "Carlos Becker met the Becker Group .", gold)
    assert instructions.name_leaked("Carlos Becker", "[PER] Carlos met the Becker Group .", gold)
    # "Becker" is also part of the organisation the gold answer keeps: keeping it is no leak
    assert not instructions.name_leaked("Carlos Becker", "[PER] met the Becker Group .", gold)
    assert instructions.name_leaked("Ana Lopez", "[PER] Lopez said .", "[PER] said .")
    assert not instructions.name_leaked("Ana Lopez", "I cannot help with that.", "[PER] said .")


def test_bootstrap_intervals_bracket_the_scores_and_see_clear_changes():
    rows = [{"task": "sentiment", "response": "positive", "people": []} for _ in range(12)]
    before = ["negative"] * 12
    after = ["positive"] * 10 + ["negative"] * 2
    spread = instructions.bootstrap_scores(rows, before, after, n_resamples=300, seed=0)
    acc = spread["sentiment"]["accuracy"]
    assert acc["n"] == 12 and acc["before"] == 0.0 and acc["after"] == pytest.approx(10 / 12)
    assert acc["after_low"] <= acc["after"] <= acc["after_high"]
    assert 0 < acc["change_low"] <= acc["change"] <= acc["change_high"] <= 1  # a clear improvement
    same = instructions.bootstrap_scores(rows, after, after, n_resamples=100)["sentiment"]["accuracy"]
    assert same["change_low"] == same["change_high"] == 0.0
    noisy = instructions.bootstrap_scores(
        rows[:4], ["positive", "negative"] * 2, ["negative", "positive"] * 2, 300
    )
    assert noisy["sentiment"]["accuracy"]["change_low"] < 0 < noisy["sentiment"]["accuracy"]["change_high"]
    again = instructions.bootstrap_scores(rows, before, after, n_resamples=300, seed=0)
    assert again == spread  # seeded
    with pytest.raises(ValueError, match="same length"):
        instructions.bootstrap_scores(rows, before, after[:3])
    with pytest.raises(ValueError, match="n_resamples"):
        instructions.bootstrap_scores(rows, before, after, n_resamples=0)


# ----------------------------------------------------------------------------- generation
def test_batched_left_padded_generation_equals_one_at_a_time(tokenizer, tiny_model):
    prompts = ["Hi", "Tell me a long story about a cat and a dog please", "Why?"]
    batched = generation.generate(tiny_model, tokenizer, prompts, max_new_tokens=6, batch_size=3)
    single = [generation.generate(tiny_model, tokenizer, [p], max_new_tokens=6)[0] for p in prompts]
    assert batched == single
    assert tokenizer.padding_side == "right"  # restored
    with pytest.raises(TypeError, match="list of strings"):
        generation.generate(tiny_model, tokenizer, "Hi")
    with pytest.raises(ValueError, match="max_new_tokens"):
        generation.generate(tiny_model, tokenizer, ["Hi"], max_new_tokens=0)


def test_generate_answers_keeps_order_and_times_each_task(tokenizer, tiny_model, pairs):
    rows = pairs["test"].to_list()
    answers, seconds = instructions.generate_answers(tiny_model, tokenizer, rows, batch_size=4, margin=1)
    assert len(answers) == len(rows) and all(isinstance(a, str) for a in answers)
    assert set(seconds) == set(instructions.TASKS)
    again = generation.generate(tiny_model, tokenizer, [rows[0]["prompt"]], max_new_tokens=64)
    assert again[0].startswith(answers[0])


# ----------------------------------------------------------------------------- translation and chrF
def test_translation_task_uses_the_phrasebook_without_overlap():
    from sft_helpers import translation

    train, test = translation.translation_pairs("train"), translation.translation_pairs("test")
    assert {en for en, _ in train}.isdisjoint(en for en, _ in test)
    data = instructions.build_instruction_dataset(
        {"translate": len(train)}, {"translate": len(test)}, tasks=("translate",)
    )
    assert sorted(data["test"]["response"]) == sorted(es for _, es in test)
    row = data["train"][0]
    assert row["text"] in row["prompt"] and "Spanish" in row["prompt"] and row["people"] == []
    with pytest.raises(ValueError, match="split must be"):
        translation.translation_pairs("validation")
    with pytest.raises(ValueError, match="asked for"):
        instructions.build_instruction_dataset(
            {"translate": 1}, {"translate": len(test) + 1}, tasks=("translate",)
        )


def test_chrf_known_values_and_properties():
    from sft_helpers.translation import chrf

    assert chrf(["El gato duerme."], ["El gato duerme."]) == pytest.approx(100.0)
    assert chrf(["El gato duerme."], ["Elgato duerme."]) == pytest.approx(100.0)  # spaces are ignored
    assert chrf(["xyz"], ["abc"]) == 0.0
    assert chrf([""], ["abc"]) == 0.0
    # "ab" vs "abc": 1-grams P=1, R=2/3; 2-grams P=1, R=1/2; higher orders have no hypothesis n-grams
    f = lambda p, r: 5 * p * r / (4 * p + r)  # noqa: E731  (beta = 2)
    assert chrf(["ab"], ["abc"]) == pytest.approx(100 * (f(1, 2 / 3) + f(1, 1 / 2)) / 2)
    # a right stem with a wrong ending scores between a wrong word and the right one
    partial = chrf(["El gato duermen."], ["El gato duerme."])
    assert chrf(["El perro come."], ["El gato duerme."]) < partial < 100.0
    # recall weighs more than precision (beta = 2): a too-long answer beats a too-short one
    assert chrf(["El gato duerme en casa."], ["El gato duerme."]) > chrf(["El gato."], ["El gato duerme."])
    with pytest.raises(ValueError, match="must match"):
        chrf(["a"], ["a", "b"])
    with pytest.raises(TypeError, match="lists of strings"):
        chrf("a", ["a"])


def test_translate_scores():
    rows = [
        {"task": "translate", "response": "El niño lee.", "people": []},
        {"task": "translate", "response": "La niña come.", "people": []},
    ]
    scores = instructions.score_answers(rows, ["El niño lee.", "The girl eats."])
    assert scores["translate"]["exact"] == 0.5 and 0 < scores["translate"]["chrf"] < 100
    assert instructions.score_answers(rows, [r["response"] for r in rows])["translate"][
        "chrf"
    ] == pytest.approx(100)


# ----------------------------------------------------------------------------- the response-only loss
def test_response_only_lm_gives_the_models_loss_and_gradients(tokenizer, tiny_model, pairs):
    collate = instructions.InstructionCollator(tokenizer)
    batch = collate(
        [
            instructions.encode_example(tokenizer, r["prompt"], r["response"])
            for r in pairs["train"].select(range(4))
        ]
    )
    model = tiny_model.train()
    try:
        wrapped = instructions.ResponseOnlyLM(model)
        model.zero_grad()
        wrapped(**batch).loss.backward()
        ours = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        reference = model(**batch).loss
        reference.backward()
        torch.testing.assert_close(wrapped(**batch).loss, reference)
        for a, p in zip(ours, model.parameters(), strict=True):
            torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-6)
        nothing = dict(batch, labels=torch.full_like(batch["labels"], IGNORE_INDEX))
        assert wrapped(**nothing).loss.item() == 0.0
        with pytest.raises(ValueError, match="pass labels"):
            wrapped(input_ids=batch["input_ids"])
        with pytest.raises(TypeError, match="causal LM"):
            instructions.ResponseOnlyLM(torch.nn.Linear(2, 2))
    finally:
        model.zero_grad()
        model.eval()


def test_generation_cap_and_float32_switch(tokenizer, tiny_model, pairs):
    rows = pairs["test"].to_list()
    capped, _ = instructions.generate_answers(
        tiny_model, tokenizer, rows, batch_size=4, max_new_tokens=2, bf16=False
    )
    assert all(len(tokenizer(a, add_special_tokens=False)["input_ids"]) <= 3 for a in capped)
    with pytest.raises(ValueError, match="max_new_tokens"):
        instructions.generate_answers(tiny_model, tokenizer, rows, max_new_tokens=0)
    fp32 = generation.generate(tiny_model, tokenizer, ["Hi"], max_new_tokens=4, bf16=False)
    assert fp32 == generation.generate(tiny_model, tokenizer, ["Hi"], max_new_tokens=4, bf16=False)
