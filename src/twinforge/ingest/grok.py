"""Grok (grok.com data export): `{"conversations": [{"conversation": {…}, "responses": [{"response": {…}}]}]}`.

Each response is one turn (`sender` human / ASSISTANT) linked by `parent_response_id`; `leaf_response_id`
names the displayed branch when set. Seen in two shapes: openwebui-importer's example (`response_id`, ISO
times) and the raw backend dump (`_id`, Mongo `{"$date": {"$numberLong": ms}}` times, `model`).
"""

from __future__ import annotations

import re
from typing import Any

from ..records import Conversation, Message
from . import tree
from .jsonshape import JsonShape
from .markers import strip_citations
from .timeparse import to_epoch

NAME = "grok"

_SENDERS = {"human": "user", "user": "user", "assistant": "assistant", "grok": "assistant"}
# inline citation cards: <grok:render card_id="02a86c" type="render_inline_citation">…</grok:render>
_RENDER = re.compile(r"<grok:render\b[^>]*>.*?</grok:render>|<grok:render\b[^>]*/>", re.DOTALL)
_ATTACHMENT_KEYS = ("image_attachments", "file_attachments", "generated_image_urls")


def sniff(shape: JsonShape) -> bool:
    return {"conversation", "responses"} <= shape.item_keys


def parse(obj: dict) -> Conversation:
    info = obj.get("conversation") if isinstance(obj.get("conversation"), dict) else {}
    uid = info.get("conversation_id") or info.get("id") or info.get("_id")
    conv = Conversation(
        uid=str(uid) if uid else None,
        provider="grok",
        title=str(info.get("title") or "").strip() or "Untitled",
        created_at=_epoch(info.get("create_time")),
        updated_at=_epoch(info.get("modify_time")),
        meta={k: info[k] for k in ("summary", "system_prompt_name") if info.get(k)},
    )
    responses = obj.get("responses")
    if not isinstance(responses, list):
        conv.warnings.append("no `responses` list in this conversation: its messages are missing from the export")
        return conv
    turns = _turns(responses, conv)
    parents = {u: _parent(r) for u, r in turns.items()}
    times = {u: _epoch(r.get("create_time")) for u, r in turns.items()}
    leaf = info.get("leaf_response_id")
    branches = tree.resolve(parents, str(leaf) if leaf else None, times)
    conv.warnings.extend(branches.warnings)

    roles: dict[str, str] = {}
    guessed = lost = 0
    previous: str | None = None
    for u in branches.order:
        r = turns[u]
        role = _SENDERS.get(str(r.get("sender") or "").lower())
        if role is None:
            guessed += 1
            before = roles.get(parents[u] or "") or previous
            role = "assistant" if before == "user" else "user"
        roles[u] = previous = role
        # the model is recorded on the request; the answer to it came from that model
        model = _model(r) or (_model(turns[parents[u]]) if parents[u] in turns else None)
        try:
            messages = _turn_messages(u, r, role, model)
        except Exception as e:  # a shape nobody has seen yet must not cost the other messages
            conv.warnings.append(f"response {u!r} could not be read ({type(e).__name__}); it was skipped")
            continue
        for m in messages:
            m.parent_uid = parents[u]
            m.canonical = u in branches.canonical
            conv.messages.append(m)
        lost += sum(len(r[k]) for k in _ATTACHMENT_KEYS if isinstance(r.get(k), list))
    if guessed:
        conv.warnings.append(f"{guessed} response(s) had no known sender; roles guessed by alternation, user first")
    if lost:
        conv.warnings.append(f"{lost} attached or generated file(s) are not in the export; only references are kept")
    conv.fill_times(times.values())
    return conv


def _epoch(value: Any) -> float | None:
    """ISO strings and numbers, plus the backend dump's Mongo form {"$date": {"$numberLong": "1773602366234"}}."""
    if isinstance(value, dict):
        value = value.get("$date")
        if isinstance(value, dict):
            value = value.get("$numberLong")
    return to_epoch(value)


def _turns(responses: list, conv: Conversation) -> dict[str, dict]:
    turns: dict[str, dict] = {}
    skipped = 0
    for i, item in enumerate(responses):
        r = item.get("response", item) if isinstance(item, dict) else None
        if not isinstance(r, dict):
            skipped += 1
            continue
        u = str(r.get("response_id") or r.get("_id") or r.get("id") or f"response-{i}")
        if u in turns:
            u = f"{u}-{i}"
        turns[u] = r
    if skipped:
        conv.warnings.append(f"{skipped} empty response entr{'y was' if skipped == 1 else 'ies were'} skipped")
    return turns


def _parent(r: dict) -> str | None:
    p = r.get("parent_response_id")
    return str(p) if p else None


def _model(r: dict) -> str | None:
    if isinstance(r.get("model"), str) and r["model"]:
        return r["model"]
    meta = r.get("metadata") if isinstance(r.get("metadata"), dict) else {}
    details = meta.get("requestModelDetails") if isinstance(meta.get("requestModelDetails"), dict) else {}
    model = details.get("modelId")
    return model if isinstance(model, str) and model else None


def _turn_messages(u: str, r: dict, role: str, model: str | None) -> list[Message]:
    created = _epoch(r.get("create_time"))
    messages = []
    thinking = r.get("thinking_trace")
    if isinstance(thinking, str) and thinking.strip():
        messages.append(
            Message(uid=f"{u}#thinking", role="assistant", text=thinking.strip(), kind="reasoning",
                    created_at=_epoch(r.get("thinking_start_time")) or created, model=model,
                    content_type="thinking_trace")
        )
    raw = r.get("message") if isinstance(r.get("message"), str) else ""
    text = strip_citations(_RENDER.sub("", raw)).strip()
    meta = _meta(r)
    kind = "dialog" if text or any(k in meta for k in _ATTACHMENT_KEYS) else "hidden"
    messages.append(
        Message(uid=u, role=role, text=text, kind=kind, created_at=created,
                model=model if role == "assistant" else None, content_type="text", meta=meta)
    )
    return messages


def _meta(r: dict) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    results = r.get("web_search_results") if isinstance(r.get("web_search_results"), list) else []
    pages = [w for w in results if isinstance(w, dict) and w.get("url")]
    citations = [{k: w[k] for k in ("url", "title") if w.get(k)} for w in pages]
    if citations:
        meta["citations"] = citations
    for key in _ATTACHMENT_KEYS:
        if isinstance(r.get(key), list) and r[key]:
            meta[key] = r[key]
    for key in ("partial", "error"):
        if r.get(key):
            meta[key] = r[key]
    return meta
