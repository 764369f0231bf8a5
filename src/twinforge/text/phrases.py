"""Noun phrases of a text, found with morphology, in a normal form: the candidates a concept is chosen from.

Russian (pymorphy3): ADJ* NOUN, optionally followed by a genitive noun phrase ("затраты времени") or the fixed
"с нуля"; adjectives must agree with their noun in case, number and gender, and the phrase is put into the
nominative with the head noun's lemma ("большой модели" → "большая модель", "обучения с нуля" → "обучение с
нуля"). English (lemminflect's dictionary): ADJ* NOUN+ chunks, the last noun singular ("small models" → "small
model"). Latin-script words inside Russian text are terms ("LoRA", "Qwen"): nouns of their own.

A phrase never has a function word, a pronoun or a form of address ("друг", "bro") as its head: those name no
concept. Every phrase keeps where it was found (character span), so callers can weigh position and quote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .lemmas import EN_STOP, RU_STOP, WORD, language

_CYR = re.compile(r"[а-яё]", re.IGNORECASE)
_LAT = re.compile(r"[a-z]", re.IGNORECASE)
# A phrase does not run across these: sentence and clause punctuation, brackets, quotes, dashes.
_BREAK = re.compile(r"[.!?…;:,()\[\]{}\"«»“”„—–/\\|\n]")

# Nouns that address the listener or stand for "a thing": never a concept on their own.
ADDRESS = frozenset(
    ["друг", "дружище", "бро", "братан", "чувак", "коллега", "товарищ", "дорогой", "дорогая", "уважаемый", "чат", "чатгпт", "gpt", "chatgpt", "бот", "ассистент", "помощник", "claude", "клод", "грок", "grok", "deepseek", "дипсик", "bro", "dude", "buddy", "mate", "man", "sir", "madam", "friend", "pal", "guys", "assistant", "chatbot", "bot"]
)
# Nouns too empty to be a concept by themselves (they may still head a longer phrase: "вопрос данных").
RU_EMPTY_NOUNS = frozenset(
    ["вещь", "штука", "раз", "дело", "случай", "образ", "вид", "часть", "пример", "вариант", "момент", "смысл", "плана", "счёт", "счет", "способ", "тип", "сторона", "пункт", "итог", "целое", "кто", "что", "это", "то", "всё", "весь", "нечто", "ничто", "никто", "человек", "люди", "год", "день", "время"]
)
EN_EMPTY_NOUNS = frozenset(
    ["thing", "stuff", "way", "case", "kind", "sort", "part", "example", "point", "lot", "bit", "idea", "question", "answer", "time", "day", "year", "people", "person", "guy", "one", "ones", "something", "anything", "everything", "nothing", "someone", "anyone", "everyone", "none", "fact", "matter", "deal"]
)
# Quantities and units: "миллион строк", "тб гиперфраз" mean their genitive, not the count.
RU_QUANTITY = frozenset(
    ["тысяча", "миллион", "миллиард", "триллион", "сотня", "десяток", "пара", "штука", "процент", "байт", "кб", "мб", "гб", "тб", "килобайт", "мегабайт", "гигабайт", "терабайт", "токен", "час", "минута", "секунда", "день", "неделя", "месяц", "страница", "строка"]
) - {"токен", "страница", "строка"}
# Units of measure: alone ("2 ГБ", "ten minutes") a quantity, not a concept.
RU_UNITS = frozenset(["байт", "кб", "мб", "гб", "тб", "килобайт", "мегабайт", "гигабайт", "терабайт", "процент",
                      "час", "минута", "секунда", "мс", "миллисекунда"])
EN_UNITS = frozenset(["byte", "kb", "mb", "gb", "tb", "kilobyte", "megabyte", "gigabyte", "terabyte", "percent",
                      "hour", "minute", "second", "ms", "millisecond", "sec"])
# Terms pymorphy3 reads as other words ("лора" as a form of "лор", the ENT doctor).
RU_TERMS = {"лора": "lora", "лору": "lora", "лоры": "lora", "лорой": "lora", "лоре": "lora", "квен": "qwen",
            "квена": "qwen", "квену": "qwen", "квеном": "qwen", "гпт": "gpt"}
# English words after which a noun-or-verb word is a verb ("train a model", "need more data").
_EN_AFTER_VERB = frozenset(["a", "an", "the", "my", "your", "our", "their", "his", "her", "its", "this", "that", "these", "those", "more", "it", "them", "me", "us", "one", "some", "any", "him"])
# English words after which a single word is a noun, not a verb or an adjective ("a signal", "the reasoning").
_EN_DETERMINERS = frozenset(["a", "an", "the", "my", "your", "our", "their", "his", "her", "its", "this", "these", "those"])
# English words lemminflect calls nouns that never head a concept.
_EN_NOT_NOUN = frozenset(["hey", "hi", "hello", "yo", "thanks", "per", "via", "vs", "versus", "etc", "ie", "eg", "re", "somesuch", "whatnot", "ok", "okay", "hmm", "lol", "btw"])
# English words that introduce a verb right after them ("to train", "we use"): the next word is no noun.
_EN_BEFORE_VERB = frozenset(
    ["to", "i", "we", "you", "they", "he", "she", "it", "can", "could", "will", "would", "should", "must", "may", "might", "shall", "don't", "doesn't", "didn't", "won't", "can't", "let's", "lets", "please", "not", "never", "always", "just", "also"]
)


@dataclass(frozen=True)
class Phrase:
    text: str  # the normal form: "большая модель", "обучение с нуля", "small model"
    head: str  # the head noun's lemma: "модель"
    lemmas: tuple[str, ...]  # every word's lemma, in order (the genitive part included)
    start: int  # character span in the text
    end: int
    surface: str  # as written


@dataclass(frozen=True)
class _Tok:
    surface: str
    start: int
    end: int
    brk: bool  # a phrase boundary right before this token


def _tokens(text: str) -> list[_Tok]:
    out, last = [], 0
    for m in WORD.finditer(text):
        out.append(_Tok(m.group(), m.start(), m.end(), bool(_BREAK.search(text, last, m.start()))))
        last = m.end()
    return out


def noun_phrases(text: str, lang: str | None = None) -> list[Phrase]:
    """Every noun phrase of `text` in order of appearance. A match also yields its shorter forms (the phrase
    without its genitive or "с нуля" tail, and the head noun alone), so that both "обучение моделей" and
    "обучение" can be ranked."""
    lang = lang or language(text)
    toks = _tokens(text)
    out: list[Phrase] = []
    i = 0
    while i < len(toks):
        found = None
        w = toks[i].surface.lower()
        if w in RU_TERMS:
            t = toks[i]
            out.append(Phrase(RU_TERMS[w], RU_TERMS[w], (RU_TERMS[w],), t.start, t.end, t.surface))
        elif w == "нуля" and i > 0 and toks[i - 1].surface.lower() == "с":
            pass  # "с нуля" is a manner, not a thing
        elif _CYR.search(toks[i].surface):
            found = _ru_phrase(toks, i, text)
        elif _LAT.search(toks[i].surface):
            found = _en_phrase(toks, i, text, russian_context=lang == "ru")
        if not found:
            i += 1
            continue
        phrases, nxt = found
        out.extend(phrases)
        i = max(nxt, i + 1)
    return out


# --- Russian -----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _morph():
    import pymorphy3

    return pymorphy3.MorphAnalyzer()


@lru_cache(maxsize=100_000)
def _parses(word: str) -> tuple:
    ps = _morph().parse(word)
    best = ps[0].score
    return tuple(p for p in ps if p.score >= best * 0.05)[:12]


def _best_pos(word: str) -> str | None:
    ps = _parses(word)
    p = ps[0]
    if p.tag.POS == "PRTF" and any(q.tag.POS == "NOUN" and q.score >= p.score - 1e-9 for q in ps):
        return "NOUN"  # "данные": a noun that ties with a participle is the noun (as text/lemmas.py reads it)
    if p.tag.POS is None and "UNKN" in p.tag:
        return "NOUN"
    if "Apro" in p.tag or "Anum" in p.tag and p.normal_form in ("один",):
        return "APRO"
    return p.tag.POS


def _is_abbrev(surface: str) -> bool:
    return surface.isupper() and 1 < len(surface) <= 5 and "-" not in surface


def _ru_noun(tok: _Tok):
    """The token's noun parses (best first) if it is a content noun; else ()."""
    word = tok.surface.lower()
    if any(c.isdigit() for c in word) or word in RU_TERMS:
        return ()
    if _is_abbrev(tok.surface):
        return ("ABBR",)
    if _best_pos(word) != "NOUN":
        return ()
    ps = tuple(p for p in _parses(word) if p.tag.POS == "NOUN" or "UNKN" in p.tag)
    return ps


