"""Word-level diff of an answer against the base's answer, as escaped HTML: words the model added in <ins>,
words of the base it dropped in <del>, the rest as is."""

from __future__ import annotations

import difflib
import html
import re

_TOKEN = re.compile(r"\s+|[^\s]+")


def word_diff(base: str, other: str) -> list[tuple[str, str]]:
    """[(op, text)] with op in equal | insert | delete; whitespace is a token of its own so text round-trips."""
    a, b = _TOKEN.findall(base), _TOKEN.findall(other)
    out: list[tuple[str, str]] = []
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            out.append(("equal", "".join(b[j1:j2])))
        else:
            if i2 > i1:
                out.append(("delete", "".join(a[i1:i2])))
            if j2 > j1:
                out.append(("insert", "".join(b[j1:j2])))
    return out


def diff_html(base: str, other: str) -> str:
    tags = {"equal": "{}", "insert": "<ins>{}</ins>", "delete": "<del>{}</del>"}
    return "".join(tags[op].format(html.escape(text)) for op, text in word_diff(base, other))


def changed_share(base: str, other: str) -> float:
    """Share of the answer's words that are not in the base's answer (0: same, 1: all new)."""
    ops = word_diff(base, other)
    new = sum(len(t.split()) for op, t in ops if op == "insert")
    total = sum(len(t.split()) for op, t in ops if op in ("insert", "equal"))
    return new / total if total else 0.0
