"""The JSON API behind the web UI (`/api/...`): read-only views of the workspace.

Conversations with every branch and every clean verdict, modules and paper digests, the concept graph, the clean
funnel, the persona card, eval reports, and memory search. Message texts are shown as clean left them (boilerplate
stripped, secrets redacted); texts clean never processed (other branches, rejects, hidden kinds) are redacted
here before they leave the server, so the UI never shows a secret even to someone holding the token.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

import orjson
from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from ..errors import TwinforgeError
from ..store import Store, listings
from ..store.workspace import Workspace
from ..text import secrets
from .markdown_render import MAX_CHARS, to_html
from .verdict_text import explain, threshold_of

router = APIRouter(prefix="/api")
PAGE = 50
COMMUNITY_NAME_CONCEPTS = 3
GRAPH_MAX_NODES = 150  # the most-named concepts are drawn; a canvas of thousands of nodes reads as noise
EXAMPLE_QUESTIONS = 4


def _store(request: Request) -> Store:
    return Store(request.app.state.twin.workspace, create=False)


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds") if t else None


@router.get("/overview")
def overview(request: Request) -> dict:
    twin = request.app.state.twin
    with _store(request) as store:
        memory_built = store.memory_embedder() is not None
        counts = listings.counts(store)
    return {"workspace": twin.workspace.name, "counts": counts, "memory_built": memory_built,
            "persona": Workspace(twin.workspace).persona_card.exists(), "models": [m["id"] for m in twin.models()],
            "no_llm": twin.cfg.no_llm, "reports": len(_reports(twin.workspace))}


@router.get("/conversations")
def conversations(request: Request, q: str = "", label: str = Query("all", pattern="^(all|substance|chatter)$"),
                  offset: int = Query(0, ge=0), limit: int = Query(PAGE, ge=1, le=500)) -> dict:
    with _store(request) as store:
        total, rows = listings.conversation_page(store, q=q, label=label, offset=offset, limit=limit)
    items = [{"id": r.id, "title": r.title, "provider": r.provider, "created_at": _iso(r.created_at),
              "messages": r.message_count, "kept": r.kept, "label": r.label,
              "chatter_score": r.score, "verdict": r.reason,
              "explained": explain(r.label, r.score, r.reason, threshold_of(r.signature)),
              "modules": r.modules} for r in rows]
    return {"total": total, "offset": offset, "limit": limit, "items": items}


@router.get("/conversations/{conversation_id}")
def conversation(conversation_id: str, request: Request) -> dict:
    with _store(request) as store:
        detail = listings.conversation_detail(store, conversation_id)
    if detail is None:
        raise HTTPException(404, f"no conversation {conversation_id!r}")
    c, rows, modules = detail.row, detail.messages, detail.modules
    messages = []
    for r in rows:
        kept = bool(r["keep"])
        text = r["cleaned"] if kept and r["cleaned"] else secrets.redact(r["text"])[0]
        # assistants write markdown; the person's own messages are shown exactly as typed
        rendered = to_html(text) if r["role"] == "assistant" and r["kind"] == "dialog" else None
        messages.append({
            "id": r["id"], "uid": r["uid"], "parent_uid": r["parent_uid"], "position": r["position"],
            "role": r["role"], "kind": r["kind"], "canonical": bool(r["canonical"]),
            "created_at": _iso(r["created_at"]), "model": r["model"], "text": text, "html": rendered,
            "keep": kept if r["keep"] is not None else None, "reason": r["reason"], "score": r["score"],
            "duplicate_of": r["duplicate_of"], "language": r["language"],
            "stripped": len(orjson.loads(r["stripped"])) if r["stripped"] else 0,
            "redacted": [x["kind"] for x in orjson.loads(r["redacted"])] if r["redacted"] else [],
        })
    return {"id": c["id"], "title": c["title"], "provider": c["provider"], "created_at": _iso(c["created_at"]),
            "label": c["label"], "chatter_score": c["score"], "verdict": c["verdict"],
            "explained": explain(c["label"], c["score"], c["verdict"], threshold_of(c["signature"])),
            "lossy": bool(c["lossy"]),
            "modules": modules, "messages": messages}


@router.get("/modules")
def modules(request: Request, kind: str = Query("dialog", pattern="^(dialog|paper|all)$")) -> dict:
    with _store(request) as store:
        rows = listings.module_views(store, None if kind == "all" else kind)
    items = []
    for r in rows:
        m = orjson.loads(r.json)
        items.append({"id": r.id, "kind": r.kind, "title": m["title"], "language": r.language,
                      "phrase": m["phrase"], "meta_move": m["meta_move"], "concepts": m["concepts"],
                      "conversation_id": m["conversation_id"], "conversation_title": r.conversation_title,
                      "problem": (m.get("paper") or {}).get("problem")} | _quality(r))
    return {"items": items}


def _quality(row: listings.ModuleView) -> dict:
    """The module's last quality score (distill/quality.py); None where it was never scored (papers)."""
    if row.score is None:
        return {"score": None, "flagged": False, "flag_reasons": []}
    return {"score": row.score, "flagged": bool(row.flagged), "flag_reasons": json.loads(row.reasons)}


