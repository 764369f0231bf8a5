"""A plain markdown or text file taken as one piece of the person's own writing (notes, essays, drafts).

It becomes a conversation with a single user message, so later stages treat it like anything else the person
wrote. Nexus chat notes are also markdown: the Nexus parser is tried first and claims those.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import PurePath
from typing import Any

import yaml

from ..records import Conversation, Message
from .timeparse import to_epoch

NAME = "document"

_SUFFIXES = {".md", ".markdown", ".txt"}
# `---` on the first line, then YAML, then a closing `---` (or `...`) line
_FRONTMATTER = re.compile(r"\A---[ \t]*\n(?:(.*?)\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_HEADING = re.compile(r"^[ ]{0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")  # closing #s need a space before
_FENCE = re.compile(r"^[ ]{0,3}(```|~~~)")


def sniff(text: str, name: str) -> bool:
    return PurePath(name).suffix.lower() in _SUFFIXES


def parse(text: str, name: str) -> Iterator[Conversation]:
    """One conversation for the file; nothing for a file with no text."""
    source = text
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    warnings: list[str] = []
    meta, body = _split_frontmatter(text, warnings)
    body = body.strip()
    if not body:
        return
    title = _frontmatter_title(meta) or _first_heading(body) or PurePath(name).stem or "Untitled"
    created = _meta_time(meta, ("created", "date", "created_at"))
    updated = _meta_time(meta, ("updated", "modified", "updated_at")) or created
    yield Conversation(
        uid=None,  # no id in the source: the store derives one from the message uid (a hash of the text)
        provider=NAME,
        title=title,
        messages=[
            Message(
                uid="doc-" + hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest()[:16],
                role="user",
                text=body,
                kind="dialog",
                created_at=created,
                content_type="markdown" if PurePath(name).suffix.lower() != ".txt" else "text",
            )
        ],
        created_at=created,
        updated_at=updated,
        warnings=warnings,
        meta=meta,  # the frontmatter keys
    )


def _split_frontmatter(text: str, warnings: list[str]) -> tuple[dict[str, Any], str]:
    m = _FRONTMATTER.match(text)
    if not m:
        return {}, text
    try:
        data = yaml.safe_load(m.group(1) or "")
    except yaml.YAMLError:
        warnings.append("the frontmatter block is not valid YAML; it is kept unread in meta `frontmatter_raw`")
        return {"frontmatter_raw": m.group(1) or ""}, text[m.end():]
    if data is None:
        return {}, text[m.end():]  # an empty block
    if not isinstance(data, dict):
        # `---` fences around something that is not a mapping: a horizontal rule, not frontmatter
        return {}, text
    return {str(k): _jsonable(v) for k, v in data.items()}, text[m.end():]


def _jsonable(value: Any) -> Any:
    """Frontmatter values as JSON can hold them (YAML gives dates and datetimes; meta is stored as JSON)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _frontmatter_title(meta: dict[str, Any]) -> str | None:
    title = meta.get("title")
    return title.strip() if isinstance(title, str) and title.strip() else None


def _first_heading(body: str) -> str | None:
    in_fence = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence  # a `# comment` inside a code block is no heading
            continue
        if not in_fence:
            m = _HEADING.match(line)
            if m:
                return m.group(1).strip()
    return None


def _meta_time(meta: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = meta.get(key)
        # only date strings: a bare number such as `date: 2024` is no timestamp
        if isinstance(value, str) and not value.strip().isdigit():
            t = to_epoch(value)
            if t is not None:
                return t
    return None
