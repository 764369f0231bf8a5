"""Words → stems for BM25, the same way at index time and at query time.

SQLite's FTS5 has no Russian stemmer, so text is stemmed here (Snowball) and FTS5 only splits on spaces. The
stemmer is chosen per word by its script: Cyrillic words by the item's language when it is a Cyrillic language
Snowball knows (else Russian), Latin words by the item's language when it is a Latin one Snowball knows (else
English). Russian prose is full of English terms ("LoRA", "fine-tune"), so one stemmer per item would mangle half
of it. `ё` is folded to `е` first: people type either.
"""

from __future__ import annotations

import re
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CYR = re.compile(r"[а-яё]")

_SNOWBALL = {
    "ru": "russian", "en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian",
    "pt": "portuguese", "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian", "fi": "finnish",
    "hu": "hungarian", "ro": "romanian", "tr": "turkish", "pl": "polish", "cs": "czech", "lt": "lithuanian",
    "et": "estonian", "sr": "serbian", "el": "greek", "id": "indonesian",
}
_CYRILLIC_LANGS = {"ru", "sr", "uk", "be", "bg", "kk"}

# Function words carry no topic; dropping them keeps queries short (FTS5 cost grows with terms) and stops
# "как"/"what" from matching everything.
STOP = frozenset(
    "the a an and or but if then so of to in on at by for with from as is are was were be been being it its this "
    "that these those there here what which who whom whose how why when where can could would should will shall "
    "may might must do does did have has had not no you your we our they their them he she his her him i me my us "
    "all any some each every more most other such than too very just also only own same into over under about "
    "after before again once out up down off both few nor because while until during through please thanks "
    "и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее её мне было вот от "
    "меня еще ещё нет о из ему теперь когда даже ну ли если уже или ни быть был него до вас нибудь уж вам ведь там "
    "потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже "
    "себе под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее "
    "сейчас были куда зачем всех никогда можно при наконец об хоть после над больше тот через эти нас про всего "
    "них какая много разве эту моя впрочем свою этой перед иногда лучше чуть том нельзя такой им более всегда "
    "конечно всю между это эта этих также очень просто спасибо пожалуйста который которые которая которое которых "
    "мой моё мои твой твоя твоё твои свой".split()
)


@lru_cache(maxsize=None)
def _stemmer(algorithm: str):
    return snowballstemmer.stemmer(algorithm)


def _algorithms(language: str | None) -> tuple[str, str]:
    """(stemmer for Cyrillic words, stemmer for Latin-script words) for an item in `language`."""
    lang = (language or "").lower()[:2]
    algo = _SNOWBALL.get(lang)
    cyr = algo if lang in _CYRILLIC_LANGS and algo else "russian"
    lat = algo if algo and lang not in _CYRILLIC_LANGS else "english"
    return cyr, lat


def words(text: str) -> list[str]:
    """Lowercase word tokens with ё folded, stop words and one-letter tokens dropped."""
    out = []
    for w in _WORD.findall(text.lower().replace("ё", "е")):
        if len(w) > 1 and w not in STOP:
            out.append(w)
    return out


def stem_words(tokens: list[str], language: str | None = None) -> list[str]:
    cyr, lat = _algorithms(language)
    cyr_stem, lat_stem = _stemmer(cyr), _stemmer(lat)
    out = []
    for w in tokens:
        if w.isdigit():
            out.append(w)
        elif _CYR.search(w):
            out.append(cyr_stem.stemWord(w))
        else:
            out.append(lat_stem.stemWord(w))
    return out


def stems(text: str, language: str | None = None) -> list[str]:
    """The stems of `text`, in order (repeats kept: BM25 counts them)."""
    return stem_words(words(text), language)


def stem_text(text: str, language: str | None = None) -> str:
    """What goes into the FTS5 column: stems joined by spaces."""
    return " ".join(stems(text, language))