@router.get("/modules/{module_id}")
def module(module_id: str, request: Request) -> dict:
    with _store(request) as store:
        rows = listings.module_views(store, module_id=module_id)
    if not rows:
        raise HTTPException(404, f"no module {module_id!r}")
    return orjson.loads(rows[0].json) | {"conversation_title": rows[0].conversation_title} | _quality(rows[0])


@router.get("/graph")
def graph(request: Request) -> dict:
    """The concept graph as an adjacency list: communities of concepts, each concept with its co-occurring
    neighbours (by weight) and the modules naming it."""
    from ..memory.graph import graph_json

    with _store(request) as store:
        g = graph_json(store)
    concepts = {n["id"]: {"id": n["id"], "label": n["label"], "modules": n["modules"], "community": n["community"],
                          "neighbours": [], "module_ids": []}
                for n in g["nodes"] if n["type"] == "concept"}
    titles = {n["id"]: n["label"] for n in g["nodes"] if n["type"] == "module"}
    for e in g["edges"]:
        a, b = e["source"], e["target"]
        if e["kind"] == "co-occurs":
            concepts[a]["neighbours"].append({"id": b, "weight": e["weight"]})
            concepts[b]["neighbours"].append({"id": a, "weight": e["weight"]})
        else:
            c, mod = (a, b) if a in concepts else (b, a)
            concepts[c]["module_ids"].append({"id": mod.removeprefix("module:"), "title": titles.get(mod, "")})
    for c in concepts.values():
        c["neighbours"].sort(key=lambda x: (-x["weight"], x["id"]))
    # a community is named by its most-named concepts (graph_json lists them most-named first)
    communities = [cm | {"name": " · ".join(concepts[c]["label"] for c in cm["concepts"][:COMMUNITY_NAME_CONCEPTS])}
                   for cm in g["communities"]]
    ranked = sorted(concepts.values(), key=lambda c: (-c["modules"], c["id"]))
    drawn = {c["id"] for c in ranked[:GRAPH_MAX_NODES]}
    edges = [{"source": e["source"], "target": e["target"], "weight": e["weight"]} for e in g["edges"]
             if e["kind"] == "co-occurs" and e["source"] in drawn and e["target"] in drawn]
    return {"stats": g["stats"], "communities": communities, "concepts": ranked,
            "drawn": {"nodes": len(drawn), "edges": edges}}


@router.get("/funnel")
def funnel(request: Request) -> dict:
    from ..clean.funnel import funnel as clean_funnel

    with _store(request) as store:
        steps = clean_funnel(store)
        reasons = listings.clean_reasons(store)
    return {"steps": steps, "reasons": reasons}


@router.get("/persona")
def persona_card(request: Request) -> dict:
    from ..store import persona_card as persona

    with _store(request) as store:
        path = persona.persona_path(store)
        if not path.exists():
            return {"exists": False, "markdown": "", "data": None, "edited": [], "system_prompt": None}
        text = path.read_text(encoding="utf-8")
        return {"exists": True, "markdown": text, "html": to_html(_persona_markdown(text)),
                "data": persona.read_data(store), "edited": persona.edited_sections(text),
                "system_prompt": persona.system_prompt(store)}


_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)
_QUOTE_SOURCE = re.compile(r"conversation `([^`\s]+)`, message `([^`\s]+)`")


