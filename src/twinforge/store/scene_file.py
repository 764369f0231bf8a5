"""A module's YAML scene file, `<ws>/modules/<id>.yaml`: the module as YAML under a header line carrying a hash of
what was generated, so a person's edit is seen and kept (as the persona card keeps edited sections).

distill writes these files and `twinforge train --scene` reads them; both stages go through here. A file whose
body no longer matches its header's sha was edited: a re-distill leaves it alone and says so. A file without the
sha line counts as edited too (distill/export.py first checks whether it is simply an older twinforge's
rendering of the same module, and upgrades that one).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import yaml

_SHA_LINE = re.compile(r"^# twinforge:scene sha=([0-9a-f]{12})\b.*$\n?", re.MULTILINE)
_EDIT_NOTE = ("edit freely: a re-distill keeps your version of this file (its text no longer matches this sha); "
              "train it alone with `twinforge train --scene THIS_FILE`")


def body_sha(body: str) -> str:
    """The hash of the YAML body, blind to trailing spaces and the final newline (editors change those)."""
    norm = "\n".join(line.rstrip() for line in body.strip().splitlines())
    return hashlib.sha256(norm.encode()).hexdigest()[:12]


def render(data: dict, title_line: str) -> str:
    """The file's text: a title comment, the sha line, then the module as YAML in field order."""
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    return f"# {title_line}\n# twinforge:scene sha={body_sha(body)} — {_EDIT_NOTE}\n{body}"


def recorded_sha(text: str) -> str | None:
    m = _SHA_LINE.search(text)
    return m.group(1) if m else None


def body_of(text: str) -> str:
    """The YAML without the title comment and the sha line."""
    rest = _SHA_LINE.sub("", text, count=1)
    lines = rest.splitlines(keepends=True)
    if lines and lines[0].startswith("# One YAML scene"):
        lines = lines[1:]
    return "".join(lines)


def edited(path: Path) -> bool:
    """Whether the file at `path` holds a person's edit: it exists and its body does not match its sha (or it
    has no sha line at all)."""
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    sha = recorded_sha(text)
    return sha is None or body_sha(body_of(text)) != sha
