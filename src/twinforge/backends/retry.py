"""Shared plumbing for backends that call out: backoff delays, and running a batch with bounded concurrency.

Kept free of HTTP so any backend (a server, a remote API, a local model behind a lock) can use it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .base import BackendError

T = TypeVar("T")
R = TypeVar("R")


def backoff_delays(
    retries: int, base: float = 0.5, cap: float = 20.0, rng: random.Random | None = None
) -> Iterator[float]:
    """Seconds to wait before each of `retries` retries: exponential, capped, with jitter.

    "Equal jitter" (half fixed, half random) keeps a minimum wait, so a restarting server gets a breather, while
    the random half stops many clients that failed together from retrying in lockstep.
    """
    rng = rng or random.Random()
    for attempt in range(retries):
        d = min(cap, base * 2**attempt)
        yield d / 2 + rng.uniform(0, d / 2)


def run_bounded(fn: Callable[[T], R], items: Sequence[T], concurrency: int) -> list[R | BackendError]:
    """fn over items, up to `concurrency` at once; results in item order. A BackendError becomes that item's
    result (the batch goes on); any other exception is a bug and propagates."""

    def guarded(item: T) -> R | BackendError:
        try:
            return fn(item)
        except BackendError as e:
            return e

    if concurrency <= 1 or len(items) <= 1:
        return [guarded(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="backend") as pool:
        return list(pool.map(guarded, items))  # map yields in submission order, whatever finishes first
