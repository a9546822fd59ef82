"""batching.batch_order: epochs are seeded, grouping removes padding, accumulation equals a larger batch."""

from __future__ import annotations

import random

import pytest

from sft_helpers import batching


def _lengths(n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(3, 60) for _ in range(n)]


@pytest.mark.parametrize("n", [64, 61, 7])
@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("accumulate", [2, 3])
def test_accumulated_batches_hold_the_larger_batch(n: int, grouped: bool, accumulate: int) -> None:
    """Each optimizer step's `accumulate` batches are exactly one batch of batch_size * accumulate."""
    lengths = _lengths(n)
    small = batching.batch_order(lengths, 4, seed=2, epoch=1, group_by_length=grouped, accumulate=accumulate)
    large = batching.batch_order(lengths, 4 * accumulate, seed=2, epoch=1, group_by_length=grouped)
    steps = [small[i : i + accumulate] for i in range(0, len(small), accumulate)]
    assert sorted(sorted(sum(step, [])) for step in steps) == sorted(sorted(b) for b in large)
    assert all(len(sum(step, [])) == 4 * accumulate for step in steps[:-1])  # only the last step is short
    assert all(len(b) == 4 for b in small[:-1]) or n < 4 * accumulate or grouped
    assert sorted(sum(small, [])) == list(range(n))  # every example once per epoch


def test_accumulation_without_grouping_keeps_the_plain_batches() -> None:
    lengths = _lengths(61)
    assert batching.batch_order(lengths, 8, 0, 0, accumulate=3) == batching.batch_order(lengths, 8, 0, 0)


def test_grouping_pads_less_and_stays_seeded() -> None:
    lengths = _lengths(800)
    plain = batching.batch_order(lengths, 16, seed=1, epoch=0)
    grouped = batching.batch_order(lengths, 16, seed=1, epoch=0, group_by_length=True)
    assert grouped == batching.batch_order(lengths, 16, seed=1, epoch=0, group_by_length=True)
    assert grouped != batching.batch_order(lengths, 16, seed=1, epoch=1, group_by_length=True)
    waste = batching.padding_waste
    assert waste(lengths, grouped)["pad_fraction"] < 0.5 * waste(lengths, plain)["pad_fraction"]


def test_bad_accumulate_is_refused_with_a_reason() -> None:
    with pytest.raises(ValueError, match="accumulate must be a positive int"):
        batching.batch_order([3, 4], 2, 0, 0, accumulate=0)
