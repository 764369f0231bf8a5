"""Repair UTF-8 text that was decoded as Mac Roman (the Nexus seeds) or as cp1252/latin-1, run by run.

formats.md §1.10: ASCII markup survives double-encoding, so we repair only maximal runs of characters that a
Mac Roman (or cp1252) decode could have produced, and keep a repair only when the run's bytes are valid UTF-8.
A legitimate 'café' does not decode and is kept as written.
"""

from __future__ import annotations

import re
import unicodedata

# The 128 characters Mac Roman maps bytes 0x80..0xFF to (U+F8FF is the Apple logo, byte 0xF0).
_MAC_HIGH = bytes(range(0x80, 0x100)).decode("mac_roman")
_CP1252_HIGH = "".join(
    bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0x100)
)


def _run_pattern(high: str) -> re.Pattern[str]:
    cls = re.escape(high)
    # A run: ASCII and high chars, containing at least one high char. Newlines end a run (cheaper, and safe).
    return re.compile(f"[\\x20-\\x7e{cls}]*[{cls}][\\x20-\\x7e{cls}]*")


# One pattern for both codecs: a run of ASCII and high chars holding at least one high char.
_RUN = _run_pattern("".join(sorted(set(_MAC_HIGH) | set(_CP1252_HIGH))))
_CODECS = ("mac_roman", "cp1252")


def _badness(s: str) -> int:
    """How implausible a decoded string is: combining marks, controls, private use and unassigned chars."""
    return sum(1 for ch in s if unicodedata.category(ch) in ("Mn", "Cc", "Co", "Cn") and ch not in "\t\n\r")


def _decode(s: str) -> str | None:
    """The best UTF-8 reading of a run's bytes under Mac Roman or cp1252, or None if neither decodes."""
    best = None
    for codec in _CODECS:
        try:
            cand = s.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if best is None or _badness(cand) < _badness(best):
            best = cand
    return best


def _fix_runs(text: str) -> str:
    def fix(m: re.Match[str]) -> str:
        s = m.group(0)
        whole = _decode(s)
        if whole is not None:
            return whole
        # A run can mix repairable words with genuine accented ones: retry word by word.
        return "".join(_decode(p) or p for p in re.split(r"(\s+)", s))

    return _RUN.sub(fix, text)


# A misdecoded multi-byte UTF-8 char starts with what its lead byte (0xC2..0xF4) became, followed by another
# high char. Looking for those leads with `str.find` is several times faster than a regex scan, which matters
# on gigabytes of clean text; only a hit runs the full repair.
_LEADS = tuple(
    sorted(set(bytes(range(0xC2, 0xF5)).decode("mac_roman")) | set(_CP1252_HIGH[0xC2 - 0x80 : 0xF5 - 0x80]))
)
_HIGH = frozenset(_MAC_HIGH) | frozenset(_CP1252_HIGH)


def suspect(text: str) -> bool:
    """True when the text may hold mojibake: a lead char directly followed by a high char."""
    if text.isascii():
        return False
    for lead in _LEADS:
        i = text.find(lead)
        while i != -1:
            if text[i + 1 : i + 2] in _HIGH:
                return True
            i = text.find(lead, i + 1)
    return False


def repair(text: str) -> tuple[str, bool]:
    """Return (repaired text, whether anything changed)."""
    if not suspect(text):
        return text, False
    fixed = _fix_runs(text)
    return fixed, fixed != text
