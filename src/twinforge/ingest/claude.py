"""Claude.ai export (`conversations.json`, single-object dumps, wrappers). formats.md §3.

A message's `content[]` blocks are the truth: `text` blocks make the dialog message; `thinking` blocks become
reasoning messages and `tool_use`/`tool_result` blocks tool messages, kept beside the turn but out of the dialog.
The flat `text` is only a fallback (2024 exports have nothing else; 2025 ones may mix thinking into it).
Order comes from `parent_message_uuid` links where they exist (2026+), else from `created_at`, because the
array order is not chronological.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..records import Conversation, Message
from . import tree
from .jsonshape import JsonShape
from .markers import strip_citations
from .timeparse import to_epoch

NAME = "claude"

# Root messages point at a sentinel parent that is never in the list (cherry-studio PR #16164).
_ROOT_SENTINELS = {"00000000-0000-4000-8000-000000000000", "00000000-0000-0000-0000-000000000000"}
_SENDERS = {"human": "user", "user": "user", "assistant": "assistant"}
_IGNORED_BLOCKS = {"token_budget"}
# content block type -> uid suffix of the message made from it
_BLOCK_LABELS = {"thinking": "thinking", "redacted_thinking": "thinking", "tool_use": "tool", "tool_result": "tool"}
_TITLE_MAX = 100


def sniff(shape: JsonShape) -> bool:
    return "chat_messages" in shape.item_keys


def parse(obj: dict) -> Conversation:
    uid = obj.get("uuid") or obj.get("conversation_id") or obj.get("id") or obj.get("_key")
    conv = Conversation(
        uid=str(uid) if uid else None,
        provider="claude",
        title=_title(obj),
        created_at=to_epoch(obj.get("created_at") or obj.get("create_time")),
        updated_at=to_epoch(obj.get("updated_at") or obj.get("update_time")),
        meta={k: obj[k] for k in ("summary", "model", "project_uuid", "is_starred") if obj.get(k)},
    )
    raw = obj.get("chat_messages")
    if not isinstance(raw, list):
        conv.warnings.append("no `chat_messages` list in this conversation: its messages are missing from the export")
        return conv
    entries = _entries(raw, conv)
    parents = {u: _parent(m) for u, m in entries.items()}
    times = {u: to_epoch(m.get("created_at")) for u, m in entries.items()}
    leaf = obj.get("current_leaf_message_uuid")
    branches = tree.resolve(parents, str(leaf) if leaf else None, times)
    conv.warnings.extend(branches.warnings)
    roles = _roles(branches.order, entries, parents, conv)

    lost_files = 0
    unknown_blocks: set[str] = set()
    model = obj.get("model") if isinstance(obj.get("model"), str) else None
    for u in branches.order:
        turn = _Turn(u, entries[u], roles[u], model)
        try:
            turn.read_content(unknown_blocks)
            messages = turn.messages()
        except Exception as e:  # a shape nobody has seen yet must not cost the other messages
            conv.warnings.append(f"message {u!r} could not be read ({type(e).__name__}); it was skipped")
            continue
        for m in messages:
            m.parent_uid = parents[u]
            m.canonical = u in branches.canonical
            conv.messages.append(m)
        lost_files += turn.lost_files
    if lost_files:
        conv.warnings.append(f"{lost_files} attached file(s) are not in the export; only their names are kept")
    if unknown_blocks:
        conv.warnings.append(f"unsupported content blocks kept as tool notes: {', '.join(sorted(unknown_blocks))}")
    conv.fill_times(times.values())
    return conv


def _title(obj: dict) -> str:
    for key in ("name", "title", "summary"):
        value = obj.get(key)
        if isinstance(value, str) and value.strip():
            # a summary is a paragraph: its first line, shortened, is a usable title
            line = value.strip().splitlines()[0].strip()
            return line if len(line) <= _TITLE_MAX else line[: _TITLE_MAX - 1].rstrip() + "…"
    return "Untitled"


def _entries(raw: list, conv: Conversation) -> dict[str, dict]:
    """Message objects by a uid unique within the conversation; null entries are skipped."""
    entries: dict[str, dict] = {}
    skipped = renamed = 0
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            skipped += 1
            continue
        u = str(m.get("uuid") or f"msg-{i}")  # some converters drop uuids; the index is stable per file
        if u in entries:
            renamed += 1
            u = f"{u}-{i}"
        entries[u] = m
    if skipped:
        conv.warnings.append(f"{skipped} null entr{'y' if skipped == 1 else 'ies'} in chat_messages skipped")
    if renamed:
        conv.warnings.append(f"{renamed} message id(s) repeated in the export; the copies got new ids")
    return entries


def _parent(m: dict) -> str | None:
    p = m.get("parent_message_uuid")
    if not p or str(p) in _ROOT_SENTINELS:
        return None
    return str(p)


def _roles(
    order: list[str], entries: dict[str, dict], parents: dict[str, str | None], conv: Conversation
) -> dict[str, str]:
    """Role per message; a missing or unknown sender is guessed as the opposite of the turn before (user first)."""
    roles: dict[str, str] = {}
    guessed = 0
    previous: str | None = None
    for u in order:
        role = _SENDERS.get(str(entries[u].get("sender") or "").lower())
        if role is None:
            guessed += 1
            before = roles.get(parents[u] or "") or previous
            role = "assistant" if before == "user" else "user"
        roles[u] = previous = role
    if guessed:
        conv.warnings.append(f"{guessed} message(s) had no known sender; roles guessed by alternation, user first")
    return roles


@dataclass
class _Turn:
    """One chat_messages entry → its dialog message plus reasoning/tool messages from its content blocks."""

    uid: str
    raw: dict
    role: str
    conv_model: str | None
    text_groups: list[str] = field(default_factory=list)  # runs of adjacent text blocks, each joined
    extras: list[Message] = field(default_factory=list)
    citations: list[dict] = field(default_factory=list)
    lost_files: int = 0

    @property
    def created_at(self) -> float | None:
        return to_epoch(self.raw.get("created_at"))

    @property
    def model(self) -> str | None:
        return self.raw.get("model") or (self.conv_model if self.role == "assistant" else None)

    def read_content(self, unknown: set[str]) -> None:
        content = self.raw.get("content")
        if not isinstance(content, list):
            return
        counts: Counter[str] = Counter()
        in_text = False
        for block in content:
            if not isinstance(block, dict):
                continue
            btype = str(block.get("type") or "")
            if btype == "text":
                self._add_text(block, in_text)
                in_text = True
                continue
            if btype in _IGNORED_BLOCKS:
                continue
            in_text = False  # text after a tool call or thought starts a new paragraph
            label = _BLOCK_LABELS.get(btype)
            if label is None:
                unknown.add(btype or "untyped")
                label = btype or "block"
            counts[label] += 1
            suffix = label if counts[label] == 1 else f"{label}-{counts[label]}"
            self.extras.append(self._extra(block, btype, f"{self.uid}#{suffix}"))

    def _add_text(self, block: dict, continues: bool) -> None:
        text = _str(block.get("text"))
        # Web-search answers split sentences into several blocks at citation bounds: join those without a gap.
        if continues and self.text_groups:
            self.text_groups[-1] += text
        else:
            self.text_groups.append(text)
        for c in _list(block.get("citations")):
            if isinstance(c, dict) and (c.get("url") or c.get("title")):
                self.citations.append({k: c.get(k) for k in ("url", "title") if c.get(k)})

    def _extra(self, block: dict, btype: str, uid: str) -> Message:
        meta: dict[str, Any] = {}
        if btype in ("thinking", "redacted_thinking"):
            kind, role = "reasoning", "assistant"
            text = _str(block.get("thinking"))
            summaries = [s.get("summary") for s in _list(block.get("summaries")) if isinstance(s, dict)]
            summaries = [x for x in summaries if x]
            if summaries:
                meta["summaries"] = summaries
            if btype == "redacted_thinking":
                meta["redacted"] = True
        elif btype == "tool_use":
            kind, role = "tool", "assistant"
            text = _render_tool_use(block)
            meta = {"tool": block.get("name"), "tool_use_id": block.get("id")}
        elif btype == "tool_result":
            kind, role = "tool", "tool"
            text = _render_tool_result(block.get("content"))
            meta = {k: block.get(k) for k in ("tool_use_id", "is_error")}
            meta["tool"] = block.get("name")
        else:
            kind, role = "tool", self.role
            text = _str(block.get("text"))
        return Message(
            uid=uid,
            role=role,
            text=strip_citations(text).strip(),
            kind=kind,
            created_at=to_epoch(block.get("start_timestamp")) or self.created_at,
            model=self.model if role == "assistant" else None,
            content_type=btype or None,
            meta={k: v for k, v in meta.items() if v is not None},
        )

    def _text(self) -> str:
        joined = "\n\n".join(g for g in self.text_groups if g.strip())
        flat = _str(self.raw.get("text"))
        # The flat text renders tool blocks as "not supported" stubs and may hold the thinking: use it only when
        # the blocks carry nothing else.
        if joined.strip() or self.extras:
            return joined
        return flat

    def _files(self) -> tuple[list[dict], list[dict]]:
        attachments = []
        for a in _list(self.raw.get("attachments")):
            if not isinstance(a, dict):
                continue
            keep = ("file_name", "file_type", "file_size", "extracted_content")
            attachments.append({k: a[k] for k in keep if a.get(k) is not None})
            if not a.get("extracted_content"):
                self.lost_files += 1
        files, seen = [], set()
        for f in [*_list(self.raw.get("files")), *_list(self.raw.get("files_v2"))]:
            if not isinstance(f, dict):
                continue
            key = f.get("file_uuid") or f.get("file_name")
            if key in seen:
                continue  # files_v2 repeats entries of files
            seen.add(key)
            files.append({k: f[k] for k in ("file_name", "file_uuid", "file_kind") if f.get(k)})
            self.lost_files += 1
        return attachments, files

    def messages(self) -> list[Message]:
        attachments, files = self._files()
        meta: dict[str, Any] = {}
        if attachments:
            meta["attachments"] = attachments
        if files:
            meta["files"] = files
        if self.citations:
            meta["citations"] = self.citations
        text = strip_citations(self._text()).strip()
        dialog = Message(
            uid=self.uid,
            role=self.role,
            text=text,
            # an empty turn (tool-only, or blanked in an anonymised copy) is kept but is no dialog
            kind="dialog" if text or attachments or files else "hidden",
            created_at=self.created_at,
            model=self.model,
            content_type="text",
            meta=meta,
        )
        return [*self.extras, dialog]


def _render_tool_use(block: dict) -> str:
    """`name` then its input, one `key: value` line each: readable, and searchable like the rest."""
    lines = [str(block.get("name") or "tool")]
    inp = block.get("input")
    if isinstance(inp, dict):
        for k, v in inp.items():
            if v is None or v == "":
                continue
            lines.append(f"{k}: {v if isinstance(v, str) else _json(v)}")
    elif inp is not None:
        lines.append(_json(inp))
    return "\n".join(lines)


def _json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # e.g. a Decimal from a stream parsed without use_float
        return str(value)


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _render_tool_result(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = []
    for part in content:
        if isinstance(part, dict):
            texts.append(part.get("text") or part.get("file_path") or part.get("title") or "")
        elif isinstance(part, str):
            texts.append(part)
    return "\n".join(t for t in texts if t)
