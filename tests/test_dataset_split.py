"""The train/validation split: by conversation, deterministic, stable as the archive grows."""

from __future__ import annotations

import pytest

from twinforge.dataset.split import position, split_conversations


def convs(n: int, prefix: str = "c") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def test_fraction_is_roughly_honoured_and_sides_are_disjoint():
    s = split_conversations(convs(2000), 0.1, "seed")
    assert not set(s.train) & set(s.val)
    assert set(s.train) | set(s.val) == set(convs(2000))
    assert 150 <= len(s.val) <= 250  # 10% of 2000, within sampling noise
    assert s.adjusted is None


def test_deterministic_and_seeded():
    ids = convs(300)
    assert split_conversations(ids, 0.2, "a") == split_conversations(list(reversed(ids)), 0.2, "a")
    assert split_conversations(ids, 0.2, "a").val != split_conversations(ids, 0.2, "b").val


def test_a_conversation_keeps_its_side_as_the_archive_grows():
    small = split_conversations(convs(200), 0.15, "s")
    grown = split_conversations(convs(200) + convs(800, "new"), 0.15, "s")
    assert set(small.val) <= set(grown.val) and set(small.train) <= set(grown.train)


def test_neither_side_left_empty_when_possible():
    ids = convs(3)
    low = min(ids, key=lambda c: position(c, "x"))
    s = split_conversations(ids, 1e-9, "x")  # nothing hashes that low: the nearest crosses over
    assert s.val == [low] and len(s.train) == 2 and s.adjusted
    high = max(ids, key=lambda c: position(c, "x"))
    s = split_conversations(ids, 0.999999999, "x")
    assert s.train == [high] and len(s.val) == 2 and s.adjusted


@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.9])
def test_one_conversation_always_trains_and_zero_fraction_validates_nothing(fraction):
    assert split_conversations(["only"], fraction, "x").train == ["only"]
    assert split_conversations(convs(50), 0.0, "x").val == []
