"""DeepSeek export (`conversations.json`: ChatGPT-like `mapping` whose messages hold `fragments`). formats.md §4.

The mapping has a message-less `root` node. A node's message is a list of typed fragments: REQUEST (the
user's text), RESPONSE (the answer), THINK (reasoning), SEARCH (web results). Edits and regenerations are
siblings; the displayed branch leads to `current_node` where the export has it, else to the newest leaf.
"""

from __future__ import annotations

import re
from typing import Any

from ..records import Conversation, Message
from . import tree
from .jsonshape import JsonShape
from .markers import strip_citations
from .timeparse import to_epoch

NAME = "deepseek"

# fragment type -> (role, kind, uid label); dialog fragments take the node id itself
_FRAGMENTS = {
    "REQUEST": ("user", "dialog", None),
    "RESPONSE": ("assistant", "dialog", None),
    "THINK": ("assistant", "reasoning", "think"),
    "SEARCH": ("assistant", "tool", "search"),
}
# answers written with web search carry [citation:3] markers pointing into the SEARCH results
_CITATION = re.compile(r"\[citation:\d+\]")


def sniff(shape: JsonShape) -> bool:
    # ChatGPT files have `mapping` too: only the fragment-era keys tell DeepSeek apart.
    return "mapping" in shape.item_keys and bool({"fragments", "inserted_at"} & shape.keys)


def parse(obj: dict) -> Conversation:
    uid = obj.get("id") or obj.get("conversation_id") or obj.get("_key")
    conv = Conversation(
        uid=str(uid) if uid else None,
        provider="deepseek",
        title=str(obj.get("title") or "").strip() or "Untitled",
        created_at=to_epoch(obj.get("inserted_at") or obj.get("create_time")),
        updated_at=to_epoch(obj.get("updated_at") or obj.get("update_time")),
    )
    mapping = obj.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        conv.warnings.append("no `mapping` in this conversation: its messages are missing from the export")
        return conv
    nodes = {str(k): v for k, v in mapping.items() if isinstance(v, dict)}
    parents = {nid: _parent_id(n) for nid, n in nodes.items()}
    times = {nid: to_epoch(_message(n).get("inserted_at")) for nid, n in nodes.items()}
    current = obj.get("current_node")
    branches = tree.resolve(parents, str(current) if current is not None else None, times)
    conv.warnings.extend(branches.warnings)

    unknown: set[str] = set()
    for nid in branches.order:
        msg = _message(nodes[nid])
        if not msg:
            continue  # the root, or a node whose message the export dropped
        parent = parents[nid]
        parent_uid = parent if parent in nodes and _message(nodes[parent]) else None
        try:
            messages = _node_messages(nid, msg, unknown)
        except Exception as e:  # a shape nobody has seen yet must not cost the other messages
            conv.warnings.append(f"message {nid!r} could not be read ({type(e).__name__}); it was skipped")
            continue
        for m in messages:
            m.parent_uid = parent_uid
            m.canonical = nid in branches.canonical
            conv.messages.append(m)
    if unknown:
        conv.warnings.append(f"unknown fragment types kept as tool notes: {', '.join(sorted(unknown))}")
    conv.fill_times(times.values())
    return conv


def _parent_id(node: dict) -> str | None:
    p = node.get("parent")
    return str(p) if p is not None else None


def _message(node: dict) -> dict:
    msg = node.get("message")
    return msg if isinstance(msg, dict) else {}


def _node_messages(nid: str, msg: dict, unknown: set[str]) -> list[Message]:
    """Reasoning and search fragments first, in their order, then the dialog text of the node."""
    created = to_epoch(msg.get("inserted_at"))
    model = msg.get("model") if isinstance(msg.get("model"), str) else None
    fragments = [f for f in _list(msg.get("fragments")) if isinstance(f, dict)]
    if not fragments and isinstance(msg.get("content"), str):
        # older, pre-fragment shape: one text with a role
        author = msg.get("author") if isinstance(msg.get("author"), dict) else {}
        role = "user" if (author.get("role") or msg.get("role")) == "user" else "assistant"
        fragments = [{"type": "REQUEST" if role == "user" else "RESPONSE", "content": msg["content"]}]

    extras: list[Message] = []
    dialog: dict[str, list[str]] = {}  # role -> texts, in order
    counts: dict[str, int] = {}
    for frag in fragments:
        ftype = str(frag.get("type") or "").upper()
        role, kind, label = _FRAGMENTS.get(ftype, ("assistant", "tool", None))
        if ftype not in _FRAGMENTS:
            unknown.add(ftype or "untyped")
            label = ftype.lower() or "fragment"
        if kind == "dialog":
            dialog.setdefault(role, []).append(_fragment_text(frag))
            continue
        counts[label] = counts.get(label, 0) + 1
        suffix = label if counts[label] == 1 else f"{label}-{counts[label]}"
        extras.append(
            Message(
                uid=f"{nid}#{suffix}",
                role=role,
                text=_fragment_text(frag).strip(),
                kind=kind,
                created_at=created,
                model=model,
                content_type=ftype or None,
                meta=_search_meta(frag) if ftype == "SEARCH" else {},
            )
        )

    meta: dict[str, Any] = {}
    files = [f for f in _list(msg.get("files")) if isinstance(f, dict)]
    if files:
        meta["files"] = [{k: f[k] for k in ("file_name", "id", "file_size") if f.get(k)} for f in files]
    messages = list(extras)
    for i, (role, texts) in enumerate(dialog.items()):
        text = strip_citations(_CITATION.sub("", "\n\n".join(t for t in texts if t.strip()))).strip()
        messages.append(
            Message(
                uid=nid if i == 0 else f"{nid}#{role}",  # a node holding both a request and an answer is odd, not lost
                role=role,
                text=text,
                kind="dialog" if text or files else "hidden",
                created_at=created,
                model=model if role == "assistant" else None,
                content_type="RESPONSE" if role == "assistant" else "REQUEST",
                meta=meta,
            )
        )
    return messages


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _fragment_text(frag: dict) -> str:
    content = frag.get("content")
    if isinstance(content, str):
        return content
    results = frag.get("results")
    if isinstance(results, list):  # SEARCH: a list of found pages
        return "\n".join(_result_line(r) for r in results if isinstance(r, dict))
    return ""


def _result_line(r: dict) -> str:
    return " — ".join(str(r[k]) for k in ("title", "url") if r.get(k))


def _search_meta(frag: dict) -> dict:
    results = frag.get("results")
    if not isinstance(results, list):
        return {}
    return {"results": [{k: r[k] for k in ("title", "url") if r.get(k)} for r in results if isinstance(r, dict)]}
