"""Examples → token rows: chat-template rendering, the assistant-only label mask, and packing.

Labels are -100 everywhere except the tokens of assistant messages and the end-of-turn token that closes each
(the model learns what the person says and when to stop, not to predict the questions or the template).
Packing puts several examples into one row of `max_len` tokens (best-fit decreasing, so rows are ~full);
position ids restart at 0 for each example, and transformers turns restarting position ids (with no attention
mask) into a block-diagonal causal mask, so packed examples never attend to each other and no padding is computed.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..models.chat import PLAIN_TEMPLATE, ensure_chat_template  # noqa: F401  (the trainer renders with them)

IGNORE = -100

def read_examples(path: str | Path) -> list[dict]:
    """The `{"messages": [...], "meta": {...}}` lines of a dataset JSONL; any bad line is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "no such file", "build the dataset first: `twinforge dataset`")
    examples = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                ex = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{n}", f"not JSON ({e.msg})", "each line must be one JSON object") from e
            msgs = ex.get("messages") if isinstance(ex, dict) else None
            if not isinstance(msgs, list) or not all(
                    isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                    for m in msgs):
                raise InputError(f"{path}:{n}", "no \"messages\" list of {role, content} objects",
                                 'expected {"messages": [{"role": "user", "content": "..."}, ...]}')
            if not any(m["role"] == "assistant" and m["content"].strip() for m in msgs):
                raise InputError(f"{path}:{n}", "no assistant message: nothing to learn from this example",
                                 "every example needs at least one non-empty assistant turn")
            examples.append(ex)
    if not examples:
        raise InputError(str(path), "no examples (the file is empty)",
                         "build the dataset again, or check that expand produced examples")
    return examples


def file_hash(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()[:16]


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)


