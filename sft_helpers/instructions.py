"""An instruction data set built from the bundled data, its tokenization with loss masking, and its scores.

Three tasks, each a (prompt, response) pair kept apart until tokenization:

* ``entities``: "list the named entities of this text as JSON" over the bundled NER sentences;
  the response is ``{"PER": [...], "ORG": [...], "LOC": [...], "MISC": [...]}`` built from the gold tags.
* ``sentiment``: "is this review negative, mixed or positive?" over the bundled reviews; one word.
* ``redact``: "replace each person's name by [PER]" over the NER sentences.
* ``translate``: "translate this English sentence into Spanish" over the project's phrasebook
  (:mod:`sft_helpers.translation`), a task an encoder with a token head cannot do.

Training examples come from the bundled ``train`` splits and test examples from the ``test``
splits, chosen by a seeded shuffle, so the split is deterministic and nothing leaks.

Tokenization applies the model's chat template; the labels are the input ids with -100 on every
prompt token (and on padding), so the loss is the cross-entropy of the response tokens only.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import torch

IGNORE_INDEX = -100
TASKS = ("entities", "sentiment", "redact", "translate")
ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")
SENTIMENT_LABELS = ("negative", "mixed", "positive")
REDACT_PLACEHOLDER = "[PER]"

ENTITY_PROMPT = (
    "List the people (PER), organisations (ORG), places (LOC) and other names (MISC) in this text "
    "as JSON, each key mapping to a list of the exact strings.\n\nText: {text}"
)
SENTIMENT_PROMPT = "Is this review negative, mixed or positive? Answer with one word.\n\nReview: {text}"
REDACT_PROMPT = (
    f"Copy this text, but replace the name of every person with {REDACT_PLACEHOLDER}. "
    "Keep places, organisations and all other words unchanged.\n\nText: {text}"
)
# Share of redaction training pairs whose sentence names at least one person (the rest teach the
# model to leave a text without people unchanged). Held-out redaction prompts always name people,
# so the leak rate is measured on every one of them.
REDACT_PEOPLE_SHARE = 0.8


# ----------------------------------------------------------------------------- building examples
def sentence_text(tokens: Sequence[str]) -> str:
    """The text of a pre-split sentence: its words joined by single spaces."""
    return " ".join(tokens)


def entities_from_tags(tokens: Sequence[str], tags: Sequence[str]) -> dict[str, list[str]]:
    """``{"PER": [...], "ORG": [...], "LOC": [...], "MISC": [...]}``: entity strings in text order."""
    from sft_helpers.spans import decode_iob2

    if len(tokens) != len(tags):
        raise ValueError(f"tokens has {len(tokens)} words but tags has {len(tags)}; they must match.")
    found: dict[str, list[str]] = {kind: [] for kind in ENTITY_TYPES}
    for kind, start, end in decode_iob2(tags):
        if kind not in found:
            raise ValueError(f"entity type {kind!r} is not one of {ENTITY_TYPES}.")
        found[kind].append(sentence_text(tokens[start:end]))
    return found


def entities_json(entities: Mapping[str, Sequence[str]]) -> str:
    """The canonical JSON answer: every type key, in the order of :data:`ENTITY_TYPES`, on one line."""
    return json.dumps({kind: list(entities.get(kind, [])) for kind in ENTITY_TYPES}, ensure_ascii=False)


def redact_people(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """The sentence with each person entity (however many words) replaced by one ``[PER]``."""
    from sft_helpers.spans import decode_iob2

    words, cursor = [], 0
    for kind, start, end in decode_iob2(tags):
        if kind == "PER":
            words.extend(tokens[cursor:start])
            words.append(REDACT_PLACEHOLDER)
            cursor = end
    words.extend(tokens[cursor:])
    return sentence_text(words)


def make_example(task: str, **source: Any) -> dict[str, Any]:
    """One example ``{"task", "prompt", "response", "text", "people"}`` of ``task``.

    ``people`` lists the person names of the text (what a redaction must hide; empty for reviews).

    ``entities``/``redact`` take ``tokens=`` and ``tags=`` (IOB2 names); ``sentiment`` takes
    ``text=`` and ``label=`` (a name from :data:`SENTIMENT_LABELS`); ``translate`` takes
    ``text=`` (English) and ``target=`` (its Spanish translation).
    """
    if task in ("entities", "redact"):
        tokens, tags = source["tokens"], source["tags"]
        text = sentence_text(tokens)
        entities = entities_from_tags(tokens, tags)
        if task == "entities":
            prompt, response = ENTITY_PROMPT.format(text=text), entities_json(entities)
        else:
            prompt, response = REDACT_PROMPT.format(text=text), redact_people(tokens, tags)
        return {"task": task, "prompt": prompt, "response": response, "text": text, "people": entities["PER"]}
    if task == "sentiment":
        text, label = source["text"], source["label"]
        if label not in SENTIMENT_LABELS:
            raise ValueError(f"label must be one of {SENTIMENT_LABELS}, got {label!r}.")
        return {
            "task": task,
            "prompt": SENTIMENT_PROMPT.format(text=text),
            "response": label,
            "text": text,
            "people": [],
        }
    if task == "translate":
        from sft_helpers.translation import TRANSLATE_PROMPT

        text, target = source["text"], source["target"]
        return {
            "task": task,
            "prompt": TRANSLATE_PROMPT.format(text=text),
            "response": target,
            "text": text,
            "people": [],
        }
    raise ValueError(f"task={task!r} is not known; use one of {TASKS}.")


def _counts(n: int | Mapping[str, int], tasks: Sequence[str], name: str) -> dict[str, int]:
    counts = dict(n) if isinstance(n, Mapping) else {task: n for task in tasks}
    for task, value in counts.items():
        if task not in TASKS:
            raise ValueError(f"{name} names task {task!r}; the tasks are {TASKS}.")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}[{task!r}] must be a non-negative int, got {value!r}.")
    return counts


def build_instruction_dataset(
    n_train: int | Mapping[str, int] = 300,
    n_test: int | Mapping[str, int] = 30,
    seed: int = 0,
    tasks: Sequence[str] = TASKS,
    redact_people_share: float = REDACT_PEOPLE_SHARE,
) -> Any:
    """A ``DatasetDict`` with ``train`` and ``test`` instruction examples (``n_*`` per task, or a dict).

    Columns: ``task``, ``prompt``, ``response``, ``text``, ``people``, ``source_split`` and ``source_index``
    (the row of the bundled data set it came from, to reach its gold tags). Train rows come from
    the bundled train splits, test rows from the test splits; the same ``seed`` gives the same rows.

    Redaction pairs are drawn apart: ``redact_people_share`` of the training pairs (rounded) come
    from sentences that name at least one person, the rest from sentences without people; every
    test pair names at least one person, so its leak rate counts every prompt.
    """
    from datasets import Dataset, DatasetDict

    from sft_helpers.data import load_classification, load_ner

    unknown = [t for t in tasks if t not in TASKS]
    if unknown or not tasks:
        raise ValueError(f"tasks must be a non-empty subset of {TASKS}, got {list(tasks)!r}.")
    if not 0.0 <= redact_people_share <= 1.0:
        raise ValueError(f"redact_people_share must be in [0, 1], got {redact_people_share!r}.")
    ner, reviews = load_ner(), load_classification()
    tag_names = ner["train"].features["ner_tags"].feature.names
    label_names = reviews["train"].features["label"].names
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        counts = _counts(n, tasks, "n_train" if split == "train" else "n_test")
        rows: list[dict[str, Any]] = []
        for task_number, task in enumerate(tasks):
            if task == "translate":
                from sft_helpers.translation import translation_pairs

                source = [{"text": en, "target": es} for en, es in translation_pairs(split)]
            else:
                source = reviews[split] if task == "sentiment" else ner[split]
            want = counts.get(task, 0)
            if want > len(source):
                raise ValueError(
                    f"asked for {want} {task} examples but the {split} split has {len(source)} rows."
                )
            rng = random.Random(f"{seed}-{split}-{task_number}")
            if task == "redact":
                chosen = _redact_indices(source, tag_names, want, split, redact_people_share, rng)
            else:
                chosen = rng.sample(range(len(source)), want)
            for index in chosen:
                row = source[index]
                if task == "translate":
                    example = make_example(task, **row)
                elif task == "sentiment":
                    example = make_example(task, text=row["text"], label=label_names[row["label"]])
                else:
                    tags = [tag_names[t] for t in row["ner_tags"]]
                    example = make_example(task, tokens=row["tokens"], tags=tags)
                rows.append({**example, "source_split": split, "source_index": index})
        random.Random(f"{seed}-{split}-order").shuffle(rows)
        out[split] = Dataset.from_list(rows)
    return DatasetDict(out)


def _redact_indices(
    source: Any, tag_names: Sequence[str], want: int, split: str, people_share: float, rng: random.Random
) -> list[int]:
    """Rows for redaction pairs: ``people_share`` of them (all in the test split) name a person."""
    person = tag_names.index("B-PER")
    with_people = [i for i, tags in enumerate(source["ner_tags"]) if person in tags]
    without = [i for i, tags in enumerate(source["ner_tags"]) if person not in tags]
    n_people = want if split == "test" else round(want * people_share)
    for pool, n, what in (
        (with_people, n_people, "name a person"),
        (without, want - n_people, "name nobody"),
    ):
        if n > len(pool):
            raise ValueError(
                f"asked for {n} redact examples whose sentence {what} but the {split} split has {len(pool)}."
            )
    chosen = rng.sample(with_people, n_people) + rng.sample(without, want - n_people)
    rng.shuffle(chosen)
    return chosen


# ----------------------------------------------------------------------------- tokenization and masking
def chat_ids(tokenizer: Any, prompt: str, response: str | None = None) -> list[int]:
    """Token ids of a chat: the user's ``prompt``, then the assistant's ``response`` or, when it is
    None, the header that asks the model to answer (``add_generation_prompt``)."""
    messages = [{"role": "user", "content": prompt}]
    if response is not None:
        messages.append({"role": "assistant", "content": response})
    ids = tokenizer.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=response is None, return_dict=False
    )
    if isinstance(ids, Mapping):  # some transformers versions return a BatchEncoding
        ids = ids["input_ids"]
    return list(ids)


def mask_prompt_labels(
    input_ids: torch.Tensor, prompt_lengths: torch.Tensor, attention_mask: torch.Tensor
) -> torch.Tensor:
    """Labels for response-only training: ``input_ids`` with -100 on the first ``prompt_lengths[i]``
    positions of row ``i`` and wherever ``attention_mask`` is 0 (right padding).

    Shapes: ``input_ids`` and ``attention_mask`` (batch, seq), ``prompt_lengths`` (batch,).
    Padding is found from the attention mask, not from the pad id: this tokenizer pads with
    ``<|im_end|>``, which is also the last token of every response and must stay a label.
    """
    positions = torch.arange(input_ids.shape[1], device=input_ids.device)  # (seq,)
    in_prompt = positions[None, :] < prompt_lengths[:, None]  # (batch, seq)
    return input_ids.masked_fill(in_prompt | (attention_mask == 0), IGNORE_INDEX)


def encode_example(
    tokenizer: Any, prompt: str, response: str, max_length: int | None = None
) -> dict[str, list[int] | int]:
    """``input_ids``, ``attention_mask``, ``labels`` (-100 on the prompt) and ``prompt_length`` of one pair.

    Sequences longer than ``max_length`` are cut at the end (the response loses its tail).
    """
    prompt_ids = chat_ids(tokenizer, prompt)
    full_ids = chat_ids(tokenizer, prompt, response)
    if full_ids[: len(prompt_ids)] != prompt_ids:
        raise ValueError(
            "the chat template does not render the prompt as a prefix of prompt + response, so the "
            "prompt tokens cannot be masked by position; use a template without that quirk."
        )
    if max_length is not None:
        if max_length <= len(prompt_ids):
            raise ValueError(
                f"max_length={max_length} leaves no room for the response: the prompt alone has "
                f"{len(prompt_ids)} tokens; raise max_length or shorten the prompt."
            )
        full_ids = full_ids[:max_length]
    labels = [IGNORE_INDEX] * len(prompt_ids) + full_ids[len(prompt_ids) :]
    return {
        "input_ids": full_ids,
        "attention_mask": [1] * len(full_ids),
        "labels": labels,
        "prompt_length": len(prompt_ids),
    }


def tokenize_instructions(dataset: Any, tokenizer: Any, max_length: int | None = 256) -> Any:
    """``dataset.map`` of :func:`encode_example`: adds ``input_ids``, ``attention_mask``, ``labels``,
    ``prompt_length`` (other columns stay; the training loop keeps only what the model reads)."""
    for column in ("prompt", "response"):
        if column not in dataset.column_names:
            raise ValueError(f"dataset has no {column!r} column (columns: {dataset.column_names}).")
    return dataset.map(
        lambda row: encode_example(tokenizer, row["prompt"], row["response"], max_length),
        desc="apply the chat template and mask the prompt",
    )


def _prompt_length(example: Mapping[str, Any], index: int) -> int:
    """An encoded example's prompt length: its ``prompt_length``, or, when a training loop kept only
    the model's columns, the number of leading -100 labels :func:`encode_example` wrote."""
    if "prompt_length" in example:
        return int(example["prompt_length"])
    if "labels" in example:
        labels = list(example["labels"])
        return next((i for i, label in enumerate(labels) if label != IGNORE_INDEX), len(labels))
    raise ValueError(
        f"mask_fn needs each example's prompt_length or its encoded labels (example {index} has neither); "
        "encode the pairs with encode_example or tokenize_instructions."
    )


