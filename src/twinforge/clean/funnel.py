"""The funnel: how much is left after each clean step, in conversations, messages, characters, pages, tokens.

Every step is computed from the same per-message verdicts, so each step's loss is exactly the difference to the
step before: the counts reconcile by construction (and a test checks they do).
"""

from __future__ import annotations

from html import escape

from ..records import PAGE_CHARS
from ..store import Store
from ..volume import TOKENS, UNCOUNTED_JOIN, count_uncounted
from .run import CHATTER, DROPPED, DUPLICATE, EMPTY, NEAR_DUPLICATE, STRUCTURAL

# (step name, what it removed, SQL condition on c = clean_messages for messages still in, chars col, tokens col)
_IN_DIALOG = f"c.reason NOT IN ({', '.join(repr(r) for r in STRUCTURAL)})"
_NO_CHATTER = f"{_IN_DIALOG} AND c.reason NOT IN ('{CHATTER}', '{DROPPED}')"
_NO_EMPTY = f"{_NO_CHATTER} AND c.reason != '{EMPTY}'"
_NO_DUPES = f"{_NO_EMPTY} AND c.reason NOT IN ('{DUPLICATE}', '{NEAR_DUPLICATE}')"
STEPS = (
    ("raw", "", "1", "m.chars", TOKENS),
    ("dialog only", "hidden, system, tool, reasoning, memory and other branches", _IN_DIALOG, "m.chars", TOKENS),
    ("without chatter", "everyday-chatter conversations (and your drops)", _NO_CHATTER, "m.chars", TOKENS),
    ("without boilerplate", "flattery, closing offers, decoration", _NO_EMPTY, "c.chars_stripped",
     f"coalesce(c.tokens_stripped, {TOKENS})"),
    ("deduplicated", "exact and near-duplicate messages", _NO_DUPES, "c.chars_stripped",
     f"coalesce(c.tokens_stripped, {TOKENS})"),
    ("redacted", "secrets and personal data replaced by placeholders", _NO_DUPES, "c.chars",
     f"coalesce(c.tokens, c.tokens_stripped, {TOKENS})"),
)


def funnel(store: Store, progress: bool = False) -> list[dict]:
    """One dict per step: step, removed (what the step takes out), conversations, messages, characters, pages,
    tokens. Empty when clean has not run."""
    if not store.has_cleaned():
        return []
    count_uncounted(store, progress)  # read only: clean cached the counts; this covers messages since
    out = []
    for name, removed, cond, chars, tokens in STEPS:
        row = store.db.execute(
            f"SELECT count(DISTINCT c.conversation_id), count(*), coalesce(sum({chars}), 0),"
            f" coalesce(sum({tokens}), 0) FROM clean_messages c JOIN messages m ON m.id = c.message_id"
            f" {UNCOUNTED_JOIN} WHERE {cond}"
        ).fetchone()
        out.append({
            "step": name, "removed": removed, "conversations": row[0], "messages": row[1], "characters": row[2],
            "pages": round(row[2] / PAGE_CHARS, 1), "tokens": row[3],
        })
    return out


def funnel_html(steps: list[dict], title: str = "twinforge funnel") -> str:
    """A self-contained HTML page with the funnel as horizontal bars (pages) and the full table."""
    top = max((s["pages"] for s in steps), default=0) or 1
    bars = []
    for i, s in enumerate(steps):
        w = 640 * s["pages"] / top
        y = 10 + i * 34
        bars.append(
            f'<rect x="180" y="{y}" width="{w:.1f}" height="24" fill="#4a7bd0"/>'
            f'<text x="170" y="{y + 17}" text-anchor="end">{escape(s["step"])}</text>'
            f'<text x="{186 + w:.1f}" y="{y + 17}">{s["pages"]:,} pages</text>'
        )
    rows = "".join(
        f"<tr><td>{escape(s['step'])}</td><td>{s['conversations']:,}</td><td>{s['messages']:,}</td>"
        f"<td>{s['characters']:,}</td><td>{s['pages']:,}</td><td>{s['tokens']:,}</td>"
        f"<td>{escape(s['removed'])}</td></tr>"
        for s in steps
    )
    height = 20 + 34 * len(steps)
    return (
        f"<!doctype html><meta charset='utf-8'><title>{escape(title)}</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:2em}td,th{padding:4px 10px;text-align:right}"
        "td:first-child,td:last-child,th:first-child,th:last-child{text-align:left}table{border-collapse:collapse}"
        "tr:nth-child(even){background:#f3f3f3}svg text{font:13px system-ui,sans-serif}</style>"
        f"<h1>{escape(title)}</h1><p>1 A4 page = {PAGE_CHARS:,} characters; tokens in Qwen's tokenizer.</p>"
        f"<svg width='960' height='{height}'>{''.join(bars)}</svg>"
        "<table><tr><th>step</th><th>conversations</th><th>messages</th><th>characters</th><th>pages</th>"
        f"<th>tokens</th><th>removed by this step</th></tr>{rows}</table>"
    )
