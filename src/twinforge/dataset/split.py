"""Train/validation split by conversation: every example of a conversation lands on the same side.

A conversation's side comes from a hash of (seed, conversation id) alone, so it never depends on which other
conversations exist: as the archive grows, old conversations keep their side and a model trained on an older
train set is never validated on text it saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

_SCALE = float(1 << 64)


def position(conversation_id: str, seed: str) -> float:
    """Where a conversation falls in [0, 1): below the fraction it goes to validation."""
    digest = hashlib.sha256(f"{seed}\0{conversation_id}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass
class Split:
    train: list[str] = field(default_factory=list)  # conversation ids, sorted
    val: list[str] = field(default_factory=list)
    adjusted: str | None = None  # why a conversation was moved to keep both sides non-empty

    def side(self) -> dict[str, str]:
        return {**dict.fromkeys(self.train, "train"), **dict.fromkeys(self.val, "val")}


def split_conversations(conversation_ids: list[str], fraction: float, seed: str) -> Split:
    """Conversations whose position is below `fraction` go to validation.

    With a fraction above 0 and at least two conversations, neither side is left empty: the conversation
    nearest the threshold crosses over (recorded in `adjusted`). A single conversation always trains, and a
    fraction of 0 puts everything in train.
    """
    ids = sorted(set(conversation_ids))
    pos = {c: position(c, seed) for c in ids}
    val = [c for c in ids if pos[c] < fraction]
    train = [c for c in ids if pos[c] >= fraction]
    adjusted = None
    if len(ids) == 1 and val:
        train, val = val, []
        adjusted = f"one conversation only: {ids[0]} kept in train, validation is empty"
    elif fraction > 0 and len(ids) >= 2:
        if not val:
            nearest = min(train, key=pos.__getitem__)
            train.remove(nearest)
            val.append(nearest)
            adjusted = f"no conversation hashed below {fraction}: {nearest} moved to validation"
        elif not train:
            nearest = max(val, key=pos.__getitem__)
            val.remove(nearest)
            train.append(nearest)
            adjusted = f"every conversation hashed below {fraction}: {nearest} moved to train"
    return Split(sorted(train), sorted(val), adjusted)
