"""Citation and private-use markers that chat exports leave inside message text."""

from __future__ import annotations

import re

# 【12†source】, 【3:0†file.pdf】 — old browsing/file-search citations.
_BRACKET_CITE = re.compile(r"【\d+(?::\d+)?†[^】]{0,200}】")
# \ue200cite\ue202turn0search3\ue201 — 2025 citations; the whole marker goes.
_PUA_CITE = re.compile(r"\ue200[^\ue201]{0,300}\ue201")
# Any stray private-use delimiter left over (U+E200–U+E206 and friends).
_PUA = re.compile(r"[\ue200-\ue2ff]")
# The delimiters seen in real exports: `in` tests for them are far cheaper than a regex scan of every message.
_PUA_SEEN = tuple(chr(c) for c in range(0xE200, 0xE207))


def strip_citations(text: str) -> str:
    if "【" in text:
        text = _BRACKET_CITE.sub("", text)
    if not text.isascii() and any(c in text for c in _PUA_SEEN) and _PUA.search(text):
        text = _PUA_CITE.sub("", text)
        text = _PUA.sub("", text)
    return text
