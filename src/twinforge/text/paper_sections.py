"""The section lines that mark a paper: ingest recognises a paper by them, distill cuts its abstract and its
references with them. "Abstract" may run on into its text ("Abstract. We study…"), so it only needs punctuation or
the line's end after it; "References" stands alone on its line."""

from __future__ import annotations

import re

_LEAD = r"^[ \t]*(?:#{1,6}[ \t]+)?(?:\*\*|__)?[ \t]*(?:\d+\.?[ \t]+)?"
ABSTRACT = re.compile(_LEAD + r"(?:abstract|аннотация|реферат)[ \t]*(?:\*\*|__)?[ \t]*(?:[.:—–-]|$)",
                      re.IGNORECASE | re.MULTILINE)
REFERENCES = re.compile(
    _LEAD + r"(?:references|bibliography|works cited|литература|список литературы|список источников"
    r"|библиография|библиографический список)[ \t]*(?:\*\*|__)?[ \t]*:?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
