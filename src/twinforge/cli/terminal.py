"""What the CLI prints is stripped of terminal control sequences: titles, message texts and file names come from
imported exports, and an escape sequence in them would act on the reader's terminal (set the window title, clear
the screen, plant an OSC 8 link). The store keeps the text as imported; only the printed copy is cleaned.

The CLI emits no colours of its own, so everything written to stdout and stderr while a command runs goes through
`safe` (`SafeStream`), including JSON output (whose control characters are escaped already, C1 ones aside).
"""

from __future__ import annotations

import re

_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, screen clears, colours
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC: window title, OSC 8 links (to BEL or ST, or the end)
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC strings
    r"|\x1b[ -/]*[0-~]?"  # other escapes (and a lone ESC)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x9c\x1b]*(?:\x07|\x9c)?"  # 8-bit OSC/DCS/SOS/PM/APC strings
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # keeps \t \n (and \r, handled apart)


def safe(text: str, keep_cr: bool = False) -> str:
    """`text` without terminal control sequences or control characters; tabs and newlines stay. A carriage
    return could overwrite a line with another, so it goes too (a CRLF becomes a newline), unless `keep_cr`
    (progress bars redraw their line with it)."""
    text = _CONTROLS.sub("", _SEQUENCES.sub("", text))
    if not keep_cr:
        text = text.replace("\r\n", "\n").replace("\r", "")
    return text


class SafeStream:
    """A text stream whose writes pass through `safe`; everything else is the wrapped stream's."""

    def __init__(self, stream, keep_cr: bool = False):
        self._stream = stream
        self._keep_cr = keep_cr

    def write(self, s):
        if not isinstance(s, str):  # bytes: let the text stream refuse them as it would
            return self._stream.write(s)
        return self._stream.write(safe(s, self._keep_cr))

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._stream, name)
