"""Repair UTF-8 text that was decoded as Mac Roman (the Nexus seeds) or as cp1252/latin-1, run by run.

formats.md §1.10: ASCII markup survives double-encoding, so we repair only maximal runs of characters that a
Mac Roman (or cp1252) decode could have produced, and keep a repair only when the run's bytes are valid UTF-8.
A legitimate 'café' does not decode and is kept as written.

cp1252 leaves five bytes undefined (0x81 0x8D 0x8F 0x90 0x9D), and Russian UTF-8 is full of them ("с" is D1 81,
"я" D1 8F, "Ё" D0 81). Decoders that produced such mojibake kept those bytes as the control characters U+0081 …,
so the cp1252 reading here is the "sloppy" one (as ftfy's): an undefined byte stands for itself. tests check
the repair against ftfy on a corpus garbled both ways.
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


# sloppy cp1252: the byte each of its high characters came from, the five undefined bytes as themselves
_CP1252_BYTE = {ch: b for b, ch in zip(range(0x80, 0x100), _CP1252_HIGH, strict=True)}


def _encode(s: str, codec: str) -> bytes | None:
    if codec == "mac_roman":
        try:
            return s.encode("mac_roman")
        except UnicodeEncodeError:
            return None
    out = bytearray()
    for ch in s:
        b = ord(ch) if ch < "\x80" else _CP1252_BYTE.get(ch)
        if b is None:
            return None
        out.append(b)
    return bytes(out)


def _decode(s: str) -> str | None:
    """The best UTF-8 reading of a run's bytes under Mac Roman or sloppy cp1252, or None if neither decodes."""
    best = None
    for codec in _CODECS:
        raw = _encode(s, codec)
        if raw is None:
            continue
        try:
            cand = raw.decode("utf-8")
        except UnicodeDecodeError:
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
    """Return (repaired text, whether it was repaired). Only a real repair counts: the text changed and no
    mojibake is left in it; a text still suspect after the repair is returned as it came."""
    if not suspect(text):
        return text, False
    fixed = _fix_runs(text)
    if fixed == text or suspect(fixed):
        return text, False
    return fixed, True
