"""A tiny English -> Spanish phrasebook written by the project, and chrF to score translations.

Translation is a task an encoder with a token head cannot do: the answer is a new sequence, of
another length and word order than the input ("the big house" -> "la casa grande", "every day"
-> "todos los días"). A decoder writes it token by token. The pairs below are short sentences
written for the course (no data set is downloaded); the test pairs reuse the training words in
new sentences, so they measure whether the model picked up a small phrasebook, not translation
in general.

:func:`chrf` is the character n-gram F-score of Popović (2015): character 1- to 6-grams with
spaces removed, beta = 2 (recall weighs more), statistics summed over the corpus and the
F-scores of the orders averaged, on a 0-100 scale. It gives partial credit to a word with the
right stem and the wrong ending, which suits a small model's first attempts.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

SOURCE_LANGUAGE, TARGET_LANGUAGE = "English", "Spanish"

TRAIN_PAIRS: tuple[tuple[str, str], ...] = (
    ("The boy reads a book.", "El niño lee un libro."),
    ("The girl eats an apple.", "La niña come una manzana."),
    ("My sister buys bread every day.", "Mi hermana compra pan todos los días."),
    ("The dog sleeps in the garden.", "El perro duerme en el jardín."),
    ("The cat drinks milk.", "El gato bebe leche."),
    ("My brother opens the door.", "Mi hermano abre la puerta."),
    ("The woman writes a letter.", "La mujer escribe una carta."),
    ("The man sees the red car.", "El hombre ve el coche rojo."),
    ("The teacher reads the newspaper today.", "La profesora lee el periódico hoy."),
    ("The children play in the park.", "Los niños juegan en el parque."),
    ("We eat bread in the morning.", "Comemos pan por la mañana."),
    ("I want a new house.", "Quiero una casa nueva."),
    ("The old man drinks water.", "El hombre viejo bebe agua."),
    ("The girl sees a small dog.", "La niña ve un perro pequeño."),
    ("My mother cleans the kitchen.", "Mi madre limpia la cocina."),
    ("The boy opens the window.", "El niño abre la ventana."),
    ("The doctor works in the city.", "El médico trabaja en la ciudad."),
    ("My father buys a red car.", "Mi padre compra un coche rojo."),
    ("The woman sleeps now.", "La mujer duerme ahora."),
    ("The cat sees the bird.", "El gato ve el pájaro."),
    ("The children read a new book.", "Los niños leen un libro nuevo."),
    ("I drink water every day.", "Bebo agua todos los días."),
    ("The teacher writes on the board.", "La profesora escribe en la pizarra."),
    ("My sister works today.", "Mi hermana trabaja hoy."),
    ("The dog eats in the kitchen.", "El perro come en la cocina."),
    ("We see the old house.", "Vemos la casa vieja."),
    ("The man opens a small box.", "El hombre abre una caja pequeña."),
    ("My brother reads in the garden.", "Mi hermano lee en el jardín."),
    ("The girl drinks milk in the morning.", "La niña bebe leche por la mañana."),
    ("The doctor buys the newspaper.", "El médico compra el periódico."),
    ("I clean the big window.", "Limpio la ventana grande."),
    ("The bird sleeps in the tree.", "El pájaro duerme en el árbol."),
)
TEST_PAIRS: tuple[tuple[str, str], ...] = (
    ("The girl reads a letter.", "La niña lee una carta."),
    ("My father drinks water in the morning.", "Mi padre bebe agua por la mañana."),
    ("The cat sleeps in the kitchen.", "El gato duerme en la cocina."),
    ("The woman buys a new car.", "La mujer compra un coche nuevo."),
    ("My mother opens the window.", "Mi madre abre la ventana."),
    ("The boy sees the big dog.", "El niño ve el perro grande."),
    ("The teacher works every day.", "La profesora trabaja todos los días."),
    ("The children eat bread.", "Los niños comen pan."),
)
TRANSLATE_PROMPT = (
    f"Translate this {SOURCE_LANGUAGE} sentence into {TARGET_LANGUAGE}.\n\n{SOURCE_LANGUAGE}: {{text}}"
)
CHRF_ORDER = 6  # character n-grams of 1 to 6 characters
CHRF_BETA = 2.0  # recall counts twice as much as precision


def translation_pairs(split: str) -> tuple[tuple[str, str], ...]:
    """The ``(english, spanish)`` pairs of ``split`` ("train" or "test"); the two never share a sentence."""
    if split == "train":
        return TRAIN_PAIRS
    if split == "test":
        return TEST_PAIRS
    raise ValueError(f"split must be 'train' or 'test', got {split!r}.")


@functools.lru_cache(maxsize=65536)
def _ngram_stats(hypothesis: str, reference: str, order: int) -> tuple[tuple[int, int, int], ...]:
    """Per n-gram order: (matches, n-grams in the hypothesis, n-grams in the reference)."""
    hyp, ref = hypothesis.replace(" ", ""), reference.replace(" ", "")
    stats = []
    for n in range(1, order + 1):
        h = Counter(hyp[i : i + n] for i in range(len(hyp) - n + 1))
        r = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
        stats.append((sum((h & r).values()), sum(h.values()), sum(r.values())))
    return tuple(stats)


def chrf(
    hypotheses: Sequence[str], references: Sequence[str], order: int = CHRF_ORDER, beta: float = CHRF_BETA
) -> float:
    """Corpus chrF (0-100) of ``hypotheses`` against one reference each.

    The character n-gram matches and counts of every sentence are summed per order; each order
    gives a precision, a recall and their F-beta; the score is the mean F-beta over the orders
    that have n-grams on both sides (0 when there are none). 100 means identical texts (spaces
    ignored), 0 means no character in common.
    """
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError(
            "hypotheses and references must be lists of strings; wrap one sentence as [sentence]."
        )
    if len(hypotheses) != len(references):
        raise ValueError(
            f"hypotheses has {len(hypotheses)} sentences but references has {len(references)}; they must match."
        )
    if not isinstance(order, int) or order < 1 or beta <= 0:
        raise ValueError(f"order must be a positive int and beta > 0, got order={order!r}, beta={beta!r}.")
    totals = [[0, 0, 0] for _ in range(order)]
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        for total, stat in zip(totals, _ngram_stats(hypothesis, reference, order), strict=True):
            for k in range(3):
                total[k] += stat[k]
    scores = []
    for matches, in_hyp, in_ref in totals:
        if in_hyp == 0 or in_ref == 0:
            continue
        precision, recall = matches / in_hyp, matches / in_ref
        denominator = beta**2 * precision + recall
        scores.append((1 + beta**2) * precision * recall / denominator if denominator > 0 else 0.0)
    return 100.0 * sum(scores) / len(scores) if scores else 0.0