def _ru_adj(tok: _Tok):
    word = tok.surface.lower()
    if _best_pos(word) not in ("ADJF", "PRTF"):
        return ()
    return tuple(p for p in _parses(word) if p.tag.POS in ("ADJF", "PRTF") and "Apro" not in p.tag
                 and p.normal_form not in RU_STOP)


def _agree(adj, noun) -> bool:
    if noun == "ABBR":  # an abbreviation does not decline: any adjective right before it is its ("чужие KPI")
        return True
    a, n = adj.tag, noun.tag
    if a.case != n.case or a.number != n.number:
        return False
    return n.number == "plur" or a.gender is None or n.gender is None or a.gender == n.gender or "ms-f" in n


def _noun_lemma(noun, surface: str) -> str:
    if noun == "ABBR":
        return surface
    if "UNKN" in noun.tag:
        return surface.lower()
    return noun.normal_form


def _nominative_adj(adj, head) -> str:
    """The adjective in the nominative, agreeing with the head noun's normal form."""
    if head == "ABBR" and adj.tag.number == "plur":
        form = adj.inflect({"nomn", "plur"})
        return form.word if form else adj.normal_form
    if head == "ABBR" or "UNKN" in head.tag:
        return adj.normal_form
    hn = head.normalized
    grams = {"nomn", "plur"} if hn.tag.number == "plur" else {"nomn", "sing", hn.tag.gender or "masc"}
    form = adj.normalized.inflect(grams) if adj.tag.POS == "ADJF" else adj.inflect(grams)
    return form.word if form else adj.normal_form


