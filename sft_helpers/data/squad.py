"""Reading SQuAD files (v1.1 and v2.0) into rows of the hub's ``squad_v2`` schema.

The official layout is nested: ``{"data": [{"title", "paragraphs": [{"context", "qas":
[{"id", "question", "answers": [{"text", "answer_start"}], "is_impossible"}]}]}]}``.
v1.1 has no ``is_impossible`` (every question has an answer); in v2.0 an impossible
question has ``"answers": []`` (its ``plausible_answers`` are ignored here). Every answer's
``answer_start`` must point at its text in the context: a file where it does not is
reported with the question id and the two strings, since training on shifted spans
teaches the model the wrong words.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sft_helpers.data.readers import DataFormatError

SQUAD_EXTENSIONS = (".json",)
FORMAT_HELP = (
    'expected the SQuAD layout {"data": [{"title": ..., "paragraphs": [{"context": ..., "qas": '
    '[{"id": ..., "question": ..., "answers": [{"text": ..., "answer_start": <int>}]}]}]}]} '
    "(v2.0 adds \"is_impossible\": true with \"answers\": [] for unanswerable questions)"
)


def _fail(path: Path, where: str, what: str, fix: str = FORMAT_HELP) -> DataFormatError:
    return DataFormatError(f"{path}, {where}: {what}; {fix}.")


def _read_json(path: Path) -> Any:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8.") from None
    if not text.strip():
        raise DataFormatError(f"{path}: the file is empty; {FORMAT_HELP}.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise DataFormatError(
            f"{path}, line {err.lineno} column {err.colno}: not valid JSON ({err.msg}); SQuAD files are one JSON "
            "document (JSON lines are not read here)."
        ) from None


def _string(value: Any, path: Path, where: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, where, f"{name} is {value!r}, not a non-empty string")
    return value


def read_squad(path: str | Path) -> list[dict[str, Any]]:
    """Rows ``{id, title, context, question, answers: {text: [...], answer_start: [...]}}`` of a SQuAD file.

    Raises :class:`DataFormatError` naming the file, the article/paragraph/question and what
    is wrong: not the nested layout, a missing field, an ``answer_start`` that does not point
    at the answer's text, an impossible question that has answers, a repeated id.
    """
    path = Path(path)
    doc = _read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        got = type(doc).__name__ if not isinstance(doc, dict) else f"keys {sorted(doc)[:5]}"
        raise _fail(path, "top level", f'no "data" list (got {got})')
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for a, article in enumerate(doc["data"]):
        where_a = f"data[{a}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise _fail(path, where_a, 'an article needs a "paragraphs" list')
        title = article.get("title", "")
        if not isinstance(title, str):
            raise _fail(path, where_a, f"title is {title!r}, not a string")
        for p, paragraph in enumerate(article["paragraphs"]):
            where_p = f"{where_a}.paragraphs[{p}]"
            if not isinstance(paragraph, dict):
                raise _fail(path, where_p, "a paragraph must be an object with context and qas")
            context = _string(paragraph.get("context"), path, where_p, "context")
            qas = paragraph.get("qas")
            if not isinstance(qas, list):
                raise _fail(path, where_p, 'a paragraph needs a "qas" list')
            for q, qa in enumerate(qas):
                rows.append(_question(qa, context, title, path, f"{where_p}.qas[{q}]", seen))
    if not rows:
        raise DataFormatError(f"{path}: the file holds no questions; {FORMAT_HELP}.")
    return rows


def _question(qa: Any, context: str, title: str, path: Path, where: str, seen: set[str]) -> dict[str, Any]:
    if not isinstance(qa, dict):
        raise _fail(path, where, "a question must be an object with id, question and answers")
    qid = qa.get("id")
    if not isinstance(qid, str | int) or isinstance(qid, bool) or str(qid) == "":
        raise _fail(path, where, f'"id" is {qid!r}; every question needs a unique id')
    qid = str(qid)
    where = f"{where} (id {qid!r})"
    if qid in seen:
        raise _fail(path, where, "this id was already used", "give every question its own id")
    seen.add(qid)
    question = _string(qa.get("question"), path, where, "question")
    answers = qa.get("answers", [])
    impossible = qa.get("is_impossible", False)
    if not isinstance(impossible, bool):
        raise _fail(path, where, f"is_impossible is {impossible!r}, not true/false")
    if not isinstance(answers, list):
        raise _fail(path, where, f'"answers" is a {type(answers).__name__}, not a list')
    if impossible and answers:
        raise _fail(
            path, where, f"is_impossible is true but it has {len(answers)} answer(s)",
            'an unanswerable question has "answers": [] (put candidates in "plausible_answers")',
        )  # fmt: skip
    if not impossible and not answers:
        raise _fail(
            path, where, "no answers, and is_impossible is not true",
            'give it answers, or mark it "is_impossible": true (SQuAD 2.0) if the context does not answer it',
        )  # fmt: skip
    texts, starts = [], []
    for n, ans in enumerate(answers):
        if not isinstance(ans, dict) or "text" not in ans or "answer_start" not in ans:
            raise _fail(path, f"{where}, answer {n}", 'an answer needs "text" and "answer_start"')
        text, start = ans["text"], ans["answer_start"]
        if not isinstance(text, str) or not text:
            raise _fail(path, f"{where}, answer {n}", f"text is {text!r}, not a non-empty string")
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise _fail(path, f"{where}, answer {n}", f"answer_start is {start!r}, not a character index >= 0")
        found = context[start : start + len(text)]
        if found != text:
            raise DataFormatError(
                f"{path}, {where}, answer {n}: answer_start={start} points at {found!r} in the context, not at the "
                f"answer {text!r}; answer_start must be the character index where the answer begins "
                f"(here context.find(text) = {context.find(text)}). Fix the offsets or regenerate the file."
            )
        texts.append(text)
        starts.append(start)
    return {
        "id": qid,
        "title": title,
        "context": context,
        "question": question,
        "answers": {"text": texts, "answer_start": starts},
    }


def qa_dict(rows_by_split: dict[str, list[dict[str, Any]]]):
    """A ``DatasetDict`` with the hub's ``squad_v2`` features from rows of :func:`read_squad`."""
    from datasets import Dataset, DatasetDict, Features, List, Value

    features = Features(
        {
            "id": Value("string"),
            "title": Value("string"),
            "context": Value("string"),
            "question": Value("string"),
            "answers": {"text": List(Value("string")), "answer_start": List(Value("int32"))},
        }
    )
    order = [s for s in ("train", "validation", "test") if s in rows_by_split]
    order += [s for s in rows_by_split if s not in order]
    out = {}
    for split in order:
        rows = rows_by_split[split]
        if not rows:
            raise ValueError(f"split {split!r} is empty: every split needs at least one question.")
        columns = {name: [r[name] for r in rows] for name in features}
        out[split] = Dataset.from_dict(columns, features=features)
    return DatasetDict(out)


def qa_from_hub(name: str):
    """``datasets.load_dataset(name)`` (online) with the squad_v2 columns; clear advice when offline."""
    from sft_helpers.data.hub import HubUnavailableError, _offline

    advice = (
        f"Loading {name!r} from the Hugging Face hub needs the network. Offline, use source='bundled' or a "
        f"SQuAD JSON file or folder. (No file or folder named {str(Path(name).resolve())!r} exists either.)"
    )
    if _offline():
        raise HubUnavailableError(advice + " HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set.")
    import datasets

    try:
        loaded = datasets.load_dataset(name)
    except Exception as err:  # noqa: BLE001 - any download failure gets the same advice
        raise HubUnavailableError(f"{advice} The hub said: {type(err).__name__}: {err}") from err
    keep = ["id", "title", "context", "question", "answers"]
    for split, ds in loaded.items():
        missing = [c for c in keep if c not in ds.column_names]
        if missing:
            raise ValueError(
                f"hub data set {name!r}, split {split!r}, lacks the columns {missing} (it has {ds.column_names}); "
                "expected the squad / squad_v2 schema."
            )
    return datasets.DatasetDict({split: ds.select_columns(keep) for split, ds in loaded.items()})
