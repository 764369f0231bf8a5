"""Nexus AI Chat Importer notes (Obsidian markdown) → one Conversation per note.

The spec is formats.md §1. Every plugin version is read by the same loop: find message headers (1.0.x headings
or 1.2.0+ callouts, so notes with appended updates in newer syntax just work), cut each block at its UID comment,
pull attachment callouts and wikilink lines out of the body, unquote what is left. Timestamps are local display
strings whose day/month order is decided once per note. Mojibake is repaired by the ingest loop afterwards, so
everything here works on the raw text; the markup it relies on is ASCII.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePath
from typing import Any

from ..records import Conversation, Message

NAME = "nexus"

# formats.md §1.5, split in two steps (label, then model and time) so that no pattern can backtrack badly.
# Patterns here avoid a lazy group followed by optional whitespace: on odd long lines that is quadratic.
_CALLOUT_HEAD = re.compile(r"^>\[!nexus_(user|agent)\]\s+\*\*([^*]*)\*\*(.*)$")
# The model separator is '·', which double-encoding turns into '¬∑' (Mac Roman) or 'Â·' (cp1252).
_MODEL_SEPARATORS = (" · ", " ¬∑ ", " Â· ")
_LEGACY_HEAD = re.compile(r"^(#{3,4})\s+(User|ChatGPT|Assistant), on (.+);[ \t]*$")
_UID = re.compile(r"^\s*<!--\s*UID:(.*)-->\s*$")
_FM_KEY = re.compile(r"^([A-Za-z_][\w.-]*)[ \t]*:(.*)$")
_FM_ITEM = re.compile(r"^\s*-\s(.*)$")
_SNIFF_FM = re.compile(r"^nexus:\s*[\"']?nexus-ai-chat-importer", re.M)
_SNIFF_CALLOUT = re.compile(r"^>\[!nexus_(?:user|agent)\] \*\*", re.M)
_SNIFF_LEGACY = re.compile(r"^#{3,4} (?:User|ChatGPT|Assistant), on .+;[ \t]*$", re.M)

# Callouts nested in (or following) a message body: attachments, prompts, artifacts, canvases.
_SIDE_CALLOUT = re.compile(r"^((?:>[ \t]?)*>)\[!nexus_(\w+)\][-+]?[ \t]*(.*)$")
_QUOTES = re.compile(r"^(?:>[ \t]?)*")
_WIKILINK_LINE = re.compile(r"^\s*(!?)\[\[([^\]]+)\]\]\s*$")
_WIKILINK = re.compile(r"!?\[\[([^\]|#\n]{1,500})[^\]\n]{0,500}\]\]")
# 1.1.x attachments live inside the quote: `**📎 Attachment:** name (mime) - size` (emoji may be mojibake).
_LEGACY_ATTACHMENT = re.compile(r"^.{0,24}?\b(?:Missing )?Attachment:\*\*\s*(.*)$")
_DIV_OPEN = re.compile(r'<div class="nexus-(attachment|artifact)-box">')
_BOLD = re.compile(r"\*\*([^*\n]{1,500})\*\*")
_MIME = re.compile(r"\(([\w.+-]+/[\w.+-]+)\)")
_SIZE = re.compile(r"\s-\s+([\d.,]+\s*(?:Bytes|[KMGT]?B))\s*$")
_VERSION = re.compile(r"\*\*\s+v(\d+)\b")
_MISSING = re.compile(r"⚠|Not included in|not in export|not available", re.I)

_EMPTY_BODIES = {"[No content found]", "[No content]", "[No text content]"}
# 1.0.x leaked the bio (memory) tool's answers as "ChatGPT" turns.
_TOOL_NOTICE = re.compile(r"Model set context updated\.|Model set context write is pending confirmation\b.*", re.S)
_PLACEHOLDER_UID = "nexus-generated-image-missing-"  # synthetic messages written by 1.6.4+
_KNOWN_FM_KEYS = {"nexus", "plugin_version", "provider", "aliases", "conversation_id", "create_time", "update_time"}
_TITLE_CHARS = 100


def sniff(text: str, name: str) -> bool:
    """Whether this (head of a) decoded text is a Nexus note: its frontmatter, or message headers outside fences."""
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("---"):  # `nexus: nexus-ai-chat-importer` counts only inside the frontmatter
        end = head.find("\n---", 3)
        if _SNIFF_FM.search(head[: end if end > 0 else 16384]):
            return True
    if "[!nexus_" in text and _unfenced(_SNIFF_CALLOUT, text):
        return True
    # Legacy headings alone could be anyone's markdown; the UID comment is the plugin's signature.
    return "<!-- UID:" in text and _unfenced(_SNIFF_LEGACY, text)


def _unfenced(pattern: re.Pattern[str], text: str) -> bool:
    """A header outside code fences. Notes quote their code ('> ```'); documents *about* Nexus fence examples."""
    for n, m in enumerate(pattern.finditer(text)):
        if n == 20:
            break
        if text.count("\n```", 0, m.start()) % 2 == 0:
            return True
    return False


def parse(text: str, name: str) -> Iterator[Conversation]:
    """One note → one Conversation (none for a Claude artifact note). `name` is the note's path."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    warnings: list[str] = []
    fm, start = _frontmatter(lines, warnings)
    if "artifact_id" in fm:
        return  # a Claude artifact note (1.2.0+): generated content linked from its conversation, not a chat
    preamble, blocks = _split_blocks(lines, start)
    head = _read_preamble(preamble)
    fm_created, fm_updated = _str(fm.get("create_time")), _str(fm.get("update_time"))
    stamps = [b.stamp for b in blocks if b.stamp]
    stamps += [s for s in (fm_created, fm_updated, head.get("created"), head.get("updated")) if s]
    clock = _Clock(stamps, iso=fm_created, display=head.get("created", ""))
    messages = _messages(blocks, clock, warnings)
    _link_branches(messages)
    created = _first(clock.epoch(fm_created), clock.epoch(head.get("created")))
    updated = _first(clock.epoch(fm_updated), clock.epoch(head.get("updated")))
    if not blocks:
        warnings.append("No message headers were found in this note.")
    if clock.failed:
        warnings.append(
            f"{len(clock.failed)} timestamp(s) could not be read (e.g. {clock.failed[0]!r}); they were left empty."
        )
    conv = Conversation(
        uid=_str(fm.get("conversation_id")) or None,
        provider=(_str(fm.get("provider")) or "nexus").lower(),
        title=_title(fm, head, messages, name),
        messages=messages,
        created_at=created,
        updated_at=updated,
        lossy=True,
        warnings=warnings,
        meta=_conversation_meta(fm, head, blocks, clock),
    )
    conv.fill_times(m.created_at for m in messages)
    yield conv


