"""ChatGPT official export (`conversations.json`, shards, wrappers, single objects). formats.md §2.

Each conversation is a tree (`mapping`). The displayed branch runs from `current_node` up to the root; every
other node is kept, flagged not canonical. Hidden, system, tool, reasoning, custom-instruction and memory nodes
are kept with their kind so nothing is lost, and only `dialog` messages make up the conversation text.
"""

from __future__ import annotations

from typing import Any

from ..records import Conversation, Message
from .jsonshape import JsonShape
from .markers import strip_citations
from .timeparse import to_epoch

NAME = "chatgpt"

# content types that are tool traffic when an assistant (or tool) produced them
_TOOL_TYPES = {
    "code", "execution_output", "system_error", "tether_browsing_display", "tether_browsing_code",
    "tether_quote", "sonic_webpage",
}
_REASONING_TYPES = {"thoughts", "reasoning_recap"}
_TEXT_PART_TYPES = {"text", "audio_transcription"}


def sniff(shape: JsonShape) -> bool:
    return "mapping" in shape.item_keys or ("current_node" in shape.item_keys and "title" in shape.item_keys)


def parse(obj: dict) -> Conversation:
    uid = obj.get("id") or obj.get("conversation_id") or obj.get("_key")
    conv = Conversation(
        uid=str(uid) if uid else None,
        provider="chatgpt",
        title=(obj.get("title") or "").strip() or "Untitled",
        created_at=to_epoch(obj.get("create_time")),
        updated_at=to_epoch(obj.get("update_time")),
        meta={k: obj[k] for k in ("default_model_slug", "gizmo_id", "is_archived") if obj.get(k) is not None},
    )
    mapping = obj.get("mapping")
    if not isinstance(mapping, dict) or not mapping:
        conv.warnings.append("no `mapping` in this conversation: its messages are missing from the export")
        return conv
    nodes = {str(k): v for k, v in mapping.items() if isinstance(v, dict)}
    order = _tree_order(nodes, conv)
    canonical = _canonical_path(nodes, obj.get("current_node"), conv)
    uid_of = {nid: _message_uid(nid, nodes[nid]) for nid in nodes}
    unknown: set[str] = set()
    for nid in order:
        msg = nodes[nid].get("message")
        if not isinstance(msg, dict):
            continue
        parent = nodes[nid].get("parent")
        m = _to_message(msg, uid_of[nid], uid_of.get(parent) if parent in nodes else None, unknown)
        m.canonical = nid in canonical
        conv.messages.append(m)
    if unknown:
        conv.warnings.append(f"unsupported content kept as notes only: {', '.join(sorted(unknown))}")
    _merge_continuations(conv.messages)
    conv.fill_times(m.created_at for m in conv.messages)
    return conv


def _message_uid(nid: str, node: dict) -> str:
    # Nexus notes carry the message id; in real exports it equals the node id.
    msg = node.get("message")
    if isinstance(msg, dict) and msg.get("id"):
        return str(msg["id"])
    return nid


def _tree_order(nodes: dict[str, dict], conv: Conversation) -> list[str]:
    """Depth-first from the roots in `children` order; nodes no root reaches (cycles, orphans) come last."""
    roots = [nid for nid, n in nodes.items() if n.get("parent") is None or str(n.get("parent")) not in nodes]
    seen: set[str] = set()
    order: list[str] = []
    for root in roots:
        stack = [root]
        while stack:
            nid = stack.pop()
            if nid in seen:
                continue
            seen.add(nid)
            order.append(nid)
            children = [str(c) for c in nodes[nid].get("children") or [] if str(c) in nodes]
            stack.extend(reversed(children))
    rest = [nid for nid in nodes if nid not in seen]
    if rest:
        conv.warnings.append(f"{len(rest)} node(s) not reachable from a root (cycle in the tree); kept at the end")
        order.extend(sorted(rest, key=lambda n: _node_time(nodes[n])))
    dangling = sum(1 for n in nodes.values() for c in n.get("children") or [] if str(c) not in nodes)
    if dangling:
        conv.warnings.append(f"{dangling} child link(s) point to nodes missing from the export (truncated mapping)")
    return order


def _node_time(node: dict) -> float:
    msg = node.get("message")
    t = to_epoch(msg.get("create_time")) if isinstance(msg, dict) else None
    return t or 0.0


def _canonical_path(nodes: dict[str, dict], current: Any, conv: Conversation) -> set[str]:
    leaf = str(current) if current is not None else None
    if leaf not in nodes:
        leaves = [nid for nid, n in nodes.items() if not [c for c in n.get("children") or [] if str(c) in nodes]]
        if not leaves:
            leaves = list(nodes)
        # newest leaf; on equal times the later one in the export wins
        leaf = max(reversed(leaves), key=lambda n: _node_time(nodes[n]))
        if current is not None:
            conv.warnings.append(f"current_node {current!r} is missing; the newest leaf was taken as the displayed branch")
    path: set[str] = set()
    nid: str | None = leaf
    while nid is not None:
        if nid in path:
            conv.warnings.append(f"cycle in the tree at node {nid!r}; the displayed branch stops there")
            break
        if nid not in nodes:
            conv.warnings.append(f"parent node {nid!r} is missing; earlier messages of the displayed branch are lost")
            break
        path.add(nid)
        parent = nodes[nid].get("parent")
        nid = str(parent) if parent is not None else None
    return path


