"""Property tests of the readers: random valid files load correctly, random junk fails cleanly.

Whatever the content, a reader returns a correct data set or raises ValueError; nothing else.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sft_helpers.data import load_classification, load_ner
from sft_helpers.data.readers import read_conll, read_table, to_iob2

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Round trips build a Dataset per example: fewer of them keep the file within seconds.
ROUND_TRIP = settings(SETTINGS, max_examples=100)

# A token: non-empty, no whitespace (str.split() would cut it), not the -DOCSTART- marker.
token = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8).filter(
    lambda t: not any(c.isspace() for c in t) and t != "-DOCSTART-"
)
entity_type = st.sampled_from(["PER", "ORG", "LOC", "MISC", "person", "x"])
tag = st.one_of(st.just("O"), st.builds(lambda p, t: f"{p}-{t}", st.sampled_from("BI"), entity_type))
sentence = st.lists(st.tuples(token, tag), min_size=1, max_size=6)


def _write(text: str, name: str) -> Path:
    folder = Path(tempfile.mkdtemp())
    path = folder / name
    path.write_bytes(text.encode("utf-8"))
    return path


@ROUND_TRIP
@given(
    sentences=st.lists(sentence, min_size=1, max_size=5),
    extra=st.sampled_from([0, 2]),
    sep=st.sampled_from([" ", "\t"]),
)
def test_valid_conll_round_trips(sentences, extra, sep):
    """Any valid CoNLL file loads with the same words and the IOB2 version of its tags."""
    blocks = ["".join(sep.join([w, *["X"] * extra, t]) + "\n" for w, t in s) for s in sentences]
    path = _write("\n".join(blocks), "train.txt")
    expected = [([w for w, _ in s], to_iob2([t for _, t in s])) for s in sentences]
    assert read_conll(path) == expected
    ds = load_ner(path)["train"]
    names = ds.features["ner_tags"].feature.names
    assert names[0] == "O" and len(names) == len(set(names))
    assert [list(t) for t in ds["tokens"]] == [e[0] for e in expected]
    assert [[names[i] for i in row] for row in ds["ner_tags"]] == [e[1] for e in expected]


@SETTINGS
@given(
    text=st.lists(st.sampled_from(list("ab BIO-\t\n\r.X") + ["-DOCSTART-", "B-PER", "I-"]), max_size=40).map(
        "".join
    )
)
def test_random_conll_content_loads_or_raises_value_error(text):
    path = _write(text, "train.conll")
    try:
        ds = load_ner(path)
    except ValueError as err:
        assert "train.conll" in str(err)
        return
    assert ds["train"].num_rows > 0
    for tokens, tags in zip(ds["train"]["tokens"], ds["train"]["ner_tags"]):
        assert len(tokens) == len(tags) > 0


label_value = st.one_of(st.integers(0, 5), st.sampled_from(["pos", "neg", "mixed"]))
text_value = st.text(min_size=1, max_size=30).filter(lambda t: t.strip() and "\x00" not in t)


@ROUND_TRIP
@given(rows=st.lists(st.tuples(text_value, label_value), min_size=1, max_size=8), use_ints=st.booleans())
def test_valid_csv_round_trips(rows, use_ints):
    key = [lab if isinstance(lab, int) else len(lab) for _, lab in rows]
    rows = [(t, (k % 3 if use_ints else f"c{k % 3}")) for (t, _), k in zip(rows, key)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    ds = load_classification(_write(buffer.getvalue(), "train.csv"))["train"]
    names = ds.features["label"].names
    assert ds["text"] == [t for t, _ in rows]
    assert [names[i] for i in ds["label"]] == [str(lab) for _, lab in rows]


@ROUND_TRIP
@given(
    rows=st.lists(st.fixed_dictionaries({"text": text_value, "label": label_value}), min_size=1, max_size=6)
)
def test_valid_jsonl_round_trips_or_rejects_mixed_kinds(rows):
    path = _write("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), "dev.jsonl")
    kinds = {type(r["label"]) for r in rows}
    try:
        ds = load_classification(path)["validation"]
    except ValueError as err:
        assert len(kinds) == 2 and "one kind for every label" in str(err)
        return
    assert len(kinds) == 1 and ds["text"] == [r["text"] for r in rows]


@SETTINGS
@given(text=st.lists(st.sampled_from(list('ab,"\t\n\r 1-x') + ["text", "label", "sentence"]), max_size=30).map("".join),
       suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]))  # fmt: skip
def test_random_table_content_loads_or_raises_value_error(text, suffix):
    path = _write(text, "train" + suffix)
    try:
        rows = read_table(path)
    except ValueError as err:
        assert str(path.name) in str(err)
        return
    assert rows and all(r["text"].strip() for r in rows)
    ds = load_classification(path)["train"]
    assert ds.num_rows == len(rows)