# ---------------------------------------------------------------------------------------------------------------
# Frontmatter and header block


def _frontmatter(lines: list[str], warnings: list[str]) -> tuple[dict[str, Any], int]:
    """Lenient line-based `key: value` reading (the YAML may be invalid). Returns (keys, first body line)."""
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    if first >= len(lines) or lines[first].strip() != "---":
        return {}, 0
    fm: dict[str, Any] = {}
    key = None
    for i in range(first + 1, len(lines)):
        line = lines[i]
        if line.rstrip() == "---":
            return fm, i + 1
        if _is_header(line):
            break
        item = _FM_ITEM.match(line)
        if item and key is not None:
            if not isinstance(fm[key], list):
                fm[key] = [fm[key]] if fm[key] not in ("", None) else []
            fm[key].append(_unquote_value(item.group(1).strip()))
            continue
        kv = _FM_KEY.match(line)
        if kv:
            key = kv.group(1)
            fm[key] = _yaml_value(kv.group(2).strip())
    warnings.append("The frontmatter has no closing '---'; it was ignored.")
    return {}, 0


def _yaml_value(raw: str) -> Any:
    if raw.startswith("[") and raw.endswith("]"):
        return [_unquote_value(v) for v in raw[1:-1].split(",") if v.strip()]
    return _unquote_value(raw)