def _ru_phrase(toks: list[_Tok], i: int, text: str):
    """Phrases starting at token i (ADJ* NOUN [gen-NP | с нуля]) and the index after them, or None."""
    j = i
    adjs = []
    while j < len(toks) and (j == i or not toks[j].brk) and _ru_adj(toks[j]) and len(adjs) < 3:
        adjs.append(j)
        j += 1
    if j >= len(toks) or (j > i and toks[j].brk):
        return None
    nouns = _ru_noun(toks[j])
    if not nouns:
        return None
    head_tok = toks[j]
    # the noun parse the adjectives agree with (all of them), else the best parse and no adjectives
    head = next((n for n in nouns if all(any(_agree(a, n) for a in _ru_adj(toks[k])) for k in adjs)), None)
    if head is None:
        head, adjs = nouns[0], []
    lemma = _noun_lemma(head, head_tok.surface)
    if lemma in RU_STOP or lemma in ADDRESS or lemma in RU_EMPTY_NOUNS and not adjs:
        return None
    if lemma.lower() in RU_QUANTITY and not adjs and (lemma in RU_EMPTY_NOUNS or _genitive_follows(toks, j + 1)):
        return None  # the genitive after it is the phrase ("пара примеров"): scanning resumes there
    if lemma.lower() in RU_UNITS and not adjs:
        return None
    start_k = adjs[0] if adjs else j
    adj_lemmas = [next(a for a in _ru_adj(toks[k]) if _agree(a, head)).normal_form for k in adjs]
    adj_words = [_nominative_adj(next(a for a in _ru_adj(toks[k]) if _agree(a, head)), head) for k in adjs]
    core_words = [*adj_words, lemma]
    core_lemmas = [*adj_lemmas, lemma]
    out = []
    end = j + 1
    tail = _ru_tail(toks, end)
    if tail:
        tail_words, tail_lemmas, tail_end = tail
        s, e = toks[start_k].start, toks[tail_end - 1].end
        out.append(Phrase(" ".join([*core_words, *tail_words]), lemma, (*core_lemmas, *tail_lemmas), s, e, text[s:e]))
    s, e = toks[start_k].start, head_tok.end
    if lemma not in RU_EMPTY_NOUNS or adjs:
        out.append(Phrase(" ".join(core_words), lemma, tuple(core_lemmas), s, e, text[s:e]))
    if adjs and lemma not in RU_EMPTY_NOUNS and lemma.lower() not in RU_UNITS:
        out.append(Phrase(lemma, lemma, (lemma,), head_tok.start, head_tok.end, head_tok.surface))
    # a genitive tail is a phrase of its own too ("имитация АГИ" → "АГИ"): scanning resumes inside it
    return (out, end) if out else None