def _persona_markdown(text: str) -> str:
    """The card as a reader sees it: no markers or comments, no machine-readable data block, and each quote's
    source a link to the message it came from."""
    from ..store import persona_card as persona

    parts = []
    for seg in persona.parse(text):
        if seg[0] == "section" and seg[1] == "data":
            continue
        parts.append(seg[1] if seg[0] == "text" else seg[3])
    body = _COMMENT.sub("", "\n".join(parts))
    body = re.sub(r"^# Persona card[ \t]*$", "", body, count=1, flags=re.M)  # the page has its own title
    return _QUOTE_SOURCE.sub(lambda m: f"[open the message](#/c/{quote(m[1], safe='')}?m={quote(m[2], safe='')})",
                             body)


class MarkdownIn(BaseModel):
    text: str = Field(max_length=MAX_CHARS)


@router.post("/markdown")
def markdown(body: MarkdownIn) -> dict:
    """A chat answer (or any markdown) as sanitised HTML: raw HTML in it stays text."""
    return {"html": to_html(body.text)}


@router.get("/examples")
def examples(request: Request) -> dict:
    """Questions a first-time user can ask: about the persona card's recurring themes, else the newest modules'
    titles."""
    from ..store import persona_card as persona

    with _store(request) as store:
        data = persona.read_data(store) or {}
        titles = listings.recent_module_titles(store, EXAMPLE_QUESTIONS)
    out = [_theme_question(t["theme"]) for t in (data.get("themes") or [])[:EXAMPLE_QUESTIONS]]
    for title in titles:
        if len(out) >= EXAMPLE_QUESTIONS:
            break
        cyrillic = _CYRILLIC.search(title)
        out.append(f"Что я решил в «{title}»?" if cyrillic else f"What did I conclude in “{title}”?")
    return {"items": list(dict.fromkeys(out))}


_CYRILLIC = re.compile(r"[а-яё]", re.I)


def _theme_question(theme: str) -> str:
    return f"Что я думал о теме «{theme}»?" if _CYRILLIC.search(theme) else f"What did I think about {theme}?"


def _reports(workspace: Path) -> list[dict]:
    folder = Workspace(workspace).reports
    out = []
    for index in sorted(folder.glob("eval-*/index.html"), key=lambda p: p.stat().st_mtime, reverse=True):
        name = index.parent.name
        summary = None
        f = index.parent / "report.json"
        if f.is_file():
            try:
                data = json.loads(f.read_text(encoding="utf-8"))
                summary = _report_summary(data) if isinstance(data, dict) else None
            except (OSError, ValueError, TypeError, KeyError, AttributeError):
                summary = None  # a report from another version: the list still links it
        out.append({"name": name, "url": f"/reports/{quote(name)}/index.html",
                    "modified": _iso(index.stat().st_mtime), "summary": summary})
    return out


def _report_summary(run: dict) -> dict:
    """The few lines of an eval run a reader wants before opening it: what was compared, on how many probes, and
    whether each adapter changed anything."""
    lines: dict[str, str] = {}
    for c in run.get("active") or []:
        lines[f"{c['model']} vs base"] = (
            f"{c['outputs_differ']} of {c['outputs_compared']} answers differ" if c.get("active")
            else "no change: the adapter gives the base's outputs")
    failures = run.get("failures") or []
    lines["failure modes flagged"] = str(len(failures))
    if run.get("seconds") is not None:
        lines["run time"] = f"{float(run['seconds']):.0f} s"
    return {"models": [m["name"] for m in run.get("models") or []], "probes": len(run.get("probes") or []),
            "metrics": lines}


@router.get("/reports")
def reports(request: Request) -> dict:
    return {"items": _reports(request.app.state.twin.workspace)}


@router.get("/search")
def search(request: Request, q: str = Query(..., min_length=1, max_length=4000),
           k: int = Query(8, ge=1, le=50), mode: str = Query("hybrid", pattern="^(hybrid|bm25|dense)$")) -> dict:
    from ..memory.search import search as memory_search

    with _store(request) as store:
        try:
            hits = memory_search(store, q, k=k, mode=mode)
        except TwinforgeError as e:
            raise HTTPException(400, str(e)) from e
    return {"items": [h.as_dict() | {"date": _iso(h.date)} for h in hits]}