def _unquote_value(raw: str) -> str:
    raw = raw.strip()
    # Only the outer pair: 1.2.0 wrote aliases: "<title>" without escaping quotes inside the title.
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


_PREAMBLE = {
    "title": re.compile(r"^#\s+Title:(.*)$"),
    "created": re.compile(r"^Created:(.*)$"),
    "updated": re.compile(r"^(?:Created:.*)?Last Updated:(.*)$"),  # prettier may join it onto the Created line
    "url": re.compile(r"^Chat URL:\s*(\S+)|\[Open in [^\]\n]{0,40}\]\((\S+?)\)"),
}


def _read_preamble(lines: list[str]) -> dict[str, str]:
    """`# Title:`, `Created:`, `Last Updated:`, `Chat URL:` (formats.md §1.4); first occurrence wins."""
    found: dict[str, str] = {}
    for line in lines:
        for key, pattern in _PREAMBLE.items():
            m = pattern.search(line) if key == "url" else pattern.match(line)
            value = next((g for g in m.groups() if g), "") if m else ""
            if key == "created":
                value = value.split("Last Updated:", 1)[0]
            if value.strip() and key not in found:
                found[key] = value.strip()
    return found


def _title(fm: dict[str, Any], head: dict[str, str], messages: list[Message], name: str) -> str:
    if head.get("title"):
        return head["title"]
    aliases = fm.get("aliases")
    alias = _str(aliases[0] if isinstance(aliases, list) and aliases else aliases)
    if alias and alias != "Untitled":  # generateSafeAlias writes "Untitled" for CJK/emoji-leading titles
        return alias
    for m in messages:
        if m.role == "user" and m.text.strip():
            return _truncate(m.text.strip().split("\n", 1)[0])
    return PurePath(name).stem or "Untitled"


def _truncate(line: str) -> str:
    if len(line) <= _TITLE_CHARS:
        return line
    # Cut at a space: a cut inside a double-encoded character would spoil the later mojibake repair.
    cut = line.rfind(" ", 0, _TITLE_CHARS)
    return line[: cut if cut > 0 else _TITLE_CHARS].rstrip()


def _conversation_meta(fm: dict[str, Any], head: dict[str, str], blocks: list[_Block], clock: _Clock) -> dict:
    meta: dict[str, Any] = {
        "format": "nexus",
        "plugin_version": _str(fm.get("plugin_version")) or None,
        "syntax": sorted({"heading" if b.legacy else "callout" for b in blocks}),  # both: an appended update
    }
    if head.get("url"):
        meta["url"] = head["url"]
    if clock.offset:
        meta["utc_offset_minutes"] = clock.offset // 60
    for key, value in fm.items():
        if key not in _KNOWN_FM_KEYS:
            meta.setdefault(key, value)
    return meta


# ---------------------------------------------------------------------------------------------------------------
# Blocks → messages


@dataclass
class _Block:
    role: str  # user / assistant, from the header
    legacy: bool  # 1.0.x–1.1.x heading syntax: assistant bodies are quoted twice ('>> ')
    stamp: str | None
    model: str | None
    lines: list[str] = field(default_factory=list)


def _is_header(line: str) -> bool:
    return (line[:3] == ">[!" and _CALLOUT_HEAD.match(line) is not None) or (
        line[:3] == "###" and _LEGACY_HEAD.match(line) is not None
    )


def _split_blocks(lines: list[str], start: int) -> tuple[list[str], list[_Block]]:
    """Split on headers (never on blank lines or '---', which also occur inside messages)."""
    preamble: list[str] = []
    blocks: list[_Block] = []
    for line in lines[start:]:
        block = _header(line) if line[:3] in (">[!", "###") else None
        if block:
            blocks.append(block)
        elif blocks:
            blocks[-1].lines.append(line)
        else:
            preamble.append(line)
    return preamble, blocks