def _genitive_follows(toks: list[_Tok], k: int) -> bool:
    """A genitive noun (after at most two adjectives) right after position k: what a quantity counts."""
    for m in range(k, min(k + 3, len(toks))):
        if toks[m].brk:
            return False
        if any(n != "ABBR" and n.tag.case in ("gent", "gen2") for n in _ru_noun(toks[m])):
            return True
        if not _ru_adj(toks[m]):
            return False
    return False


def _ru_tail(toks: list[_Tok], k: int):
    """A genitive noun phrase (ADJ* NOUN in gent) or "с нуля" right after a head noun: (words, lemmas, end)."""
    if k >= len(toks) or toks[k].brk:
        return None
    if toks[k].surface.lower() == "с" and k + 1 < len(toks) and toks[k + 1].surface.lower() == "нуля" \
            and not toks[k + 1].brk:
        return ["с", "нуля"], ["с", "ноль"], k + 2
    m = k
    adjs = []
    while m < len(toks) and not toks[m].brk and _ru_adj(toks[m]) and len(adjs) < 2:
        adjs.append(m)
        m += 1
    if m >= len(toks) or toks[m].brk:
        return None
    if _is_abbrev(toks[m].surface) and not adjs:
        return [toks[m].surface], [toks[m].surface], m + 1
    gen = [n for n in _ru_noun(toks[m]) if n != "ABBR" and n.tag.case in ("gent", "gen2")]
    if not gen:
        return None
    n = next((g for g in gen if all(any(_agree(a, g) for a in _ru_adj(toks[q])) for q in adjs)), None)
    if n is None:
        return None
    lemma = _noun_lemma(n, toks[m].surface)
    if lemma in RU_STOP or lemma in ADDRESS or lemma in RU_EMPTY_NOUNS:
        return None
    words = [toks[q].surface.lower() for q in range(k, m + 1)]
    lemmas = [next(a for a in _ru_adj(toks[q]) if _agree(a, n)).normal_form for q in adjs] + [lemma]
    return words, lemmas, m + 1


# --- English -----------------------------------------------------------------------------------------------


@lru_cache(maxsize=100_000)
def en_pos(word: str) -> frozenset[str]:
    """The parts of speech an English word can have (lemminflect's dictionary); unknown words are nouns (terms)."""
    from lemminflect import getAllLemmas

    w = word.lower()
    if w in EN_STOP or w in _EN_NOT_NOUN or "'" in w or "’" in w:
        return frozenset({"FUNC"})
    tags = set(getAllLemmas(w)) or set(getAllLemmas(word))
    if not tags:
        from wordfreq import zipf_frequency

        if word.islower() and zipf_frequency(w, "en") == 0 and not _derived(w):
            return frozenset({"TYPO"})  # "indepenet": neither in the dictionary nor ever seen: a typo, not a term
        return frozenset({"NOUN"})
    if "PROPN" in tags:
        tags.add("NOUN")
    return frozenset(tags)


# Endings of nouns that the dictionary also lists as adjectives ("precision tool"): alone, such a word is the noun.
_EN_NOUN_SUFFIXES = ("tion", "sion", "ment", "ness", "ity", "ance", "ence", "ism", "ure")
# Productive English suffixes: an unseen word built from a known one with them ("tokenizer", "resumability",
# "embedder") is a coinage of the field, not a typo.
_EN_SUFFIXES = ("ability", "ibility", "ization", "isation", "izer", "iser", "ness", "ment", "able", "ity", "er")


def _derived(word: str) -> bool:
    from wordfreq import zipf_frequency

    for suf in _EN_SUFFIXES:
        stem = word[: -len(suf)]
        if word.endswith(suf) and len(stem) >= 4:
            stems = {stem, stem + "e", stem[:-1] if len(stem) > 3 and stem[-1] == stem[-2] else stem}
            if any(zipf_frequency(x, "en") >= 2.5 for x in stems):
                return True
    return False


