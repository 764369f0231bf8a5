"""What the answer metrics see: one generated answer with its probe's language and concepts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Answer:
    text: str
    language: str = "und"  # the probe's
    concepts: list[str] = field(default_factory=list)  # the probe's

    @property
    def words(self) -> list[str]:
        return [w.lower() for w in _WORD.findall(self.text)]


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]
