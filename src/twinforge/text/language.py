"""Language of a message: a script-and-stopword fast path, `py3langid` for the rest.

Most messages in our users' archives are plainly Russian or English; counting letters by script and a few
function words settles those at memory speed. Only mixed or other-language texts go to langid, on their first
600 characters (enough for a stable answer, and langid's cost grows with length).
"""

from __future__ import annotations

import re
from functools import lru_cache

UNDETERMINED = "und"
_CYR = re.compile(r"[а-яёА-ЯЁіїєґІЇЄҐўЎ]")
_UK_ONLY = re.compile(r"[іїєґІЇЄҐ]")
_LAT = re.compile(r"[A-Za-z]")
_WORD = re.compile(r"[A-Za-z']+")
_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_EN_FUNCTION = frozenset(
    "the a an and or of to in is are was were be been it this that for on with as at by from not you i we "
    "they he she do does did have has had can could would should will what how why which who".split()
)


# langid's 97 languages include many that short technical text gets mistaken for (Icelandic for Python code);
# our users write in these.
LANGUAGES = (
    "ru uk be bg sr kk en de fr es it pt nl pl cs sk sl hr ro hu fi sv da no et lv lt el tr he ar fa hi zh ja ko "
    "vi th id".split()
)


@lru_cache(maxsize=1)
def _langid():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE)
    ident.set_languages(LANGUAGES)
    return ident


def warm() -> None:
    """Load langid's model now (before worker processes fork, so they share it)."""
    _langid()


def detect(text: str) -> str:
    """ISO 639-1 code ('ru', 'en', …) or 'und' when there is too little text to tell."""
    prose = _CODE_FENCE.sub(" ", text[:4000]) if "```" in text else text
    sample = prose[:600]  # the first lines say the language; counting further only costs time
    cyr = len(_CYR.findall(sample))
    lat = len(_LAT.findall(sample))
    letters = cyr + lat
    if letters < 3 and not any(ch.isalpha() for ch in sample):
        return UNDETERMINED
    if letters and cyr >= 0.5 * letters:  # Russian prose full of English terms is still Russian
        uk = len(_UK_ONLY.findall(sample))  # letters Russian does not have
        return "uk" if uk and uk >= 0.01 * cyr else "ru"
    if lat and lat >= 0.9 * letters and not _has_non_ascii_letters(sample):
        words = _WORD.findall(sample.lower())
        if words and sum(w in _EN_FUNCTION for w in words) >= max(1, 0.12 * len(words)):
            return "en"
        if len(words) <= 6:
            return "en"  # "ok thanks", "LoRA r=8", a line of code: too short to argue with
    if len(sample.strip()) < 4:
        return UNDETERMINED
    lang, _ = _langid().classify(sample[:600])
    return lang


# Latin letters with diacritics (é, ü, ñ, ł …): Latin text carrying them is not English.
_ACCENTED = re.compile(r"[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _has_non_ascii_letters(s: str) -> bool:
    """Letters beyond ASCII (accents, other scripts); dashes, quotes and emoji do not count."""
    if s.isascii():
        return False
    return _ACCENTED.search(s) is not None or any(m.group().isalpha() for m in _NON_ASCII.finditer(s))