def _closing_ids(tokenizer) -> set[int]:
    """Tokens that may close an assistant turn right after its text (EOS, <end_of_turn>, <|im_end|>, ...)."""
    ids = set(tokenizer.all_special_ids)
    ids.update(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    return ids


def encode(tokenizer, examples: list[dict], max_len: int) -> tuple[list[Encoded], dict]:
    """Render with the chat template, tokenize in batches, label assistant text. Returns (rows, stats)."""
    closing = _closing_ids(tokenizer)
    out: list[Encoded] = []
    stats = {"examples": len(examples), "truncated": 0, "dropped_no_labels": 0, "unmatched_turns": 0}
    for start in range(0, len(examples), 512):
        chunk = examples[start:start + 512]
        texts, spans = [], []
        for ex in chunk:
            text = tokenizer.apply_chat_template(ex["messages"], tokenize=False)
            texts.append(text)
            spans.append(_assistant_spans(text, ex["messages"], stats))
        enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        for ids, offsets, sp in zip(enc["input_ids"], enc["offset_mapping"], spans, strict=True):
            labels = _mask(ids, offsets, sp, closing)
            if len(ids) > max_len:
                stats["truncated"] += 1
                ids, labels = ids[:max_len], labels[:max_len]
            # a label at position 0 is never predicted (nothing precedes it): count what the loss will see
            if all(lab == IGNORE for lab in labels[1:]):
                stats["dropped_no_labels"] += 1
                continue
            out.append(Encoded(list(ids), labels))
    return out, stats


def _assistant_spans(text: str, messages: list[dict], stats: dict) -> list[tuple[int, int]]:
    """Character spans of the assistant contents in the rendered text, found in order."""
    spans, cursor = [], 0
    for m in messages:
        content = m["content"].strip()
        if not content:
            continue
        at = text.find(content, cursor)
        if at < 0:
            if m["role"] == "assistant":
                stats["unmatched_turns"] += 1  # the template rewrote it; leave it unlabeled rather than guess
            continue
        cursor = at + len(content)
        if m["role"] == "assistant":
            spans.append((at, cursor))
    return spans


def _mask(ids, offsets, spans, closing) -> list[int]:
    labels = [IGNORE] * len(ids)
    j = 0
    for i, (a, b) in enumerate(offsets):
        while j < len(spans) and spans[j][1] <= a:
            j += 1
        if j < len(spans) and a < spans[j][1] and b > spans[j][0]:
            labels[i] = ids[i]
            nxt = i + 1  # the end-of-turn token right after the text, if the template puts one there
            if (nxt < len(ids) and ids[nxt] in closing and offsets[nxt][0] >= spans[j][1]
                    and (nxt + 1 >= len(ids) or offsets[nxt + 1][0] >= offsets[nxt][1])):
                labels[nxt] = ids[nxt]
    return labels


def pack(lengths: list[int], max_len: int) -> list[list[int]]:
    """Best-fit decreasing: each example (longest first) goes into the fullest row it still fits.

    Rows are found by free room with a bitmask (bit r set = some row has exactly r tokens free), so each
    placement is a couple of big-int operations instead of a scan over all rows."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    by_room: list[list[int]] = [[] for _ in range(max_len + 1)]
    nonempty = 0
    rows: list[list[int]] = []
    for i in order:
        n = lengths[i]
        fits = nonempty >> n
        if fits:
            room = n + (fits & -fits).bit_length() - 1
            row = by_room[room].pop()
            if not by_room[room]:
                nonempty &= ~(1 << room)
        else:
            row, room = len(rows), max_len
            rows.append([])
        rows[row].append(i)
        left = room - n
        by_room[left].append(row)
        nonempty |= 1 << left
    return rows


@dataclass
class Plan:
    """What each optimizer step trains on: lists of rows, each row a list of example indices."""

    rows: list[list[int]]
    batch_size: int
    seed: int

    def rows_in_batches(self):
        """Every row once, in plan order, a batch at a time (for evaluation)."""
        for i in range(0, len(self.rows), self.batch_size):
            yield self.rows[i:i + self.batch_size]

    @property
    def batches_per_epoch(self) -> int:
        return -(-len(self.rows) // self.batch_size)

    def batch(self, step: int) -> list[list[int]]:
        """The rows of global step `step` (0-based); epochs reshuffle rows with seed + epoch."""
        epoch, k = divmod(step, self.batches_per_epoch)
        order = list(range(len(self.rows)))
        random.Random(self.seed + epoch).shuffle(order)
        return [self.rows[r] for r in order[k * self.batch_size:(k + 1) * self.batch_size]]


def plan_rows(encoded: list[Encoded], max_len: int, batch_size: int, packing: bool, seed: int) -> Plan:
    if packing:
        rows = pack([len(e) for e in encoded], max_len)
    else:
        # no packing: one example per row, rows of similar length side by side so a batch pads little
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        rows = [[i] for i in order]
        rows = [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
        return _BucketPlan([r for group in rows for r in group], batch_size, seed)
    return Plan(rows, batch_size, seed)


class _BucketPlan(Plan):
    """Without packing: shuffle whole length-sorted batches, not rows, so each batch keeps similar lengths."""

    def batch(self, step: int) -> list[list[int]]:
        epoch, k = divmod(step, self.batches_per_epoch)
        order = list(range(self.batches_per_epoch))
        random.Random(self.seed + epoch).shuffle(order)
        b = order[k]
        return self.rows[b * self.batch_size:(b + 1) * self.batch_size]


def collate(encoded: list[Encoded], rows: list[list[int]], pad_id: int, device) -> dict:
    """Tensors for one step: rows padded to the longest in the batch; padding is its own position-0 segment
    with no labels, so it attends only to itself and costs no loss."""
    import torch

    flat = []
    for row in rows:
        ids, labels, pos = [], [], []
        for i in row:
            e = encoded[i]
            ids += e.input_ids
            # the first token of each example is never a target (it would be predicted from the previous example)
            labels += [IGNORE] + e.labels[1:]
            pos += range(len(e))
        flat.append((ids, labels, pos))
    width = max(len(ids) for ids, _, _ in flat)
    input_ids = torch.full((len(flat), width), pad_id, dtype=torch.long)
    labels = torch.full((len(flat), width), IGNORE, dtype=torch.long)
    position_ids = torch.zeros((len(flat), width), dtype=torch.long)
    for r, (ids, lab, pos) in enumerate(flat):
        n = len(ids)
        input_ids[r, :n] = torch.tensor(ids)
        labels[r, :n] = torch.tensor(lab)
        position_ids[r, :n] = torch.tensor(pos)
        position_ids[r, n:] = torch.arange(width - n)
    real = sum(len(ids) for ids, _, _ in flat)
    return {"input_ids": input_ids.to(device), "labels": labels.to(device), "position_ids": position_ids.to(device),
            "tokens": real}
