"""Replay for chained batches: a share of each new batch drawn from what came before, so learning the new scene
does not overwrite the old ones (the rehearsal remedy for catastrophic forgetting).

`share` is the replayed part of the mixed batch: with 0.2, a batch of 40 own examples gets 10 replayed ones (10 of
50). Half come from the earlier accepted batches' own examples, half from bundled general text (general.yaml,
written for this, kept apart from the eval control set the forgetting gate measures); the first batch, with
nothing earlier, replays general text only. The choice is a pure function of (seed, batch number), so a resumed
chain writes the same train.jsonl and resumes the same checkpoint.
"""

from __future__ import annotations

import random
import re
from functools import cache
from pathlib import Path

import yaml

GENERAL_FILE = Path(__file__).parent / "general.yaml"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@cache
def general_examples() -> tuple[dict, ...]:
    """Each general paragraph as an example: its first sentence asked to be continued, the rest the answer."""
    data = yaml.safe_load(GENERAL_FILE.read_text(encoding="utf-8"))
    out = []
    for lang, prompt in (("en", "Continue the text: "), ("ru", "Продолжи текст: ")):
        for text in data[lang]:
            first, rest = (_SENTENCE_END.split(text.strip(), maxsplit=1) + [""])[:2]
            out.append({"messages": [{"role": "user", "content": prompt + first},
                                     {"role": "assistant", "content": rest or first}],
                        "meta": {"replay": "general", "language": lang}})
    return tuple(out)


def replay_count(own: int, share: float) -> int:
    """Replayed examples for a batch of `own` examples so that they make `share` of the mix (at least 1)."""
    return 0 if share <= 0 or own <= 0 else max(1, round(own * share / (1 - share)))


def mix(own: list[dict], earlier: list[dict], share: float, seed: int, batch_no: int) -> tuple[list[dict], dict]:
    """(the batch with replay mixed in and shuffled, counts {own, earlier, general})."""
    want = replay_count(len(own), share)
    if not want:
        return list(own), {"own": len(own), "earlier": 0, "general": 0}
    rng = random.Random(f"replay-{seed}-{batch_no}")
    n_earlier = min(want // 2 if want > 1 else want, len(earlier)) if earlier else 0
    picked = [_marked(e, "earlier") for e in rng.sample(earlier, n_earlier)]
    pool = list(general_examples())
    rng.shuffle(pool)
    general = [pool[i % len(pool)] for i in range(want - n_earlier)]
    mixed = list(own) + picked + general
    rng.shuffle(mixed)
    return mixed, {"own": len(own), "earlier": len(picked), "general": len(general)}


def _marked(example: dict, source: str) -> dict:
    return {**example, "meta": {**(example.get("meta") or {}), "replay": source}}