class InstructionCollator:
    """Pads a list of encoded examples on the right: pad id in ``input_ids``, 0 in the mask, -100 in labels.

    With ``mask_fn`` (a function like :func:`mask_prompt_labels`: ``(input_ids, prompt_lengths,
    attention_mask) -> labels`` on the padded batch) the labels are built by it from each example's
    ``prompt_length`` (or, where a training loop dropped that column, from the leading -100
    labels of the encoded example) instead of being read from the examples.
    """

    def __init__(self, tokenizer: Any, pad_to_multiple_of: int | None = None, mask_fn: Any = None) -> None:
        pad = getattr(tokenizer, "pad_token_id", None)
        if pad is None:
            pad = getattr(tokenizer, "eos_token_id", None)
        if pad is None:
            raise ValueError("tokenizer has neither a pad_token_id nor an eos_token_id to pad with.")
        self.pad_id = int(pad)
        self.pad_to_multiple_of = pad_to_multiple_of
        self.mask_fn = mask_fn

    def __call__(self, examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        if not examples:
            raise ValueError("cannot collate an empty list of examples.")
        length = max(len(e["input_ids"]) for e in examples)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch: dict[str, list[list[int]]] = {"input_ids": [], "attention_mask": [], "labels": []}
        for e in examples:
            n = len(e["input_ids"])
            labels = e.get("labels", e["input_ids"])
            batch["input_ids"].append(list(e["input_ids"]) + [self.pad_id] * (length - n))
            batch["attention_mask"].append([1] * n + [0] * (length - n))
            batch["labels"].append(list(labels) + [IGNORE_INDEX] * (length - n))
        out = {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}
        if self.mask_fn is not None:
            lengths = torch.tensor([_prompt_length(e, i) for i, e in enumerate(examples)], dtype=torch.long)
            labels = self.mask_fn(out["input_ids"].clone(), lengths, out["attention_mask"].clone())
            out["labels"] = torch.as_tensor(labels).long()
        return out


class ResponseOnlyLM(torch.nn.Module):
    """A causal LM whose training loss runs the output layer on the response positions only.

    ``model(**batch).loss`` of a causal LM computes logits over the whole vocabulary (49,152 words
    for SmolLM2) at *every* position and then throws away those whose next-token label is -100:
    the prompt and the padding, most of each sequence here. This wrapper runs the decoder stack
    as usual, keeps the hidden states of the positions that predict a labelled token, and applies
    the output layer (``get_output_embeddings``) and the cross-entropy to those alone: the same
    loss and the same gradients, for less compute and memory. It wraps a transformers causal LM
    or a peft model around one; ``forward`` takes ``input_ids``, ``attention_mask`` and ``labels``
    and returns an object with ``loss`` (no ``logits``), which is all a training loop needs.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        if not (hasattr(base, "get_decoder") and hasattr(base, "get_output_embeddings")):
            raise TypeError(
                f"ResponseOnlyLM needs a transformers causal LM (or a peft model around one), got "
                f"{type(model).__name__}."
            )
        self.model = model  # what is trained and saved (its parameters are ours)
        self.decoder = base.get_decoder()  # the decoder stack: input ids -> hidden states
        self.head = base.get_output_embeddings()  # hidden states -> logits over the vocabulary
        if self.decoder is None or self.head is None:
            raise TypeError(f"{type(base).__name__} has no decoder stack or output layer to split.")

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> Any:
        from transformers.modeling_outputs import ModelOutput

        if labels is None:
            raise ValueError(
                "ResponseOnlyLM computes a training loss: pass labels (-100 where nothing is learned)."
            )
        hidden = self.decoder(
            input_ids=input_ids, attention_mask=attention_mask
        ).last_hidden_state  # (b, s, d)
        targets = labels[:, 1:]  # (b, s-1): position t predicts token t + 1
        keep = targets != IGNORE_INDEX  # (b, s-1)
        if not keep.any():  # nothing to learn in this batch (e.g. responses cut off by max_length)
            return ModelOutput(loss=hidden.sum() * 0.0)
        logits = self.head(hidden[:, :-1][keep])  # (response tokens, vocab)
        loss = torch.nn.functional.cross_entropy(logits.float(), targets[keep])
        return ModelOutput(loss=loss)


# ----------------------------------------------------------------------------- scoring answers
def parse_entities(answer: str) -> dict[str, list[str]] | None:
    """The entities of a model's JSON answer, or None when it is not a JSON object.

    Unknown keys are ignored; a string value counts as a one-item list; other values are dropped.
    """
    try:
        value = json.loads(answer.strip())
    except (json.JSONDecodeError, TypeError):
        return None
    if not isinstance(value, dict):
        return None
    found: dict[str, list[str]] = {}
    for kind in ENTITY_TYPES:
        items = value.get(kind, [])
        if isinstance(items, str):
            items = [items]
        found[kind] = (
            [x.strip() for x in items if isinstance(x, str) and x.strip()] if isinstance(items, list) else []
        )
    return found


def entity_counts(
    gold: Mapping[str, Sequence[str]], predicted: Mapping[str, Sequence[str]] | None
) -> Counter:
    """``tp``, ``fp``, ``fn`` of ``(type, text)`` pairs as multisets (an answer that is not JSON finds nothing)."""
    gold_pairs = Counter((k, t) for k, items in gold.items() for t in items)
    pred_pairs = Counter((k, t) for k, items in (predicted or {}).items() for t in items)
    tp = sum((gold_pairs & pred_pairs).values())
    return Counter(tp=tp, fp=sum(pred_pairs.values()) - tp, fn=sum(gold_pairs.values()) - tp)


def prf(counts: Mapping[str, int]) -> dict[str, float]:
    """Precision, recall and F1 from ``tp``/``fp``/``fn`` counts (0 where undefined)."""
    tp, fp, fn = counts.get("tp", 0), counts.get("fp", 0), counts.get("fn", 0)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def first_label(answer: str) -> str | None:
    """The first of negative/mixed/positive named in a free-form answer (None when there is none)."""
    words = [w.strip(".,;:!?\"'()").lower() for w in answer.split()]
    return next((w for w in words if w in SENTIMENT_LABELS), None)


def _normalise_word(answer: str) -> str:
    return answer.strip().strip(".!").strip().lower()


def _words(text: str) -> list[str]:
    return [w.strip(".,;:!?\"'()[]") for w in text.split()]


def name_leaked(person: str, answer: str, gold: str = "") -> bool:
    """Whether a redaction ``answer`` still gives away ``person``: the whole name, or any word of it
    that the ``gold`` redaction does not itself contain ("[PER] Becker" leaks "Carlos Becker")."""
    if person in answer:
        return True
    kept = set(_words(gold))
    answer_words = set(_words(answer))
    return any(w in answer_words for w in _words(person) if w and w not in kept)


def score_answers(rows: Sequence[Mapping[str, Any]], answers: Sequence[str]) -> dict[str, dict[str, float]]:
    """Scores per task of generated ``answers`` against the rows' gold ``response``.

    * entities: ``json_valid`` (a JSON object), ``exact`` (same entities of every type), entity
      ``precision``/``recall``/``f1`` over ``(type, text)`` pairs (a hallucinated name is a false positive);
    * sentiment: ``exact`` (the one word, case and final full stop ignored) and ``accuracy`` (the
      first label word the answer names, for chatty answers such as "This review is mixed.");
    * redact: ``exact`` (same text) and ``leaked`` (fraction of gold person names still present,
      wholly or in part: see :func:`name_leaked`);
    * translate: ``chrf`` (corpus chrF, 0-100: :func:`sft_helpers.translation.chrf`) and ``exact``.
    """
    if len(rows) != len(answers):
        raise ValueError(f"rows has {len(rows)} examples but answers has {len(answers)}; they must match.")
    by_task: dict[str, list[tuple[Mapping[str, Any], str]]] = {}
    for row, answer in zip(rows, answers, strict=True):
        if not isinstance(answer, str):
            raise TypeError(f"answers must be strings, got {type(answer).__name__}.")
        by_task.setdefault(row["task"], []).append((row, answer))
    scores: dict[str, dict[str, float]] = {}
    for task, pairs in by_task.items():
        n = len(pairs)
        if task == "entities":
            counts: Counter = Counter()
            valid = exact = 0
            for row, answer in pairs:
                gold, predicted = parse_entities(row["response"]), parse_entities(answer)
                if gold is None:
                    raise ValueError(
                        f"an entities row's gold response is not a JSON object: {str(row['response'])[:80]!r}; "
                        "fix the data set (every entities row's response is the JSON answer)."
                    )
                valid += predicted is not None
                exact += predicted is not None and all(
                    sorted(gold[k]) == sorted(predicted[k]) for k in ENTITY_TYPES
                )
                counts += entity_counts(gold, predicted)
            scores[task] = {"n": n, "json_valid": valid / n, "exact": exact / n, **prf(counts)}
        elif task == "sentiment":
            exact = sum(_normalise_word(a) == _normalise_word(r["response"]) for r, a in pairs)
            right = sum(first_label(a) == r["response"] for r, a in pairs)
            scores[task] = {"n": n, "exact": exact / n, "accuracy": right / n}
        elif task == "redact":
            exact = sum(a.strip() == r["response"].strip() for r, a in pairs)
            names = leaked = 0
            for row, answer in pairs:
                names += len(row["people"])
                leaked += sum(name_leaked(person, answer, row["response"]) for person in row["people"])
            scores[task] = {"n": n, "exact": exact / n, "leaked": leaked / names if names else 0.0}
        elif task == "translate":
            from sft_helpers.translation import chrf

            exact = sum(a.strip() == r["response"].strip() for r, a in pairs)
            score = chrf([a.strip() for _, a in pairs], [r["response"] for r, _ in pairs])
            scores[task] = {"n": n, "chrf": score, "exact": exact / n}
        else:
            raise ValueError(f"row task {task!r} is not one of {TASKS}.")
    return scores


def generate_answers(
    model: torch.nn.Module,
    tokenizer: Any,
    rows: Sequence[Mapping[str, Any]],
    batch_size: int = 8,
    margin: int = 8,
    bf16: bool | None = None,
    max_new_tokens: int | None = None,
) -> tuple[list[str], dict[str, float]]:
    """Greedy answers to the rows' prompts, task by task, and the seconds each task took.

    Each task's answers are capped at its longest gold response plus ``margin`` tokens: a
    one-word sentiment needs far fewer steps than a JSON list of entities. ``bf16`` as in
    :func:`sft_helpers.generation.generate`. ``max_new_tokens`` caps every task's budget (a quick
    look at the answers' beginnings, e.g. in fast mode); None: no cap.
    """
    if max_new_tokens is not None and (not isinstance(max_new_tokens, int) or max_new_tokens < 1):
        raise ValueError(f"max_new_tokens must be None or a positive int, got {max_new_tokens!r}.")
    import time

    from sft_helpers.generation import generate

    answers: list[str] = [""] * len(rows)
    seconds: dict[str, float] = {}
    for task in dict.fromkeys(row["task"] for row in rows):
        chosen = [i for i, row in enumerate(rows) if row["task"] == task]
        longest = max(
            len(tokenizer(rows[i]["response"], add_special_tokens=False)["input_ids"]) for i in chosen
        )
        start = time.perf_counter()
        out = generate(
            model,
            tokenizer,
            [rows[i]["prompt"] for i in chosen],
            max_new_tokens=min(longest + margin, max_new_tokens or longest + margin),
            batch_size=batch_size,
            bf16=bf16,
        )
        seconds[task] = time.perf_counter() - start
        for i, answer in zip(chosen, out, strict=True):
            answers[i] = answer
    return answers, seconds


def bootstrap_scores(
    rows: Sequence[Mapping[str, Any]],
    answers_before: Sequence[str],
    answers_after: Sequence[str],
    n_resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, dict[str, float]]]:
    """Scores before and after training with a paired bootstrap over the held-out prompts.

    For each task, the prompts of that task are resampled with replacement ``n_resamples`` times;
    each resample scores both answer lists on the same prompts. Returns, per task and score,
    ``before``, ``after`` and ``change`` (after - before) with ``*_low``/``*_high``: the central
    ``level`` interval of the resampled values, plus ``n`` (the number of prompts). A change whose
    interval excludes 0 is unlikely to be an accident of which prompts were held out; it says
    nothing about other seeds of the training run.
    """
    if not len(rows) == len(answers_before) == len(answers_after):
        raise ValueError("rows, answers_before and answers_after must have the same length.")
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive int, got {n_resamples!r}.")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}.")
    rng = random.Random(seed)
    before, after = score_answers(rows, answers_before), score_answers(rows, answers_after)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for task in before:
        chosen = [i for i, row in enumerate(rows) if row["task"] == task]
        samples: dict[str, dict[str, list[float]]] = {}
        for _ in range(n_resamples):
            pick = [chosen[rng.randrange(len(chosen))] for _ in chosen]
            picked_rows = [rows[i] for i in pick]
            b = score_answers(picked_rows, [answers_before[i] for i in pick])[task]
            a = score_answers(picked_rows, [answers_after[i] for i in pick])[task]
            for key in b:
                if key == "n":
                    continue
                entry = samples.setdefault(key, {"before": [], "after": [], "change": []})
                entry["before"].append(b[key])
                entry["after"].append(a[key])
                entry["change"].append(a[key] - b[key])
        out[task] = {}
        for key, entry in samples.items():
            summary = {
                "n": len(chosen),
                "before": before[task][key],
                "after": after[task][key],
                "change": after[task][key] - before[task][key],
            }
            for name, values in entry.items():
                values.sort()
                low = values[int((1 - level) / 2 * (len(values) - 1))]
                high = values[int(round((1 + level) / 2 * (len(values) - 1)))]
                summary[f"{name}_low"], summary[f"{name}_high"] = low, high
            out[task][key] = summary
    return out
