"""Views cut from the original dialog as multi-turn examples: `dialog` keeps the roles (several exchanges
ending on a reply), `next_move` flips them so that the person's own turn is what the model learns to say."""

from __future__ import annotations

from dataclasses import dataclass

from .source import Turn

MAX_WINDOW_CHARS = 16_000  # longer windows (≈5k tokens) are left out: they would be cut at training anyway
MIN_TURN_CHARS = 15  # a person's turn shorter than this ("ok", "go on") is no move worth learning


@dataclass(frozen=True)
class Block:
    role: str  # user / assistant: consecutive turns of one side merged
    text: str
    ids: tuple[str, ...]


def blocks(turns: list[Turn]) -> list[Block]:
    """The dialog as alternating sides: consecutive turns of one role (clean may have dropped the turn between
    them) are joined, so every window alternates as chat templates require."""
    out: list[Block] = []
    for t in turns:
        if t.role not in ("user", "assistant"):
            continue
        if out and out[-1].role == t.role:
            last = out[-1]
            out[-1] = Block(t.role, f"{last.text}\n\n{t.text}", (*last.ids, t.id))
        else:
            out.append(Block(t.role, t.text, (t.id,)))
    return out


def _window(bs: list[Block], start: int, end: int, flip: bool) -> list[dict] | None:
    part = bs[start:end + 1]
    if sum(len(b.text) for b in part) > MAX_WINDOW_CHARS:
        return None
    swap = {"user": "assistant", "assistant": "user"}
    return [{"role": swap[b.role] if flip else b.role, "content": b.text.strip()} for b in part]


def _windows(turns: list[Turn], ends_on: str, fewest: int, most: int, min_chars: int = 0
             ) -> list[tuple[list[dict], dict]]:
    """Windows of `fewest`..`most` exchanges ending on each turn of role `ends_on` (at least `min_chars` long);
    ending on the person's turn flips the roles, so the person's reply is the answer."""
    flip = ends_on == "user"
    opener = "assistant" if flip else "user"
    bs = blocks(turns)
    out = []
    for end, b in enumerate(bs):
        if b.role != ends_on or len(b.text.strip()) < min_chars:
            continue
        for n in range(fewest, most + 1):
            start = end - 2 * n + 1
            if start < 0 or bs[start].role != opener:
                break
            msgs = _window(bs, start, end, flip=flip)
            if msgs:
                meta = {"exchanges": n, **({"flipped": True} if flip else {}),
                        "message_ids": [i for x in bs[start:end + 1] for i in x.ids]}
                out.append((msgs, meta))
    return out


def dialog_windows(turns: list[Turn], most: int) -> list[tuple[list[dict], dict]]:
    """Windows of 2..`most` exchanges ending on each reply, in the dialog's own roles (one exchange alone is
    the qa view's)."""
    return _windows(turns, "assistant", 2, most)


def next_moves(turns: list[Turn], most: int) -> list[tuple[list[dict], dict]]:
    """Windows of 1..`most` exchanges ending on each of the person's turns, roles flipped: what the other side
    said is asked, the person's reply is the answer."""
    return _windows(turns, "user", 1, most, MIN_TURN_CHARS)