def _header(line: str) -> _Block | None:
    m = _CALLOUT_HEAD.match(line)
    if m:
        role = "user" if m.group(1) == "user" else "assistant"
        label, model = m.group(2), None  # **User**, **Assistant**, **Assistant · gpt-5-thinking**
        for sep in _MODEL_SEPARATORS:
            if sep in label:
                model = label.split(sep, 1)[1].strip() or None
        rest = m.group(3).strip()  # ' - <date> at <time>'
        stamp = rest[1:].strip() if rest.startswith("-") else None
        return _Block(role, False, stamp or None, model)
    m = _LEGACY_HEAD.match(line)
    if m:
        return _Block("user" if m.group(2) == "User" else "assistant", True, m.group(3), None)
    return None


def _messages(blocks: list[_Block], clock: _Clock, warnings: list[str]) -> list[Message]:
    messages: list[Message] = []
    seen: dict[str, Message] = {}
    made_up = 0
    for n, block in enumerate(blocks, 1):
        try:
            msg = _message(block, n, clock, warnings)
        except Exception as e:  # one odd block must not lose the rest of the note
            warnings.append(f"Message {n} could not be read ({type(e).__name__}: {e}); it was skipped.")
            continue
        made_up += msg.uid == f"nexus-{n}"
        twin = seen.get(msg.uid)
        if twin is not None:
            if twin.text == msg.text and twin.role == msg.role:
                warnings.append(f"Message {msg.uid} appears twice; the repeat was dropped.")
                continue
            warnings.append(f"Two different messages share the UID {msg.uid}; the second was renamed.")
            msg.uid = f"{msg.uid}~{n}"
        seen[msg.uid] = msg
        messages.append(msg)
    if made_up:
        warnings.append(f"{made_up} message(s) have no UID comment; their ids were made from their position.")
    return messages


def _message(block: _Block, n: int, clock: _Clock, warnings: list[str]) -> Message:
    body, uid, tail = _cut_at_uid(block.lines)
    attachments: list[dict[str, Any]] = []
    body = _take_side_callouts(body, attachments)
    lines = [_unquote(line, 2 if block.legacy and block.role == "assistant" else 1) for line in _trim(body)]
    if block.legacy:
        lines = _take_legacy_attachments(lines, attachments)
    lines = _take_wikilink_lines(lines, attachments)
    text = _take_div_boxes("\n".join(lines), attachments).strip()

    meta: dict[str, Any] = {}
    leftovers = _read_tail(tail, attachments)
    uid = uid if uid and uid != "unknown" else f"nexus-{n}"
    if leftovers:
        meta["after_uid"] = leftovers
        warnings.append(f"Text after the UID comment of message {uid} was kept aside, not in the message.")
    if attachments:
        meta["attachments"] = attachments
    if text in _EMPTY_BODIES:
        text = ""
        meta["empty"] = True
    created = clock.epoch(block.stamp)
    if created is None and block.stamp and block.stamp in clock.failed:
        meta["time_text"] = block.stamp

    role, kind = block.role, "dialog"
    if role == "assistant" and _TOOL_NOTICE.fullmatch(text):
        role = kind = "tool"
    return Message(uid=uid, role=role, text=text, kind=kind, created_at=created, model=block.model, meta=meta)


def _cut_at_uid(lines: list[str]) -> tuple[list[str], str | None, list[str]]:
    for i, line in enumerate(lines):
        if line[:4] == "<!--" or line.lstrip()[:4] == "<!--":
            m = _UID.match(line)
            if m:
                return lines[:i], m.group(1).strip(), lines[i + 1 :]
    return lines, None, []


def _trim(lines: list[str]) -> list[str]:
    """Drop leading/trailing blank lines, bare '>' lines and the assistant's '---' rule (raw, still quoted)."""
    def blank(line: str) -> bool:
        s = line.strip()
        return not s.strip("> \t") or s == "---"

    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and blank(lines[end - 1]):
        end -= 1
    return lines[start:end]


def _depth(line: str) -> int:
    return _QUOTES.match(line).group().count(">")


