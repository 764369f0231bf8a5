"""Optional pairwise preference by an LLM judge (any backend): for each probe, is the model's answer or the
base's closer to how the person would answer? The two are shown in an order fixed by a hash, so position bias
averages out over probes. A call that failed or a verdict that names neither answer is not a tie: it is left out
of the rate and counted, so a dead judge reads as "no verdicts", never as "no difference"."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

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


@dataclass
class JudgeResult:
    rate: float | None  # share of judged probes the model won; None when none was judged
    judged: int
    errors: list[str] = field(default_factory=list)  # one line per probe without a verdict, and why


def win_rate(backend, items: list[tuple[str, str, str, str | None]]) -> JudgeResult:
    """items: (prompt, model answer, base answer, person's reference or None) → the share of wins over the probes
    the judge gave a verdict on, and why the others have none."""
    if not items:
        return JudgeResult(None, 0)
    requests, swaps = [], []
    for prompt, mine, base, ref in items:
        swap = _swap(prompt + mine)
        a, b = (base, mine) if swap else (mine, base)
        reference = f"How the person actually answered (for reference):\n{ref}\n\n" if ref else ""
        requests.append(Request([{"role": "user", "content": PROMPT.format(reference=reference, prompt=prompt,
                                                                           a=a, b=b)}],
                                max_tokens=4, temperature=0))
        swaps.append(swap)
    wins, judged, errors = 0, 0, []
    for i, (swap, done) in enumerate(zip(swaps, backend.complete_many(requests))):
        if isinstance(done, BackendError):
            errors.append(f"probe {i + 1}: the judge call failed: {done}")
            continue
        v = verdict(done.text)
        if v is None:
            errors.append(f"probe {i + 1}: no verdict in the judge's answer {done.text[:40]!r}")
            continue
        judged += 1
        wins += (v == "A") != swap
    return JudgeResult(wins / judged if judged else None, judged, errors)
