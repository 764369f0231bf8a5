"""Double-encode a UTF-8 text the way our user's Nexus notes are: UTF-8 bytes read as Mac Roman, saved as UTF-8.

    python make_mojibake.py SRC.md DST.md      # or import mojibake() (build.py does)

Undo: text.encode("mac_roman").decode("utf-8").
"""

import sys


def mojibake(text: str) -> str:
    return text.encode("utf-8").decode("mac_roman")


if __name__ == "__main__":
    src, dst = sys.argv[1:3]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    with open(dst, "w", encoding="utf-8", newline="") as f:
        f.write(mojibake(text))