def _unquote(line: str, levels: int) -> str:
    """formats.md §1.11 step 3: remove one '>' and one following space, per quote level."""
    for _ in range(levels):
        if not line.startswith(">"):
            break
        line = line[2:] if line[1:2] == " " else line[1:]
    return line


def _read_tail(tail: list[str], attachments: list[dict[str, Any]]) -> list[str]:
    """After the UID: blank lines and '---' are layout, wikilinks are user-added links; anything else is returned."""
    leftovers = []
    for line in tail:
        s = line.strip()
        if not s or s == "---":
            continue
        link = _WIKILINK_LINE.match(s)
        if link:
            attachments.append(_link(link.group(1), link.group(2)))
        else:
            leftovers.append(line)
    return leftovers


# ---------------------------------------------------------------------------------------------------------------
# Attachments, prompts, artifacts, canvases (formats.md §1.9)


def _take_side_callouts(lines: list[str], attachments: list[dict[str, Any]]) -> list[str]:
    """Remove `>[!nexus_attachment]`-style callouts (any depth) with their continuation lines."""
    if not any("[!nexus_" in line for line in lines):
        return lines
    kept: list[str] = []
    i = 0
    while i < len(lines):
        m = _SIDE_CALLOUT.match(lines[i])
        if not m or m.group(2) in ("user", "agent"):
            kept.append(lines[i])
            i += 1
            continue
        depth = m.group(1).count(">")
        j = i + 1
        # A callout runs while its lines keep its quote depth; a raw blank line or a shallower '>' ends it.
        while j < len(lines) and lines[j].strip() and _depth(lines[j]) >= depth and not _SIDE_CALLOUT.match(lines[j]):
            j += 1
        body = [_unquote(line, depth) for line in lines[i + 1 : j]]
        attachments.append(_describe(m.group(2), m.group(3), body))
        # The callout sat between two empty quote lines: keep only one, so no double gap is left behind.
        if kept and _empty_quote(kept[-1]) and j < len(lines) and _empty_quote(lines[j]):
            j += 1
        i = j
    return kept


def _empty_quote(line: str) -> bool:
    return not line.strip("> \t")


def _describe(kind: str, header: str, body: list[str]) -> dict[str, Any]:
    """type / name / mime_type / size / version / path / missing / text — whatever the callout tells."""
    info: dict[str, Any] = {"type": kind}
    header = header[:1000]  # a callout header is one short line; bound the regex work on odd input
    bold = _BOLD.search(header)
    # `**name** (mime) - size` in callouts; the 1.1.x line has the name without the bold.
    name = bold.group(1) if bold else _MIME.split(_SIZE.split(header)[0])[0]
    if name.strip():
        info["name"] = name.strip()
    for key, pattern in (("mime_type", _MIME), ("size", _SIZE), ("version", _VERSION)):
        m = pattern.search(header)
        if m:
            info[key] = int(m.group(1)) if key == "version" else m.group(1)
    if "*(missing)*" in header:
        info["missing"] = True
    text_lines = []
    for line in body:
        link = _WIKILINK.search(line[:2000]) if "]]" in line else None
        if link and "path" not in info:
            info["path"] = link.group(1).strip()
        elif _MISSING.search(line):
            info["missing"] = True
        else:
            text_lines.append(line)
    text = "\n".join(text_lines).strip()
    if text and kind in ("canvas", "prompt"):  # a canvas is the assistant's document: keep its words
        info["text"] = text
    return info


def _take_legacy_attachments(lines: list[str], attachments: list[dict[str, Any]]) -> list[str]:
    """1.1.x: attachments follow the text inside the quote, each from its `**📎 Attachment:**` line to the next."""
    starts = [i for i, line in enumerate(lines) if "Attachment:**" in line and _LEGACY_ATTACHMENT.match(line)]
    for a, b in zip(starts, starts[1:] + [len(lines)]):
        attachments.append(_describe("attachment", _LEGACY_ATTACHMENT.match(lines[a]).group(1), lines[a + 1 : b]))
    return lines[: starts[0]] if starts else lines


