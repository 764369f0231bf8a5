"""The answer `ask` gives when no model writes one (the extractive backend): a digest of the evidence.

No model reads the question, so nothing here pretends to answer it. Each source found contributes its one
sentence closest to the question, quoted as written and cited [n]: a module its one-line gist (not its concept
list or meta-move label, which read as noise inside prose), a message the sentence sharing most words with the
question. Code, YAML-like `key: value` lines, bare lists of words and sentences already quoted are skipped, so the
digest reads as a short list of real sentences, each one traceable to where it came from.
"""

from __future__ import annotations

import re

from ..text.stemming import stems

MAX_POINTS = 5
MAX_SENTENCE_CHARS = 300
MIN_WORDS = 4

_HEAD = {
    "ru": "Выдержки из памяти — ближайшие к вопросу фразы из архива, дословно (модель не запускалась):",
    "en": "From your memory — the sentences in your archive closest to the question, quoted as written (no model "
          "was run):",
}
_MODULE = {"ru": "модуль мышления", "en": "thinking module"}
_PAPER = {"ru": "конспект статьи", "en": "paper digest"}

_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_SENTENCE = re.compile(r"(?<=[.!?…])[\"'»”)\]]*\s+|\n+")
_KEY_VALUE = re.compile(r"^\s*[\w.\-\"']{1,40}\s*:\s*(\S|$)")  # `meta_move: inversion`, `"name": …`
_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|[-*+•>]\s+|\d+[.)]\s+)+|\*\*|__|`")
_LETTER = re.compile(r"[^\W\d_]")
_WORD = re.compile(r"[^\W\d_]+")


_EMPHASIS = re.compile(r"(?<![\w*])[*_](\S[^*_\n]*?)[*_](?![\w*])")  # *word* / _word_ → word


def _clean(sentence: str) -> str:
    return " ".join(_EMPHASIS.sub(r"\1", _MARKUP.sub("", sentence)).split()).strip()


def _readable(sentence: str) -> bool:
    """A sentence a reader can take as prose: enough words, mostly letters, not code, data or a word list."""
    if len(_WORD.findall(sentence)) < MIN_WORDS or len(sentence) > MAX_SENTENCE_CHARS:
        return False
    if _KEY_VALUE.match(sentence) or sentence.count(";") >= 2 or sentence.count("|") >= 2:
        return False
    letters = len(_LETTER.findall(sentence))
    return letters >= 0.6 * len(sentence.replace(" ", ""))


def sentences(text: str) -> list[str]:
    out = []
    for piece in _SENTENCE.split(_CODE_FENCE.sub("\n", text)):
        s = _clean(piece)
        if s and _readable(s):
            out.append(s)
    return out


CODE_ONLY = "(code or structured data only: open the message to read it)"
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|?\s*$")


def preview(text: str, kind: str, limit: int) -> str:
    """What a source says, for a person to read in a source list: a module's gist line; a message's prose with
    markdown markers, code blocks, table rules and `key: value` data lines left out (an ellipsis marks a gap)."""
    if kind in ("module", "paper"):
        lines = [_clean(text.split("\n", 1)[0])]
    else:
        lines = []
        for line in _CODE_FENCE.sub("\n…\n", text).splitlines():
            if _TABLE_RULE.match(line) or _KEY_VALUE.match(_MARKUP.sub("", line)):
                line = "…"
            line = _clean(line.replace("|", " "))
            if line and not (line == "…" and lines and lines[-1] == "…"):
                lines.append(line)
        while lines and lines[0] == "…":
            lines.pop(0)
    out = " ".join(lines).strip()
    if not out or out == "…":
        return CODE_ONLY
    return out if len(out) <= limit else out[:limit].rsplit(" ", 1)[0] + "…"


def _key(sentence: str) -> str:
    return " ".join(_WORD.findall(sentence.lower()))


def best_sentence(text: str, kind: str, question_stems: set[str], used: set[str]) -> str | None:
    """The source's sentence closest to the question that is not quoted yet; a module's or digest's gist line
    comes first (it is what the module is about)."""
    if kind in ("module", "paper"):
        gist = _clean(text.split("\n", 1)[0])
        if gist and _readable(gist) and _key(gist) not in used:
            return gist
    best, best_score = None, -1.0
    for i, s in enumerate(sentences(text)):
        if _key(s) in used:
            continue
        overlap = len(question_stems & set(stems(s)))
        score = overlap - 0.01 * i  # ties go to the earlier sentence
        if score > best_score:
            best, best_score = s, score
    return best


def digest(question: str, language: str, evidence: list[tuple[int, str, str, str]]) -> str:
    """`evidence`: (n, kind, title, full text) per source, best first. A markdown list, one quoted sentence per
    source, each cited [n]; sources with nothing readable or only repeats are left out."""
    lang = "ru" if language == "ru" else "en"
    q = set(stems(question))
    used: set[str] = set()
    points = []
    for n, kind, title, text in evidence:
        s = best_sentence(text, kind, q, used)
        if s is None:
            continue
        used.add(_key(s))
        where = {"module": _MODULE, "paper": _PAPER}.get(kind)
        origin = f"{where[lang]}, «{title}»" if where else f"«{title}»"
        points.append(f"- {s} ({origin}) [{n}]")
        if len(points) >= MAX_POINTS:
            break
    if not points:  # every source was code or data: say so rather than splice it into prose
        nums = ", ".join(f"[{n}]" for n, *_ in evidence)
        return ("В найденных источниках нет связного текста, только код или данные: " if lang == "ru" else
                "The sources found hold no prose to quote, only code or data: ") + nums
    return _HEAD[lang] + "\n\n" + "\n".join(points)
