"""Optional pairwise preference by an LLM judge (any backend): for each probe, is the model's answer or the
base's closer to how the person would answer? The two are shown in an order fixed by a hash, so position bias
averages out over probes; an unreadable verdict counts as a tie."""

from __future__ import annotations

import hashlib
import re

from ...backends.base import BackendError, Request

PROMPT = """You compare two answers to the same prompt. Pick the one that better answers it the way the person
would: on topic, in the prompt's language, in their own voice, without loops or template debris.
{reference}Prompt:
{prompt}

Answer A:
{a}

Answer B:
{b}

Reply with one letter: A or B."""

_VERDICT = re.compile(r"\b([AB])\b")


def _swap(key: str) -> bool:
    return hashlib.sha1(key.encode()).digest()[0] % 2 == 1


def verdict(text: str) -> str | None:
    m = _VERDICT.search(text.strip().upper()[:40])
    return m.group(1) if m else None


def win_rate(backend, items: list[tuple[str, str, str, str | None]]) -> float | None:
    """items: (prompt, model answer, base answer, person's reference or None) → share of wins (ties 0.5)."""
    if not items:
        return None
    requests, swaps = [], []
    for prompt, mine, base, ref in items:
        swap = _swap(prompt + mine)
        a, b = (base, mine) if swap else (mine, base)
        reference = f"How the person actually answered (for reference):\n{ref}\n\n" if ref else ""
        requests.append(Request([{"role": "user", "content": PROMPT.format(reference=reference, prompt=prompt,
                                                                           a=a, b=b)}],
                                max_tokens=4, temperature=0))
        swaps.append(swap)
    score = 0.0
    for swap, done in zip(swaps, backend.complete_many(requests)):
        v = None if isinstance(done, BackendError) else verdict(done.text)
        if v is None:
            score += 0.5
        elif (v == "A") != swap:
            score += 1
    return score / len(items)
