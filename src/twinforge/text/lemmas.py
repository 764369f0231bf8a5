"""Words → lemmas with a coarse part of speech: Russian through pymorphy3 (its bundled dictionaries, offline),
Latin-script words through simplemma.

Each word goes to the analyzer of its script, not of the text's language: our users' Russian is full of English
terms ("LoRA", "dataset"), and a Cyrillic word inside English text is still Russian. The text's language (via
clean's detector) only picks simplemma's language for Latin words when the text is not English.

Parts of speech are coarse — NOUN, VERB, ADJ, ADV, NUM, or FUNC for function words (prepositions, conjunctions,
particles, pronouns, predicatives like "можно", and a short list of near-empty adverbs and verbs). simplemma knows
no parts of speech, so a Latin-script word is FUNC when it is on the English function-word list, ADV when it
ends in -ly, else NOUN: in this corpus such words are mostly terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .language import detect

WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_CYR = re.compile(r"[а-яё]", re.I)
_LAT = re.compile(r"[a-z]", re.I)

# pymorphy3's OpenCorpora tags → coarse parts of speech. Participles and gerunds are verbs (their normal form
# is the infinitive); comparatives are adjectives.
_RU_POS = {
    "NOUN": "NOUN", "VERB": "VERB", "INFN": "VERB", "PRTF": "VERB", "PRTS": "VERB", "GRND": "VERB",
    "ADJF": "ADJ", "ADJS": "ADJ", "COMP": "ADJ", "ADVB": "ADV", "NUMR": "NUM",
}
# Content words by tag that carry (almost) nothing as concepts.
RU_STOP = frozenset(
    "быть мочь стать являться иметься делать сделать хотеть очень уже ещё тоже также так там тут здесь сейчас "
    "есть сколько несколько теперь потом затем всегда никогда иногда почему зачем как когда где куда откуда "
    "почти просто именно "
    "вообще вот весь всё свой который какой такой этот тот сам самый один другой каждый любой много мало "
    "более менее больше меньше нужно надо можно нельзя да нет ну либо ли же бы вроде типа".split()
)
EN_STOP = frozenset(
    "a an the and or but if then than so as of to in on at by for from with without into onto over under "
    "about above below between through during before after again further once here there when where why how "
    "all any both each few more most other some such no nor not only own same too very can will just should "
    "now i me my myself we our ours you your yours he him his she her it its they them their what which who "
    "whom this that these those am is are was were be been being have has had having do does did doing would "
    "could might must shall may also yes ok okay let get got like really thing things something anything "
    "everything one ones lot much many well still even ever yet up down out off because while until".split()
)
_EN_VERBS = frozenset("be have do".split())  # simplemma lemmas that are auxiliaries, whatever the surface form


@dataclass(frozen=True)
class Token:
    surface: str
    lemma: str
    pos: str  # NOUN | VERB | ADJ | ADV | NUM | FUNC
    start: int  # character offset in the text


@lru_cache(maxsize=1)
def _morph():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


def language(text: str) -> str:
    """'ru', 'en', … (clean's detector); 'und' for too little text."""
    return detect(text)


@lru_cache(maxsize=200_000)
def lemma_ru(word: str) -> tuple[str, str]:
    """(lemma, coarse POS) of one Cyrillic word (lowercase in, lowercase out)."""
    parses = _morph().parse(word)
    p = parses[0]
    tied = [q for q in parses if q.score >= p.score - 1e-9]
    if len(tied) > 1:  # "спал": спасть and спать score the same; the commoner-looking, shorter lemma wins
        mass: dict[str, float] = {}
        for q in parses:
            mass[q.normal_form] = mass.get(q.normal_form, 0.0) + q.score
        # … and a noun beats a participle it ties with: "данные" is the data, not "given"
        p = min(tied, key=lambda q: (q.tag.POS != "NOUN", -mass[q.normal_form], len(q.normal_form), q.normal_form))
    pos = _RU_POS.get(p.tag.POS or "", "FUNC")
    if "Apro" in p.tag:
        pos = "FUNC"  # pronominal adjectives: твой, наш, этот, какой
    if p.tag.POS is None and "UNKN" in p.tag:
        pos = "NOUN"  # unknown words (names, jargon, 'а4') are kept as they are: most are terms
    lemma = p.normal_form
    return lemma, ("FUNC" if lemma in RU_STOP else pos)


@lru_cache(maxsize=200_000)
def lemma_latin(word: str, lang: str = "en") -> tuple[str, str]:
    """(lemma, coarse POS) of one Latin-script word through simplemma."""
    import simplemma

    try:
        lemma = simplemma.lemmatize(word, lang=lang).lower()
    except ValueError:  # a language simplemma does not know
        lemma = simplemma.lemmatize(word, lang="en").lower()
    if lemma in EN_STOP or lemma in _EN_VERBS:
        return lemma, "FUNC"
    return lemma, ("ADV" if word.endswith("ly") and len(word) > 4 else "NOUN")


_LATIN_LANGS = frozenset("en de fr es it pt nl pl cs sk sl hr ro hu fi sv da no et lv lt tr id vi".split())


def analyze(text: str, lang: str | None = None) -> list[Token]:
    """Every word of `text` with its lemma and coarse part of speech, in order."""
    lang = lang or language(text)
    latin_lang = lang if lang in _LATIN_LANGS else "en"
    out: list[Token] = []
    for m in WORD.finditer(text):
        surface = m.group()
        word = surface.lower().replace("’", "'")
        if word.isdigit():
            out.append(Token(surface, word, "NUM", m.start()))
            continue
        if _CYR.search(word):
            lemma, pos = _cyrillic(surface, word)
        elif _LAT.search(word):
            lemma, pos = lemma_latin(word, latin_lang)
        else:
            lemma, pos = word, "NOUN"  # other scripts: kept verbatim
        out.append(Token(surface, lemma, pos, m.start()))
    return out


def _cyrillic(surface: str, word: str) -> tuple[str, str]:
    if surface.isupper() and 1 < len(surface) <= 5 and "-" not in surface:
        return word, "NOUN"  # an abbreviation (ИИ, РФ, ГПТ): pymorphy3 would decline it into nonsense
    if "-" in word and not _morph().word_is_known(word):
        # "ИИ-двойника": the parts carry the meaning; the last one takes the case ending
        parts = [_cyrillic(s, s.lower()) if _CYR.search(s) else (s.lower(), "NOUN") for s in surface.split("-") if s]
        return "-".join(p[0] for p in parts), parts[-1][1]
    return lemma_ru(word)


def lemmas(text: str, lang: str | None = None) -> list[str]:
    """Lemmas of every word of `text`, in order (function words included)."""
    return [t.lemma for t in analyze(text, lang)]
