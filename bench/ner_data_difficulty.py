"""How hard is the bundled NER data? Train chapter 5's tagger exactly as the notebook does and score it.

Generates the data in memory from ``sft_helpers.data.news`` (so a change to the generator can
be measured before the bundled files are rewritten), fine-tunes the bundled encoder with
chapter 5's full-mode settings (first-subword labels, 2 epochs on all 3,000 training
sentences, batch 16, lr 1e-4, length-grouped batches, best epoch by validation F1) and prints
one JSON line: test entity F1, the memorising baseline, the error categories, seen/unseen
recall, and F1 on held-out vs familiar sentences and by casing.

    cpu-slot .venv/bin/python bench/ner_data_difficulty.py            # about 3 minutes on 2 cores
    cpu-slot .venv/bin/python bench/ner_data_difficulty.py --epochs 1 --max-train 600
"""

from __future__ import annotations

import argparse
import sys
import time

from _common import emit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=13, help="data seed (the bundled data use 13)")
    parser.add_argument("--train-seed", type=int, default=0, help="chapter 5's SEED")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max-train", type=int, default=3000)
    parser.add_argument("--examples", type=int, default=0, help="print this many examples per error category")
    args = parser.parse_args(argv)

    import datasets

    from sft_helpers import baselines, metrics, runtime
    from sft_helpers.data import news
    from sft_helpers.data.schema import CONLL2003_TAGS, ner_dict
    from sft_helpers.models import load_pretrained
    from sft_helpers.ner_analysis import (
        casing_of,
        entity_strings,
        error_categories,
        predict_word_tags,
        scores_by_group,
        seen_unseen_recall,
    )
    from sft_helpers.tokenization import token_classification_collator, tokenize_and_align
    from sft_helpers.training import TrainConfig, train

    datasets.disable_progress_bars()
    runtime.set_threads()
    rows = news.generate(args.seed)
    raw = ner_dict({s: [(r["tokens"], r["tags"]) for r in rows[s]] for s in rows}, names=list(CONLL2003_TAGS))
    names = list(CONLL2003_TAGS)
    runtime.seed_everything(args.train_seed)
    model, tokenizer = load_pretrained("token-classification", labels=names, verbose=False)
    collator = token_classification_collator(tokenizer)
    train_rows = raw["train"].select(range(min(args.max_train, len(raw["train"]))))
    train_set = tokenize_and_align(train_rows, tokenizer, False, max_length=128, label_names=names)
    valid_set = tokenize_and_align(raw["validation"], tokenizer, False, max_length=128, label_names=names)
    config = TrainConfig(
        epochs=args.epochs, batch_size=16, lr=1e-4, early_stopping_metric="f1", group_by_length=True,
        seed=args.train_seed, progress=False, verbose=False,
    )  # fmt: skip
    start = time.perf_counter()
    result = train(model, train_set, valid_set, config, collator=collator,
                   compute_metrics=metrics.ner_metrics(model.config.id2label))  # fmt: skip
    seconds = time.perf_counter() - start
    test = rows["test"]
    tokens = [r["tokens"] for r in test]
    true = [r["tags"] for r in test]
    pred = predict_word_tags(model, tokenizer, tokens, max_length=128)
    train_tokens = [r["tokens"] for r in rows["train"]]
    train_tags = [r["tags"] for r in rows["train"]]
    memo = baselines.memorising_tagger(train_tokens, train_tags, tokens, true)
    seen_names = entity_strings(train_tokens[: args.max_train], train_tags[: args.max_train])
    errors = error_categories(tokens, true, pred)
    from sft_helpers.ner_analysis import recall_by_familiarity

    familiarity = recall_by_familiarity(
        tokens, true, pred, train_tokens[: args.max_train], train_tags[: args.max_train]
    )
    record = {
        "bench": "ner_data_difficulty",
        "test_f1": round(metrics.entity_scores(true, pred)["f1"], 4),
        "validation_f1_per_epoch": [round(e["f1"], 4) for e in result.history["eval"]],
        "memorising_f1": round(memo["f1"], 4),
        "per_type_f1": {k: round(v["f1"], 3) for k, v in metrics.entity_scores(true, pred)["per_type"].items()},
        "errors": errors["counts"],
        "entities": errors["entities"],
        "seen_unseen": {k: {"n": v["entities"], "recall": round(v["recall"], 3)}
                        for k, v in seen_unseen_recall(tokens, true, pred, seen_names).items()},
        "familiarity": {k: {"n": v["entities"], "recall": round(v["recall"], 3)} for k, v in familiarity.items()},
        "held_out": {k: round(v["f1"], 3) for k, v in scores_by_group(
            true, pred, ["held out" if r["held_out"] else "familiar" for r in test]).items()},
        "casing": {k: {"n": v["sentences"], "f1": round(v["f1"], 3)}
                   for k, v in scores_by_group(true, pred, [casing_of(t) for t in tokens]).items()},
        "train_seconds": round(seconds, 1),
    }  # fmt: skip
    emit(record)
    if args.examples:
        from sft_helpers.spans import decode_iob2

        seen_types: dict = {}
        for w, t in zip(train_tokens[: args.max_train], train_tags[: args.max_train]):
            for k, a, b in decode_iob2(t):
                seen_types.setdefault(" ".join(w[a:b]), set()).add(k)
        for w, t, p in zip(tokens, true, pred):
            for e in set(decode_iob2(t)) - set(decode_iob2(p)):
                name = " ".join(w[e[1] : e[2]])
                if len(seen_types.get(name, ())) == 1:
                    print("seen-one-type miss:", e[0], name, seen_types[name], "|", " ".join(w))
    for category, found in errors["examples"].items():
        for example in found[: args.examples]:
            print(f"{category:18s} {example['true']:32s} -> {example['predicted']:32s} | {example['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
