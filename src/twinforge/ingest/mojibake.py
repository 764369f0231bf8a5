"""Repair UTF-8 text that was decoded as Mac Roman (the Nexus seeds) or as cp1252/latin-1, run by run.

formats.md §1.10: ASCII markup survives double-encoding, so we repair only maximal runs of characters that a
Mac Roman (or cp1252) decode could have produced, and keep a repair only when the run's bytes are valid UTF-8.
A legitimate 'café' does not decode and is kept as written.
"""

from __future__ import annotations

import re

# The 128 characters Mac Roman maps bytes 0x80..0xFF to (U+F8FF is the Apple logo, byte 0xF0).
_MAC_HIGH = bytes(range(0x80, 0x100)).decode("mac_roman")
_CP1252_HIGH = "".join(
    bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(0x80, 0x100)
)


def _run_pattern(high: str) -> re.Pattern[str]:
    cls = re.escape(high)
    # A run: ASCII and high chars, containing at least one high char. Newlines end a run (cheaper, and safe).
    return re.compile(f"[\\x20-\\x7e{cls}]*[{cls}][\\x20-\\x7e{cls}]*")


_MAC_RUN = _run_pattern(_MAC_HIGH)
_CP_RUN = _run_pattern(_CP1252_HIGH)
# Cheap test before any work: two consecutive high chars are how a multi-byte UTF-8 char looks misdecoded.
_MAC_SUSPECT = re.compile(f"[{re.escape(_MAC_HIGH)}]{{2}}")
_CP_SUSPECT = re.compile(f"[{re.escape(_CP1252_HIGH)}]{{2}}")


def _fix_runs(text: str, run: re.Pattern[str], codec: str) -> str:
    def fix(m: re.Match[str]) -> str:
        s = m.group(0)
        try:
            return s.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
        # A run can mix repairable words with genuine accented ones: retry word by word.
        parts = re.split(r"(\s+)", s)
        if len(parts) == 1:
            return s
        out = []
        for p in parts:
            try:
                out.append(p.encode(codec).decode("utf-8"))
            except (UnicodeEncodeError, UnicodeDecodeError):
                out.append(p)
        return "".join(out)

    return run.sub(fix, text)


def repair(text: str) -> tuple[str, bool]:
    """Return (repaired text, whether anything changed)."""
    fixed = text
    if _MAC_SUSPECT.search(fixed):
        fixed = _fix_runs(fixed, _MAC_RUN, "mac_roman")
    if _CP_SUSPECT.search(fixed):
        fixed = _fix_runs(fixed, _CP_RUN, "cp1252")
    return fixed, fixed != text
