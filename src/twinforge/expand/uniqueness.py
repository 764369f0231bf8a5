"""Unique pages: how much distinct content the expanded text holds, the honest counterpart of pages out.

The one definition twinforge uses (expand's report, `dataset`'s stats, the volume planner):

    unique pages out = pages in × (distinct word 5-grams of the output, template frame text removed)
                                 ÷ (distinct word 5-grams of the input dialogs)

Why word 5-grams counted once (shingles), rather than characters after MinHash near-duplicate removal: counting
each shingle once *is* near-duplicate removal at the finest grain — a reworded question that shares most of its
5-grams with an earlier one adds only its new ones, an answer reused by three views counts once, with no
similarity threshold to tune and no whole-example keep/drop decision. 5 words is short enough that a paraphrase
which really changes the words shows up as new, long enough that common phrases ("what do you think about")
rarely collide across unrelated texts. Input and output are measured the same way, so the ratio compares like
with like; pages in are the source dialogs' kept characters (1 page = 1,800), so a unique ratio of 1.0 means
"as much distinct text as the dialogs themselves".

Template frame text (the views' question wordings and answer labels from templates/<lang>.yaml) is cut out
before shingling, and shingles never cross a cut: the frame is the same in every example, it is not content.

Counts are exact up to EXACT_LIMIT distinct 5-grams (a few hundred pages); past it, to keep memory small on
archives of tens of thousands of pages, only 5-grams whose stable hash falls in 1 of SAMPLE buckets are kept
(the same ones everywhere, so a repeat is always recognised) and the count is scaled up: an unbiased estimate,
within a fraction of a per cent at that size.
"""

from __future__ import annotations

import re
import zlib
from functools import cache

N = 5
SAMPLE = 8
EXACT_LIMIT = 200_000
_WORD = re.compile(r"\w+")
_FIELD = re.compile(r"\{[^{}]*\}")
_CUT = "\x00"


def _grams(words: list[str]) -> list[str]:
    if len(words) < N:  # a short piece is one unit: it repeats only as a whole
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + N]) for i in range(len(words) - N + 1)]


def keys(text: str, frame: re.Pattern | None = None) -> list[int]:
    """The 5-gram hashes of a text, with the frame's literal pieces cut out first (no 5-gram crosses a cut)."""
    pieces = frame.sub(_CUT, text).split(_CUT) if frame is not None else [text]
    return [zlib.crc32(g.encode("utf-8", "surrogatepass"))
            for piece in pieces for g in _grams(_WORD.findall(piece.casefold()))]


def _literals(node) -> list[str]:
    """Every literal piece of template text: the strings' parts between their {fields} (regex patterns skipped)."""
    if isinstance(node, str):
        return [p for p in _FIELD.split(node) if p.strip()]
    if isinstance(node, dict):
        return [s for k, v in node.items() if k != "patterns" for s in _literals(v)]
    if isinstance(node, list):
        return [s for v in node for s in _literals(v)]
    return []


def frame_pattern(template_data: list[dict]) -> re.Pattern | None:
    """A regex matching the literal frame text of these templates. A piece is frame when it has two words or
    more, or is a label ("Claim: "): a lone word could be the person's own, and cutting it would hide content."""
    pieces = set()
    for data in template_data:
        for lit in _literals(data):
            lit = lit.strip()
            if len(_WORD.findall(lit)) >= 2 or (":" in lit and _WORD.search(lit)):
                pieces.add(lit)
    if not pieces:
        return None
    return re.compile("|".join(re.escape(p) for p in sorted(pieces, key=len, reverse=True)), re.IGNORECASE)


@cache
def template_frame() -> re.Pattern | None:
    """The frame of every bundled template language (a module's frame may come from the fallback language)."""
    from . import templates

    return frame_pattern([templates.load(code).data for code in templates.available()])


class Distinct:
    """Distinct 5-grams of the texts fed to it (frame cut out); `count` estimates how many there are."""

    def __init__(self, frame: re.Pattern | None = None, exact_limit: int = EXACT_LIMIT) -> None:
        self.frame = frame
        self.exact_limit = exact_limit
        self.sample = 1  # 1: every 5-gram kept (exact); SAMPLE once past exact_limit
        self.seen: set[int] = set()
        self.fed_chars = 0

    def add(self, text: str) -> None:
        self.fed_chars += len(text)
        ks = keys(text, self.frame)
        self.seen.update(ks if self.sample == 1 else (k for k in ks if k % self.sample == 0))
        if self.sample == 1 and len(self.seen) > self.exact_limit:
            self.sample = SAMPLE
            self.seen = {k for k in self.seen if k % SAMPLE == 0}

    @property
    def count(self) -> int:
        return len(self.seen) * self.sample


def unique_pages(out: Distinct, inp: Distinct, pages_in: float) -> float | None:
    """Pages in × distinct output 5-grams ÷ distinct input 5-grams (None when the input has none)."""
    if not inp.count:
        return None
    return round(pages_in * out.count / inp.count, 2)