@lru_cache(maxsize=100_000)
def en_noun_lemma(word: str) -> str:
    from lemminflect import getLemma

    w = word.lower()
    if "-" in w:
        head, _, last = w.rpartition("-")
        return f"{head}-{en_noun_lemma(last)}"
    lem = getLemma(w, upos="NOUN")
    return lem[0].lower() if lem and lem[0] else w


def _en_kind(tok: _Tok, prev: str | None, nxt: str | None) -> str:
    """N (noun), A (adjective, as a modifier), or X (neither), for chunking."""
    w = tok.surface.lower()
    if len(w) < 2 and not tok.surface.isupper():
        return "X"
    pos = en_pos(tok.surface)
    if "FUNC" in pos or "TYPO" in pos:
        return "X"
    if "VERB" in pos and (prev in _EN_BEFORE_VERB or nxt in _EN_AFTER_VERB):
        return "X"
    if "NOUN" in pos:
        return "N"
    if w.endswith("ing") and prev in _EN_DETERMINERS:  # "the reasoning", "my reading": a gerund as a noun
        return "N"
    if "ADJ" in pos:
        return "A"
    return "X"


def _en_phrase(toks: list[_Tok], i: int, text: str, russian_context: bool = False):
    if russian_context:  # a Latin term inside Russian text: a noun of its own
        j = i
        while j + 1 < len(toks) and not toks[j + 1].brk and _LAT.search(toks[j + 1].surface) and j - i < 2:
            j += 1
        words = [toks[k].surface for k in range(i, j + 1)]
        if all(w.lower() in EN_STOP for w in words) or len(words[-1]) < 2 or words[-1].lower() in ADDRESS:
            return None
        lemma_last = en_noun_lemma(words[-1])
        keep = [w if _is_abbrev(w) or any(c.isupper() for c in w[1:]) else w.lower() for w in words]
        norm = " ".join([*keep[:-1], lemma_last if keep[-1].islower() else keep[-1]])
        s, e = toks[i].start, toks[j].end
        return [Phrase(norm, norm.split()[-1], tuple(x.lower() for x in norm.split()), s, e, text[s:e])], j + 1
    prev = toks[i - 1].surface.lower() if i > 0 and not toks[i].brk else None
    kinds = []
    j = i
    while j < len(toks) and (j == i or not toks[j].brk) and _LAT.search(toks[j].surface) and len(kinds) < 5:
        after = toks[j + 1].surface.lower() if j + 1 < len(toks) and not toks[j + 1].brk else None
        k = _en_kind(toks[j], prev if j == i else toks[j - 1].surface.lower(), after)
        if k == "X":
            break
        kinds.append(k)
        j += 1
    while kinds and kinds[-1] != "N":  # a phrase ends on a noun
        kinds.pop()
    if len(kinds) == 1 and "ADJ" in en_pos(toks[i].surface) and not toks[i].surface.lower().endswith(
            _EN_NOUN_SUFFIXES) and not (prev in _EN_DETERMINERS and (i + 1 >= len(toks) or toks[i + 1].brk)):
        return None  # "small", "better" alone: an adjective that the dictionary also lists as a noun, unless a
        # determiner makes it one and the clause (or the text) ends there ("it's a signal:")
    if not kinds:
        return None
    first = 0
    while first < len(kinds) and kinds[first] == "A" and first < len(kinds) - 1:
        first += 1
    adjs = list(range(i, i + first))
    nouns = list(range(i + first, i + len(kinds)))
    nouns = nouns[-3:]
    if len(toks[nouns[-1]].surface) < 2:
        return None  # "P(C)": a symbol
    words = [toks[k].surface for k in [*adjs, *nouns]][-4:]
    last = en_noun_lemma(words[-1])
    if last in EN_STOP or (last in ADDRESS and not nouns[:-1]) or (last in EN_EMPTY_NOUNS and len(words) == 1) \
            or (last in EN_UNITS and len(words) == 1):
        return None
    lemmas = (*(w.lower() for w in words[:-1]), last)
    s, e = toks[i + len(kinds) - len(words)].start, toks[i + len(kinds) - 1].end
    out = [Phrase(" ".join(lemmas), last, lemmas, s, e, text[s:e])]
    if len(words) > 1 and last not in EN_EMPTY_NOUNS and last not in ADDRESS:
        h = toks[i + len(kinds) - 1]
        out.append(Phrase(last, last, (last,), h.start, h.end, h.surface))
    return out, i + len(kinds)

