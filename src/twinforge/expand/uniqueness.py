"""How much of the expanded text is distinct: the honest counterpart of the expansion ratio.

Views reuse the module's fields and the person's words in many framings, and extra wordings repeat an answer;
that adds pages, not content. Distinct text is estimated from word 8-grams: the share of 8-grams never seen
before, times the characters. 8-grams are sampled by a stable hash (1 in SAMPLE, the same ones everywhere, so a
repeat is always recognised) to keep memory small on archives of tens of thousands of pages.
"""

from __future__ import annotations

import re
import zlib

N = 8
SAMPLE = 8
_WORD = re.compile(r"\w+")


def _keys(text: str) -> list[int]:
    words = _WORD.findall(text.casefold())
    if len(words) < N:  # a short text is one unit: it repeats only as a whole
        grams = [" ".join(words)] if words else []
    else:
        grams = [" ".join(words[i:i + N]) for i in range(len(words) - N + 1)]
    keys = [zlib.crc32(g.encode("utf-8", "surrogatepass")) for g in grams]
    return [k for k in keys if k % SAMPLE == 0]


class Distinct:
    """Feed texts in a fixed order; `chars` estimates how many of their characters were new when fed."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.total = 0  # sampled 8-grams fed
        self.new = 0  # of them, first seen
        self.fed_chars = 0

    def add(self, text: str) -> None:
        self.fed_chars += len(text)
        for k in _keys(text):
            self.total += 1
            if k not in self.seen:
                self.seen.add(k)
                self.new += 1

    @property
    def share(self) -> float:
        return self.new / self.total if self.total else 1.0

    @property
    def chars(self) -> int:
        return round(self.fed_chars * self.share)