def _take_wikilink_lines(lines: list[str], attachments: list[dict[str, Any]]) -> list[str]:
    """`![[…]]` / `[[…]]` lines are vault links to attachments, never message content."""
    if not any("[[" in line for line in lines):
        return lines
    kept = []
    in_code = False
    for line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        m = None if in_code else _WIKILINK_LINE.match(line)
        if m:
            attachments.append(_link(m.group(1), m.group(2)))
        else:
            kept.append(line)
    return kept


def _take_div_boxes(text: str, attachments: list[dict[str, Any]]) -> str:
    """1.1.0 Claude notes wrapped attachments and artifacts in `<div class="nexus-…-box">…</div>`."""
    out, pos = [], 0
    while (m := _DIV_OPEN.search(text, pos)) and (end := text.find("</div>", m.end())) >= 0:
        box = text[m.end() : end]
        info: dict[str, Any] = {"type": m.group(1)}
        bold = _BOLD.search(box[:2000])
        if bold:
            info["name"] = re.sub(r"^\W*(?:Artifact|Attachment):\s*", "", bold.group(1)).strip()
        link = _WIKILINK.search(box[:2000])
        if link:
            info["path"] = link.group(1).strip()
        attachments.append(info)
        out.append(text[pos : m.start()])
        pos = end + len("</div>")
    return "".join(out) + text[pos:]


def _link(bang: str, target: str) -> dict[str, Any]:
    path = target.split("|", 1)[0].strip()
    return {"type": "embed" if bang else "link", "name": path.rsplit("/", 1)[-1], "path": path}


# ---------------------------------------------------------------------------------------------------------------
# Branches (formats.md §1.8: all branches are included, sorted by time)


def _link_branches(messages: list[Message]) -> None:
    """A run of same-role messages is edits (user) or regenerations (assistant): the last one is canonical.

    Every message in a run points at the canonical message before the run, so siblings share a parent.
    Tool notices and the plugin's generated-image placeholders follow a reply rather than replace it: each
    stands alone.
    """
    def group(m: Message) -> str:
        return m.uid if m.uid.startswith(_PLACEHOLDER_UID) else m.role

    parent = None
    i = 0
    while i < len(messages):
        j = i
        while j + 1 < len(messages) and group(messages[j + 1]) == group(messages[i]):
            j += 1
        for k in range(i, j + 1):
            messages[k].parent_uid = parent
            messages[k].canonical = k == j
        parent = messages[j].uid
        i = j + 1


# ---------------------------------------------------------------------------------------------------------------
# Timestamps (formats.md §1.6): local display strings, no zone written, order depends on the importer's locale


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_DISPLAY = re.compile(
    r"(?P<d1>\d{1,4})(?P<sep>[./-])(?P<d2>\d{1,2})(?P=sep)(?P<d3>\d{1,4})\.?"  # ko writes a trailing dot
    r"(?:(?:\s+at\s+|,?\s+)"  # ' at ' in every locale; the custom formats use a plain space
    r"(?:(?P<pre>AM|PM|am|pm|오전|오후)\s*)?"  # ko puts the meridiem first
    r"(?P<h>\d{1,2})[:.](?P<mi>\d{2})(?:[:.](?P<s>\d{2})(?:[.,]\d+)?)?"  # fi uses dots
    r"(?:\s*(?P<post>[AaPp]\.?\s?[Mm]\.?))?)?"
)
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u061c"), None) | {0xA0: " ", 0x202F: " "}
_PM = ("PM", "P.M.", "오후")
_NULL_TIME_SPAN = 2 * 86400  # null create_time is rendered as the epoch (1970, or 31.12.1969 west of UTC)
_MAX_OFFSET = 14 * 3600


