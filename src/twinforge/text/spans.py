"""Spans of a text that a cleaner removes or replaces; one shape for boilerplate and for redaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    start: int  # offsets into the text the finder was given
    end: int
    kind: str  # boilerplate: opener / closing / praise / decoration; secrets: openai_key / email / phone ...
    replacement: str = ""  # "" removes the span; "<EMAIL>" replaces it


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, non-overlapping spans: of two overlapping spans the earlier (then longer) one wins."""
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if out and s.start < out[-1].end:
            continue
        out.append(s)
    return out


def apply(text: str, spans: Iterable[Span]) -> str:
    """The text with each span replaced by its replacement."""
    parts, pos = [], 0
    for s in merge(spans):
        parts.append(text[pos : s.start])
        parts.append(s.replacement)
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts)