def _to_message(msg: dict, uid: str, parent_uid: str | None, unknown: set[str]) -> Message:
    author = msg.get("author") or {}
    role = author.get("role") or "assistant"
    if role == "function":
        role = "tool"
    content = msg.get("content") or {}
    ctype = content.get("content_type") or "text"
    meta: dict[str, Any] = msg.get("metadata") or {}
    recipient = msg.get("recipient") or "all"
    text, notes = _content_text(content, ctype, unknown)
    kind = _kind(role, ctype, recipient, meta)
    info: dict[str, Any] = {}
    if notes:
        info["attachments"] = notes
    if meta.get("attachments"):
        info.setdefault("attachments", []).extend(
            {k: a.get(k) for k in ("id", "name", "mime_type", "size") if k in a}
            for a in meta["attachments"] if isinstance(a, dict)
        )
    if author.get("name"):
        info["tool"] = author["name"]
    if recipient != "all":
        info["recipient"] = recipient
    if msg.get("status") and msg["status"] != "finished_successfully":
        info["status"] = msg["status"]
    if kind == "dialog":
        text = strip_citations(text)
        if not text.strip() and not info.get("attachments"):
            kind = "hidden"  # empty placeholder turns (e.g. the blank assistant node before a tool call)
    return Message(
        uid=uid,
        role=role if role in ("user", "assistant", "system", "tool") else "tool",
        text=text,
        kind=kind,
        created_at=to_epoch(msg.get("create_time")),
        model=meta.get("model_slug"),
        content_type=ctype,
        parent_uid=parent_uid,
        meta=info,
    )


def _kind(role: str, ctype: str, recipient: str, meta: dict) -> str:
    if ctype == "user_editable_context" or meta.get("is_user_system_message"):
        return "custom-instructions"
    if ctype == "model_editable_context":
        return "memory"
    if ctype in _REASONING_TYPES:
        return "reasoning"
    if role == "system":
        return "system"
    if role in ("tool", "function") or ctype in _TOOL_TYPES or recipient != "all":
        return "tool"
    if meta.get("is_visually_hidden_from_conversation") or meta.get("rebase_developer_message"):
        return "hidden"
    return "dialog"


def _content_text(content: dict, ctype: str, unknown: set[str]) -> tuple[str, list[dict]]:
    """Text of a content object, and notes about media parts (images, audio, files) found in it."""
    notes: list[dict] = []
    if ctype == "user_editable_context":
        text = "\n\n".join(s for s in (content.get("user_profile"), content.get("user_instructions")) if s)
        return text, notes
    if ctype == "model_editable_context":
        return str(content.get("model_set_context") or ""), notes
    if ctype == "thoughts":
        chunks = []
        for t in content.get("thoughts") or []:
            if isinstance(t, dict):
                chunks.extend(s for s in (t.get("summary"), t.get("content")) if s)
        return "\n\n".join(chunks), notes
    if "parts" in content:
        texts = []
        for part in content.get("parts") or []:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, (int, float)):
                texts.append(str(part))
            elif isinstance(part, dict):
                ptype = part.get("content_type") or part.get("type") or "unknown"
                if ptype in _TEXT_PART_TYPES and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif ptype.endswith("asset_pointer") or ptype == "search_result_group":
                    notes.append({"type": ptype, "pointer": part.get("asset_pointer")})
                else:
                    unknown.add(ptype)
                    notes.append({"type": ptype})
        return "\n".join(texts), notes
    for key in ("text", "result", "content"):
        if isinstance(content.get(key), str):
            return content[key], notes
    if ctype not in _TOOL_TYPES:
        unknown.add(ctype)
    return "", notes


def _merge_continuations(messages: list[Message]) -> None:
    """'Continue generating' splits one answer into consecutive assistant nodes: join them into the first.

    The continuation keeps its own row (kind hidden, meta merged_into) so the source stays traceable.
    """
    by_uid = {m.uid: m for m in messages}
    children: dict[str, int] = {}
    for m in messages:
        if m.parent_uid:
            children[m.parent_uid] = children.get(m.parent_uid, 0) + 1
    for m in messages:
        head = by_uid.get(m.parent_uid or "")
        if (
            head is not None
            and m.kind == "dialog" and m.role == "assistant"
            and head.role == "assistant" and (head.kind == "dialog" or "merged_into" in head.meta)
            and children.get(head.uid) == 1
        ):
            target = head
            while "merged_into" in target.meta:
                target = by_uid[target.meta["merged_into"]]
            target.text = f"{target.text}{m.text}"
            m.kind = "hidden"
            m.meta["merged_into"] = target.uid