@dataclass
class _Parts:
    """A display timestamp split up; for year-last dates the day/month order is decided per note."""

    d1: int
    d2: int
    d3: int
    sep: str
    year_first: bool
    hour: int
    minute: int
    second: int
    meridiem: str | None

    def utc(self, day_first: bool) -> float | None:
        """Epoch seconds reading the wall-clock time as UTC; None when the parts make no date."""
        if self.year_first:
            y, mo, d = self.d1, self.d2, self.d3
        elif day_first:
            d, mo, y = self.d1, self.d2, self.d3
        else:
            mo, d, y = self.d1, self.d2, self.d3
        h = self.hour
        if self.meridiem:
            h = h % 12 + (12 if self.meridiem in _PM else 0)
        try:
            return datetime(y, mo, d, h, self.minute, self.second, tzinfo=timezone.utc).timestamp()
        except ValueError:
            return None


def _split_stamp(s: str) -> _Parts | None:
    m = _DISPLAY.fullmatch(" ".join(s.translate(_INVISIBLE).split()))
    if not m:
        return None
    d1, d2, d3 = (int(m.group(k)) for k in ("d1", "d2", "d3"))  # int() reads Arabic-Indic digits too
    year_first = len(m.group("d1")) == 4
    if not year_first and len(m.group("d3")) != 4:
        return None
    return _Parts(
        d1, d2, d3, m.group("sep"), year_first, int(m.group("h") or 0), int(m.group("mi") or 0),
        int(m.group("s") or 0), (m.group("pre") or m.group("post") or "").upper().replace(" ", "") or None,
    )


def _iso(s: str) -> float | None:
    try:
        dt = datetime.fromisoformat(s.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


class _Clock:
    """Reads every timestamp of one note the same way.

    Day/month order: a part above 12 decides; '.' or '-' separators are day-first; AM/PM means en-US month-first;
    else the frontmatter's ISO create_time picks the order that matches the `Created:` line; else day-first (the
    plugin's own default). The same pair gives the importer's UTC offset; without it local time is read as UTC.
    """

    def __init__(self, stamps: list[str], iso: str, display: str):
        self.failed: list[str] = []
        self.offset = 0
        self.day_first = _decide_order([p for p in map(_split_stamp, stamps) if p and not p.year_first])
        if _ISO.match(iso) and display and not _ISO.match(display):
            self._learn_offset(_iso(iso), _split_stamp(display))

    def _learn_offset(self, exact: float | None, parts: _Parts | None) -> None:
        if exact is None or parts is None:
            return
        known = parts.year_first or self.day_first.get(parts.sep) is not None
        for day_first in [self._day_first(parts)] if known else [True, False]:
            local = parts.utc(day_first)
            if local is not None and abs(local - exact) <= _MAX_OFFSET:
                self.offset = round((local - exact) / 900) * 900  # zones are whole quarter hours
                if not known:
                    self.day_first[parts.sep] = day_first
                return

    def _day_first(self, parts: _Parts) -> bool:
        return parts.year_first or self.day_first.get(parts.sep) is not False

    def epoch(self, s: str | None) -> float | None:
        if not s:
            return None
        if _ISO.match(s.strip()):
            value = _iso(s)
        else:
            parts = _split_stamp(s)
            value = parts.utc(self._day_first(parts)) if parts else None
            value = None if value is None else value - self.offset
        if value is None:
            if s not in self.failed:
                self.failed.append(s)
            return None
        return None if abs(value) < _NULL_TIME_SPAN else value


def _decide_order(parts: list[_Parts]) -> dict[str, bool | None]:
    """Separator → day-first? (None: no evidence either way)."""
    evidence: dict[str, set[str]] = {}
    for p in parts:
        seen = evidence.setdefault(p.sep, set())
        if p.d1 > 12:
            seen.add("day")
        elif p.d2 > 12:
            seen.add("month")
        if p.meridiem:
            seen.add("ampm")
    order: dict[str, bool | None] = {}
    for sep, seen in evidence.items():
        if ("day" in seen) != ("month" in seen):
            order[sep] = "day" in seen
        elif sep in ".-":
            order[sep] = True
        elif "ampm" in seen:
            order[sep] = False
        else:
            order[sep] = None
    return order


# ---------------------------------------------------------------------------------------------------------------


def _str(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).strip() if value is not None else ""


def _first(*values: float | None) -> float | None:
    return next((v for v in values if v is not None), None)
