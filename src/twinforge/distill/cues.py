"""Cue patterns, Russian and English: where the person weighs two options (axes), turns a thing round
(inversions), states a hypothesis, or a rule of how one state leads to another (transition rules).

Axes come out as pole pairs. A pole is named by the noun phrase nearest the cue on its side, in normal form
("выжимка фактов", "адаптер", "RAG"); where a side has none (a verb: "сначала их прочитаю"), both poles are the
person's words around the cue, trimmed. Everything else is the person's sentence, verbatim: each item is a slice
of the text given, so it can be quoted and traced. The patterns are tested on labelled sentences
(tests/data/cues/*.yaml), negatives included ("или нет", "more or less").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from ..text.lemmas import EN_STOP, RU_STOP, WORD, analyze
from ..text.phrases import Phrase, _morph, en_pos, noun_phrases

_I = re.IGNORECASE
MAX_POLE_WORDS = 4

# A pole does not run across these (a clause or list boundary).
_SPAN_BREAK = re.compile(r"[.!?…;:,()\[\]{}\"«»“”„—–\n]")
# Spaces, commas and quotes between a cue and its pole: skipped, the pole is the words inside.
_EDGE = frozenset(" ,\t«»\"“”„'")
# Words that open a new clause: a pole stops before them (left side) or at them (right side).
_CLAUSE = frozenset(
    ["что", "чтобы", "если", "когда", "ли", "как", "то", "или", "либо", "а", "но", "и", "лучше", "хуже", "между", "чем", "потому", "так", "тогда", "значит", "ну", "вот", "да", "нет", "почему", "зачем", "где", "куда", "which", "what", "whether", "if", "when", "that", "than", "or", "either", "and", "but", "so", "then", "because", "is", "are", "was", "would", "should", "could", "does", "do", "did"]
)


@dataclass(frozen=True)
class Axis:
    left: str
    right: str
    cue: str  # which pattern found it
    sentence: str

    def __str__(self) -> str:
        return f"{self.left} ↔ {self.right}"


# --- sentences -------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»”)\]]*\s+|\n+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text`: verbatim slices, surrounding space and list bullets left out."""
    out, start = [], 0
    for m in [*_SENTENCE_END.finditer(text), None]:
        end = m.start() if m else len(text)
        piece = text[start:end]
        lead = len(piece) - len(piece.lstrip())
        b = re.match(r"(?:[-*•>]+|\d+[.)])\s+", piece[lead:])
        s = start + lead + (b.end() if b else 0)
        e = start + len(piece.rstrip())
        if e - s >= 3 and any(ch.isalpha() for ch in text[s:e]):
            out.append((s, e))
        if m:
            start = m.end()
    return out


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


# --- axes ------------------------------------------------------------------------------------------------

# Each: (name, regex). The regex marks the cue; poles are read left and right of it (or between its groups).
_OR = re.compile(r"(?<![\w-])(?:или же|или|либо|or)(?![\w-])", _I)
_VS = re.compile(r"(?<![\w-])(?:vs\.?|versus|против|↔|<->)(?![\w-])", _I)
# "не X, который …, а Y": the first option may carry a relative clause, set off by commas
_RELATIVE = r"(?:\s*,\s*(?:котор\w+|где|that|which|who)\b[^;:.!?—]{0,120}?)?"
_NOT_BUT = re.compile(r"(?:(?<![\w-])(?:не|not)|n[’']t)\s+(?P<x>[^,;:.!?—]{2,80}?)" + _RELATIVE
                      + r"\s*,?\s+(?:а|но|but)\s+(?P<y>[^,;:.!?—]{2,80})", _I)
_BUT_NOT = re.compile(r"(?P<x>[^,;:.!?—]{2,80}?)\s*,\s*(?:а не|but not|not|and not)\s+(?P<y>[^,;:.!?—]{2,80})", _I)
_BETWEEN = re.compile(r"(?<![\w-])(?:между|between)\s+(?P<x>[^,;:.!?—]{2,60}?)\s+(?:и|and)\s+(?P<y>[^,;:.!?—]{2,60})",
                      _I)
_RATHER = re.compile(r"(?P<x>[^,;:.!?—]{2,80}?)\s+(?:rather than|instead of|вместо)\s+(?P<y>[^,;:.!?—]{2,80})", _I)
# "prefer speed over accuracy": a verb of choosing, then the two options
_OVER = re.compile(r"(?<![\w-])(?:prefer\w*|choos\w*|chose|pick\w*|favou?r\w*|prioriti[sz]\w*|valu\w*|put|take)\s+"
                   r"(?P<x>[^,;:.!?—]{2,60}?)\s+over\s+(?P<y>[^,;:.!?—]{2,60})", _I)
# "не столько X, сколько Y", "not so much X as Y", "то ли X, то ли Y"
_SO_MUCH = re.compile(r"(?<![\w-])(?:не столько|not so much|not as much)\s+(?P<x>[^;:.!?—]{2,80}?)\s*,?\s+"
                      r"(?:сколько|as)\s+(?P<y>[^,;:.!?—]{2,80})", _I)
_EITHER_RU = re.compile(r"(?<![\w-])то ли\s+(?P<x>[^,;:.!?—]{2,60}?)\s*,\s*то ли\s+(?P<y>[^,;:.!?—]{2,60})", _I)
# "X compared to Y", "X, as opposed to Y", "X по сравнению с Y", "X в отличие от Y" (set against each other)
_COMPARED = re.compile(r"(?<![\w-])(?:compared (?:to|with)|in comparison (?:to|with)|as opposed to|"
                       r"по сравнению с|в сравнении с|в отличие от)\s+(?P<y>[^,;:.!?—]{2,80})", _I)
# At the sentence's start: "Unlike X, Y …", "Instead of X, Y …", "Вместо X я бы Y …", "В отличие от X, Y …"
_LEAD = re.compile(r"^\W*(?:unlike|instead of|rather than|compared (?:to|with)|as opposed to|вместо|"
                   r"в отличие от|по сравнению с|в сравнении с)\s+", _I)
# Two options named in two parts, in one sentence or two: "с одной стороны X, с другой — Y", "on one hand X; on
# the other, Y", "первый вариант — X, второй — Y", "option A is X; option B is Y"
_HANDS = re.compile(r"(?:с одной стороны|on (?:the )?one hand)\s*,?\s*(?P<x>[^;:.!?—]{2,100}?)\s*[,;.—–]*\s*"
                    r"(?:(?:а|но|and|but)\s+)?(?:с другой(?: стороны)?|on the other(?: hand)?)\s*[,—–:]?\s*"
                    r"(?P<y>[^,;:.!?—]{2,100})", _I)
_FIRST = r"(?:первый вариант|вариант (?:а|1|один)|option (?:a|1|one)|(?:the )?first option)"
_SECOND = r"(?:второй(?: вариант)?|вариант (?:б|2|два)|option (?:b|2|two)|(?:the )?second(?: option)?)"
_OPTIONS = re.compile(_FIRST + r"\s*(?:[—–:-]\s*(?:это\s+)?|is\s+|это\s+)(?P<x>[^;:.!?—]{2,100}?)\s*[,;.]\s*"
                      r"(?:(?:а|and|but)\s+)?" + _SECOND + r"\s*(?:[—–:-]\s*(?:это\s+)?|is\s+|это\s+)?"
                      r"(?P<y>[^,;:.!?—]{2,100})", _I)
# Two things defined side by side, the second set against the first by "а": "Архив — это склад. А память — это
# русло.", "Архив — склад, а память — русло."
_DEFINED = re.compile(r"^\W*(?P<x>[^—–:;,.!?]{2,50}?)\s+[—–]\s+")
_DEFINED_AGAINST = re.compile(r"^\W*а\s+(?P<y>[^—–:;,.!?]{2,50}?)\s+[—–]\s+", _I)
_DEFINED_PAIR = re.compile(r"^\W*(?P<x>[^—–:;,.!?]{2,50}?)\s+[—–]\s+[^—–;.!?]{2,120}?,\s+а\s+"
                           r"(?P<y>[^—–:;,.!?]{2,50}?)\s+[—–]\s+", _I)
_THAN = re.compile(r"(?<![\w-])(?:чем|than)(?![\w-])", _I)
# Comparatives that count rather than weigh ("больше данных"): no axis with a bare genitive after them.
_QUANTITY_COMP = frozenset(["больше", "меньше", "более", "менее", "побольше", "поменьше", "раньше", "позже", "позднее",
                            "дальше", "ближе", "дольше", "чаще", "реже", "старше", "младше", "выше", "ниже",
                            "дороже", "дешевле"])
_EN_COMP = re.compile(r"(?<![\w-])(?:better|worse|more|less|cheaper|faster|slower|simpler|easier|harder|"
                      r"\w+er)(?![\w-])", _I)

# "или" that weighs nothing: fixed phrases and empty second options.
_OR_IDIOMS = re.compile(
    r"(?:более или менее|так или иначе|рано или поздно|тот или ин|та или ин|то или ин|те или ин|той или ин|"
    r"того или ин|тем или ин|тех или ин|more or less|one or two|two or three|or so\b|or not\b|or something|"
    r"or whatever|or somesuch|or anything|or else|or rather|или нет\b|или как\b|или что-то|или что-нибудь|"
    r"или чем-то|или где-то|или как-то|или вообще|или так\b|или типа|или что\?|или около)", _I)
_EMPTY_POLE = frozenset(["нет", "не", "так", "как", "что", "кто", "где", "иначе", "около", "вообще", "типа", "not", "so", "something", "anything", "whatever", "somesuch", "else"])


def _content(word: str) -> bool:
    w = word.lower()
    if w in RU_STOP or w in EN_STOP or w in _EMPTY_POLE:
        return False
    if re.search(r"[а-яё]", w):
        p = _morph().parse(w)[0]
        return p.tag.POS not in (None, "NPRO", "PREP", "CONJ", "PRCL", "INTJ", "PRED") or "UNKN" in p.tag
    return True


def _words(span: str) -> list[re.Match]:
    return list(WORD.finditer(span))


def _left_span(sent: str, end: int) -> tuple[int, int]:
    """The clause piece right before position `end`: back to a boundary, at most MAX_POLE_WORDS+2 words."""
    while end > 0 and sent[end - 1] in _EDGE:  # "X, или Y": the comma belongs to the cue; «X», а Y: the quotes too
        end -= 1
    start = end
    piece = sent[:end]
    brk = max((m.end() for m in _SPAN_BREAK.finditer(piece)), default=0)
    kept = _pole_words(reversed([m for m in _words(piece) if m.start() >= brk]))
    if kept:
        start = kept[-1].start()
    return start, end


def _pole_words(words) -> list:
    """A pole's words, walking away from the cue: clause words before any kept word are skipped, the first one
    after ends the pole, and a pole is at most MAX_POLE_WORDS + 2 words."""
    kept = []
    for m in words:
        if m.group().lower() in _CLAUSE:
            if kept:
                break
            continue
        kept.append(m)
        if len(kept) >= MAX_POLE_WORDS + 2:
            break
    return kept


def _right_span(sent: str, start: int) -> tuple[int, int]:
    while start < len(sent) and sent[start] in _EDGE:
        start += 1
    piece = sent[start:]
    brk = next((m.start() for m in _SPAN_BREAK.finditer(piece)), len(piece))
    kept = _pole_words(_words(piece[:brk]))
    if not kept:
        return start, start
    return start + kept[0].start(), start + kept[-1].end()


def _trim(span: str) -> str:
    """The span without function words at its edges, at most MAX_POLE_WORDS words."""
    ws = _words(span)
    while ws and not _content(ws[0].group()):
        ws.pop(0)
    while ws and not _content(ws[-1].group()):
        ws.pop()
    if not ws:
        return ""
    ws = ws[:MAX_POLE_WORDS]
    return span[ws[0].start() : ws[-1].end()]


_ZERO = re.compile(r"(?<![\w-])с нуля(?![\w-])", _I)


_EN_PREP = frozenset(["of", "on", "in", "for", "over", "per", "with", "at", "from", "about", "by", "without", "into"])
_RU_DETERMINER = frozenset(["сколько", "столько", "несколько", "много", "мало", "какой", "такой", "этот", "тот",
                            "весь", "каждый", "любой", "свой", "мой", "наш", "твой", "ваш"])


def _determiner(word: str) -> bool:
    """A word that picks out, counts or points ("сколько", "какая", "этот"): no part of a pole's name."""
    w = word.lower()
    if not re.search(r"[а-яё]", w):
        return False
    p = _morph().parse(w)[0]
    return p.normal_form in _RU_DETERMINER or "Apro" in p.tag


def _preposition(word: str) -> bool:
    w = word.lower()
    if re.search(r"[а-яё]", w):
        return _morph().parse(w)[0].tag.POS == "PREP"
    return w in _EN_PREP


def _governing(span: str, phrases: list[Phrase], best: Phrase) -> Phrase:
    """The noun phrase a prepositional phrase hangs on: "скрипт на вечер" names "скрипт", not "вечер". One step
    only: further back the phrase more often hangs on the verb ("keep the notes in a folder of files")."""
    for _ in range(1):
        before = [m for m in _words(span[: best.start])]
        while before and not _preposition(before[-1].group()) and (
                not _content(before[-1].group()) or _determiner(before[-1].group())):
            before.pop()  # "over the docs", "над своими задачами": the article or pronoun is the phrase's
        if not before or not _preposition(before[-1].group()):
            return best
        prev = [p for p in phrases if p.end <= before[-1].start() and not _trim(span[p.end : before[-1].start()])]
        if not prev:
            return best
        best = min(prev, key=lambda p: (-p.end, p.start))
    return best


def _name(span: str, lang: str, near_end: bool, subject: bool = False) -> tuple[str, bool]:
    """(the pole's name, whether it is a noun phrase). The noun phrase at the cue's edge of the span (the last
    content word for a left pole, the first for a right one), longest there, or the one a prepositional phrase
    at the edge hangs on; "с нуля" counts as one. A pole that starts (or ends) with a verb is no noun phrase:
    "fine-tune the model or train one" weighs two actions. `subject`: the left side of a comparison ("гиперфразы
    сжимают лучше, чем …"), whose noun phrase may stand before its verb."""
    if _ZERO.search(span) and (near_end or span.strip().lower().startswith("с нуля")):
        return "с нуля", True
    content = [m for m in _words(span) if _content(m.group()) and not _determiner(m.group())]
    phrases: list[Phrase] = noun_phrases(span, lang)
    if content and phrases:
        if near_end:
            end = max(p.end for p in phrases)
            best = min((p for p in phrases if p.end == end), key=lambda p: p.start)
            edge = best.end >= content[-1].end()
            if edge:
                best = _governing(span, phrases, best)
            elif subject and all(_verbal(m.group()) for m in content if m.start() >= best.end):
                edge = True
        else:
            start = min(p.start for p in phrases)
            best = max((p for p in phrases if p.start == start), key=lambda p: p.end)
            edge = best.start <= content[0].start()
        if edge:
            return best.text, True
    return _trim(span), False


def _verbal(word: str) -> bool:
    w = word.lower()
    if re.search(r"[а-яё]", w):
        return _morph().parse(w)[0].tag.POS in ("VERB", "INFN", "ADVB", "GRND")
    return False


def _adjective(word: str) -> bool:
    w = word.lower()
    if re.search(r"[а-яё]", w):
        return _morph().parse(w)[0].tag.POS in ("ADJF", "PRTF")
    return "ADJ" in en_pos(w) and "VERB" not in en_pos(w)


def _elided(left: str, right: str, lang: str) -> tuple[str, bool] | None:
    """"маленький или большой ранг", "a small or a large rank": the left option is an adjective whose noun is
    said once, on the right; named with it ("маленький ранг")."""
    lw = _words(left)
    if not lw or not _adjective(lw[-1].group()):
        return None
    nps = [p for p in noun_phrases(right, lang) if len(p.lemmas) > 1]
    if not nps:
        return None
    np_ = min(nps, key=lambda p: (p.start, -p.end))
    head = [m for m in _words(right) if np_.start <= m.start() < np_.end][-1]
    if not _adjective(_words(right[np_.start:])[0].group()):
        return None
    joined = noun_phrases(f"{lw[-1].group()} {head.group()}", lang)
    return (joined[0].text, True) if joined and len(joined[0].lemmas) == 2 else None


def _noun(word: str) -> bool:
    w = word.lower()
    if re.search(r"[а-яё]", w):
        return _morph().parse(w)[0].tag.POS == "NOUN"
    return "NOUN" in en_pos(w)


def _values(ls: str, rs: str, lw: list, rw: list, cue: str, sent: str, lang: str) -> Axis | None:
    """"ранг 16 или 64", "rank 16 or 64": two values of one setting, named by the noun before the first; a noun
    after the second makes it a count ("2 или 3 примера"), no option."""
    after = _words(rs)[1:2]
    if after and _noun(after[0].group()):
        return None
    before = [m.group() for m in _words(ls) if m.group().lower() not in ("of", "из")][-2:-1]
    if not before or not _noun(before[0]):
        return None
    return Axis(f"{before[0].lower()} {lw[-1].group()}", f"{before[0].lower()} {rw[0].group()}", cue, sent)


def _pair(sent: str, left: tuple[int, int], right: tuple[int, int], cue: str, lang: str,
          need_nouns: bool = False) -> Axis | None:
    ls, rs = sent[left[0] : left[1]], sent[right[0] : right[1]]
    if not _trim(ls) or not _trim(rs):
        return None
    lw, rw = _words(_trim(ls)), _words(_trim(rs))
    if lw[-1].group().isdigit() and rw[0].group().isdigit():
        return _values(ls, rs, lw, rw, cue, sent, lang)  # "ранг 16 или 64"; "2 или 3 примера" is a count
    ln, lnp = _name(ls, lang, near_end=True, subject=cue == "than")
    rn, rnp = _name(rs, lang, near_end=False)
    if not lnp and rnp and cue in ("or", "vs"):
        ln, lnp = _elided(_trim(ls), rs, lang) or (ln, lnp)
    if not (lnp and rnp):
        if need_nouns:
            return None
        rn = _trim(rs)
        ln = _trim(ls)
        lw = _words(ln)
        keep = len(_words(rn)) + 1  # options are said in parallel: the left one about as long as the right
        ln = ln[lw[-keep].start():] if len(lw) > keep else ln
    if not ln or not rn or ln.casefold() == rn.casefold():
        return None
    return Axis(ln, rn, cue, sent)


# Two voices, one sentence each: "My instinct says X. A friend says Y.", "Одни говорят: X. Другие: Y."
_SAYS = re.compile(r"^(?P<who>(?:[\w'’-]+\s+){0,3}?)(?:says|said|suggests|recommends|argues|insists|"
                   r"говорит|говорят|сказал|сказала|советует|советуют|предлагает|предлагают|считает|считают|"
                   r"настаивает)\b\s*:?\s*", _I)
_OTHERS = re.compile(r"^(?P<who>другие|остальные|others|the others|other people)\s*:\s*", _I)


def _voices(first: str, second: str, lang: str) -> Axis | None:
    a = _SAYS.match(first)
    b = _SAYS.match(second) or _OTHERS.match(second)
    if not a or not b or a.group("who").strip().casefold() == b.group("who").strip().casefold():
        return None
    if not a.group("who").strip() or not b.group("who").strip():
        return None
    names = []
    for sent, m in ((first, a), (second, b)):
        span = sent[slice(*_right_span(sent, m.end()))]
        phrases = noun_phrases(span, lang)
        # a prepositional phrase at the start is the setting ("для личного ассистента только RAG"), not the option
        free = [p for p in phrases if not _preposition_before(span, p.start)]
        if not (free or phrases):
            return None
        names.append(min(free or phrases, key=lambda p: (p.start, -p.end)).text)
    if names[0].casefold() == names[1].casefold():
        return None
    return Axis(names[0], names[1], "voices", first)


def _subjects(x: str, y: str, cue: str, sent: str, lang: str) -> Axis | None:
    """Two options each named by the first noun phrase of its part ("большая модель", "a bigger model")."""
    names = []
    for part in (x, y):
        name, noun = _name(part, lang, near_end=False)
        if not noun:
            return None
        names.append(name)
    if names[0].casefold() == names[1].casefold():
        return None
    return Axis(names[0], names[1], cue, sent)


def _defined(first: str, second: str, lang: str) -> Axis | None:
    """"Архив — это склад. А память — это русло.": the two defined things (noun phrases before the dashes)."""
    a, b = _DEFINED.match(first), _DEFINED_AGAINST.match(second)
    if not a or not b:
        return None
    return _defined_names(a.group("x"), b.group("y"), first, lang)


DEFINED_RUN = 3  # definitions in a row ("X — …. Y — …. А Z — …") the one "а" opens is set against


def _defined_run(run: list[str], against: str, lang: str) -> list[Axis]:
    """"Карточки — это чтение про тренировки. Грамматика — техника. А говорение — нагрузка.": the thing the
    "а" sentence defines is set against each thing defined in the unbroken run of definitions right before it,
    nearest first."""
    out = []
    for first in reversed(run):
        if not _DEFINED.match(first):
            break
        out.extend(a for a in [_defined(first, against, lang)] if a)
    return out


def _defined_names(x: str, y: str, sent: str, lang: str) -> Axis | None:
    names = []
    for part in (x, y):
        name, noun = _name(part, lang, near_end=True)
        if not noun:
            return None
        whole = _trim(part)  # "приложения с карточками — …": the thing defined is the whole phrase, not its head
        if any(_preposition(w.group()) for w in _words(whole)[1:-1]):
            name = whole
        names.append(name)
    if names[0].casefold() == names[1].casefold():
        return None
    return Axis(names[0], names[1], "defined", sent)


def _preposition_before(span: str, start: int) -> bool:
    before = _words(span[:start])
    while before and _determiner(before[-1].group()) or before and _adjective(before[-1].group()):
        before.pop()
    return bool(before) and _preposition(before[-1].group())


def axes(text: str, lang: str = "ru") -> list[Axis]:
    """Every pair of options the person weighs, in order, without repeats."""
    out: list[Axis] = []
    sents = [text[s:e] for s, e in sentence_spans(text)]
    forked = _branch_axes(sents, lang)
    for i, sent in enumerate(sents):
        out.extend(_sentence_axes(sent, lang))
        out.extend(forked.get(i, []))
        if i + 1 < len(sents):
            out.extend(a for a in [_voices(sent, sents[i + 1], lang)] if a)
            out.extend(_defined_run(sents[max(0, i + 1 - DEFINED_RUN) : i + 1], sents[i + 1], lang))
        two = f"{sent} {sents[i + 1]}" if i + 1 < len(sents) else sent
        for rx, cue in ((_HANDS, "hands"), (_OPTIONS, "options")):
            m = rx.search(two)
            if m and m.start() < len(sent):
                out.extend(a for a in [_subjects(m.group("x"), m.group("y"), cue, sent, lang)] if a)
    seen, uniq = set(), []
    for a in out:
        key = frozenset((a.left.casefold(), a.right.casefold()))
        if key not in seen:
            seen.add(key)
            uniq.append(a)
    return uniq


# A rule with two branches weighs their two actions: "пока кусков меньше миллиона, ищу точным перебором; когда
# перевалит за миллион — тогда HNSW", "Если их больше пятисот, … начать с реальных. Если меньше — добиваю
# сгенерированными." Each branch is a clause that opens with a condition (or "иначе"/"otherwise"); two in a row
# set the things their consequents act on against each other.
_BRANCH = re.compile(r"^\W*(?:(?:а|и|но|and|but)\s+)?(?P<cond>если|когда|пока|как только|if|when|whenever|once|until|"
                     r"while|as long as)(?![\w-])|^\W*(?:(?:а|and)\s+)?(?P<else>иначе|в остальных случаях|otherwise|"
                     r"else)(?![\w-])\s*,?\s*", _I)
_THEN = re.compile(r"(?<![\w-])(?:тогда|то|then)(?![\w-])\s*|\s*(?:,|\s[—–]\s)\s*", _I)
_NEGATED = re.compile(r"(?<![\w-])(?:не|нет|not|no|never|без|without)(?![\w-])[^,;:—–]*|n[’']t\b[^,;:—–]*", _I)


# Branches of one rule open alike ("если …. Если …"), or the second takes over where the first ends
# ("пока … ; когда …") or is its "else". "Когда …. Если это правда, то …" are two thoughts, not two branches.
_FOLLOWS = {("пока", "когда"), ("пока", "как только"), ("until", "once"), ("while", "when"), ("until", "when")}


def _branch(clause: str) -> tuple[str, str] | None:
    """(how the branch opens: its condition word or "else", its consequent)."""
    m = _BRANCH.match(clause)
    if not m:
        return None
    if m.group("else"):
        return "else", clause[m.end():]
    then = _THEN.search(clause, m.end() + 3)
    return (m.group("cond").lower(), clause[then.end():]) if then else None


def _parallel(first: str, second: str) -> bool:
    return first == second or second == "else" or (first, second) in _FOLLOWS


def _acted_on(consequent: str, lang: str) -> list[str]:
    """What a branch's consequent acts on, in order: its noun phrases (longest at each start) and the adjectives
    that stand for a noun ("начать с реальных"), outside any negated stretch ("и не трачу время на индекс" sets
    the index aside, it is not the branch's choice)."""
    negated = [m.span() for m in _NEGATED.finditer(consequent)]

    def inside(a: int, b: int) -> bool:
        return any(x <= a and b <= y for x, y in negated)

    found: list[tuple[int, int, str]] = []
    for p in sorted(noun_phrases(consequent, lang), key=lambda p: (p.start, -p.end)):
        if inside(p.start, p.end) or any(a <= p.start < b for a, b, _ in found):
            continue
        first = _words(consequent[p.start:p.end])[0]
        if not _trim(consequent[: p.start]) and _acting(first.group(), lang):
            negated.append((p.start, p.start + first.end()))  # "use retrieval": the verb is no option, its object is
            continue
        if any(not consequent[b : p.start].strip() for _, b in negated) and _particle(p.text, lang):
            continue  # "go back"
        found.append((p.start, p.end, p.text if re.search(r"[а-яё]", p.text, _I) else p.surface))
    for m in _words(consequent):
        if (_adjective(m.group()) and _content(m.group()) and not _determiner(m.group())
                and not inside(*m.span()) and not any(a <= m.start() < b for a, b, _ in found)):
            found.append((m.start(), m.end(), _nominative(m.group())))
    return [t for _, _, t in sorted(found)]


def _acting(word: str, lang: str) -> bool:
    """A verb opening a consequent ("go back to random"): an action, not a thing acted on."""
    if lang != "en" or re.search(r"[а-яё]", word.lower()):
        return _verbal(word)
    return "VERB" in en_pos(word.lower())


def _particle(text: str, lang: str) -> bool:
    return lang == "en" and " " not in text and "ADV" in en_pos(text.lower())


def _nominative(word: str) -> str:
    """An adjective standing for a noun, named as a pole is ("с реальных" → "реальные")."""
    w = word.lower()
    if not re.search(r"[а-яё]", w):
        return w
    p = _morph().parse(w)[0]
    form = p.inflect({"nomn", p.tag.number} if p.tag.number else {"nomn"})
    return form.word if form else w


def _stems_meet(a: str, b: str, lang: str) -> bool:
    """Whether two names share a word root ("генерация вопросов" / "сгенерированными"): then they are one thing."""
    la = [t.lemma for t in analyze(a, lang) if t.pos != "FUNC"] or [a.lower()]
    lb = [t.lemma for t in analyze(b, lang) if t.pos != "FUNC"] or [b.lower()]
    return any(x == y or (len(x) >= 5 and x[:5] in y) or (len(y) >= 5 and y[:5] in x) for x in la for y in lb)


def _branch_axes(sents: list[str], lang: str) -> dict[int, list[Axis]]:
    """Axes of two-branch rules, by the index of the sentence the first branch is in."""
    clauses = [(i, c.strip()) for i, s in enumerate(sents) for c in re.split(r"[;:]", s) if c.strip()]
    out: dict[int, list[Axis]] = {}
    for (i, first), (_, second) in pairwise(clauses):
        one, two = _branch(first), _branch(second)
        if not one or not two or not _parallel(one[0], two[0]):
            continue
        ys = _acted_on(two[1], lang)
        pair = next(((x, y) for x in _acted_on(one[1], lang) for y in ys if not _stems_meet(x, y, lang)), None)
        if pair:
            out.setdefault(i, []).append(Axis(pair[0], pair[1], "branches", f"{first} {second}"))
    return out


def _sentence_axes(sent: str, lang: str) -> list[Axis]:
    found: list[Axis] = []
    taken: list[tuple[int, int]] = []

    def add(axis: Axis | None, span: tuple[int, int]) -> None:
        if axis and not any(a <= span[0] < b or span[0] <= a < span[1] for a, b in taken):
            found.append(axis)
            taken.append(span)

    for rx, cue in ((_NOT_BUT, "not-but"), (_BETWEEN, "between"), (_RATHER, "rather"), (_BUT_NOT, "but-not")):
        for m in rx.finditer(sent):
            x, y = m.span("x"), m.span("y")
            if cue == "but-not":
                x = _left_span(sent, x[1])
            y = _right_span(sent, y[0])
            add(_pair(sent, x, y, cue, lang, need_nouns=cue == "but-not"), m.span())
    for rx, cue in ((_OVER, "over"), (_SO_MUCH, "so-much"), (_EITHER_RU, "either")):
        for m in rx.finditer(sent):
            add(_pair(sent, m.span("x"), _right_span(sent, m.start("y")), cue, lang, need_nouns=cue == "over"),
                m.span())
    for m in _COMPARED.finditer(sent):
        add(_pair(sent, _left_span(sent, m.start()), _right_span(sent, m.start("y")), "compared", lang,
                  need_nouns=True), m.span())
    add(*_lead(sent, lang))
    m = _DEFINED_PAIR.match(sent)
    if m:
        add(_defined_names(m.group("x"), m.group("y"), sent, lang), m.span())
    for rx, cue in ((_VS, "vs"), (_OR, "or")):
        for m in rx.finditer(sent):
            if cue == "or" and _OR_IDIOMS.search(sent[max(0, m.start() - 12) : m.end() + 14]):
                continue
            add(_pair(sent, _left_span(sent, m.start()), _right_span(sent, m.end()), cue, lang), m.span())
    for span in _comparative_genitives(sent):
        add(_pair(sent, _left_span(sent, span[0]), (span[1], span[2]), "comparative", lang, need_nouns=True),
            (span[0], span[2]))
    for m in _THAN.finditer(sent):
        comp = _comparative_before(sent, m.start(), lang)
        if comp is None:
            continue
        c0, c1 = comp
        before = sent[:c0].rstrip()
        after_comp = sent[c1 : m.start()]
        if _trim(after_comp):  # "важнее слепые пятна, чем покрытие": the first option follows the comparative
            x = (c1, m.start())
        else:  # "адаптеры информативнее, чем с нуля": it precedes it
            x = _left_span(sent, len(before))
        add(_pair(sent, x, _right_span(sent, m.end()), "than", lang), (c0, m.end()))
    return found


def _lead(sent: str, lang: str) -> tuple[Axis | None, tuple[int, int]]:
    """"Unlike a summary, a hyperphrase …", "Вместо большой модели я бы взял чистый датасет": the option set aside
    is the noun phrase right after the cue, the one taken the first noun phrase after it (after the comma, if the
    clause has one)."""
    m = _LEAD.match(sent)
    if not m:
        return None, (0, 0)
    rest = sent[m.end() :]
    found = noun_phrases(rest, lang)
    first = [p for p in found if not _trim(rest[: p.start])]  # nothing but articles and the like before it
    if not first:
        return None, (0, 0)
    left = min(first, key=lambda p: (p.start, -p.end))
    comma = rest.find(",", left.end)
    after = [p for p in found if p.start >= (comma if comma >= 0 else left.end)]
    if not after:
        return None, (0, 0)
    right = min(after, key=lambda p: (p.start, -p.end))
    if left.text.casefold() == right.text.casefold():
        return None, (0, 0)
    return Axis(left.text, right.text, "lead", sent), (m.start(), m.end() + right.end)


def _comparative_genitives(sent: str) -> list[tuple[int, int, int]]:
    """"Память важнее фактов": a Russian comparative followed by a genitive noun phrase (what it is compared
    with), not by "чем". (comparative start, genitive phrase start, its end) for each."""
    out = []
    words = _words(sent)
    for i, m in enumerate(words[:-1]):
        w = m.group().lower()
        if not re.search(r"[а-яё]", w) or w in _QUANTITY_COMP:
            continue
        if not any("COMP" in p.tag for p in _morph().parse(w)[:2]):
            continue
        nxt = words[i + 1]
        if _SPAN_BREAK.search(sent, m.end(), nxt.start()):
            continue
        k = i + 1
        while k < len(words) and _adjective(words[k].group()) and not _noun(words[k].group()):
            k += 1
        if k >= len(words) or _SPAN_BREAK.search(sent, m.end(), words[k].start()):
            continue
        head = _morph().parse(words[k].group().lower())
        if not any(p.tag.POS == "NOUN" and p.tag.case == "gent" for p in head[:3]):
            continue
        out.append((m.start(), nxt.start(), words[k].end()))
    return out


def _comparative_before(sent: str, than: int, lang: str) -> tuple[int, int] | None:
    """The comparative ("информативнее", "важнее", "better", "more …") the "чем/than" at `than` answers to."""
    piece = sent[:than]
    brk = max((m.end() for m in re.finditer(r"[.!?;:—]", piece)), default=0)
    for m in reversed(_words(piece[brk:])[-6:]):
        w = m.group().lower()
        if re.search(r"[а-яё]", w):
            if any("COMP" in p.tag for p in _morph().parse(w)[:2]):
                return brk + m.start(), brk + m.end()
        elif _EN_COMP.fullmatch(w) and w not in ("other", "rather", "never", "ever", "whether", "either", "after",
                                                 "over", "under", "number", "user", "layer", "paper", "order"):
            return brk + m.start(), brk + m.end()
    return None


# A sentence that sets one thing against another without a fixed pattern: "сохраняю воду, а надо бы русло",
# "the prose is fine, but the thinking part is slow". Its two sides are read for the text's salient things.
_CONTRAST_LEAD = re.compile(r"^\W*(?:а|но|однако|but|whereas)\s+", _I)
_CONTRAST = re.compile(r"(?:,|—|–)\s*(?:а|но|однако|but|whereas|yet)\s+|\s(?:whereas|однако)\s+", _I)


def contrasts(text: str, things: list[tuple[str, list[str]]]) -> list[Axis]:
    """Axes between the text's salient things (`things`: best first, each its name and the forms it is written
    in) where a sentence names one before a contrast ("…, а …", "…, but …") and another after it: the best
    named on each side."""
    out = []
    sents = sentences(text)
    for i, sent in enumerate(sents):
        m = _CONTRAST.search(sent)
        lead = _CONTRAST_LEAD.match(sent)
        if m:
            before, after = sent[: m.start()].casefold(), sent[m.end() :].casefold()
            window = CONTRAST_WINDOW
        elif lead and i > 0:  # "Архив — это склад. А память — русло.": the sentence before is the other side,
            before, after = sents[i - 1].casefold(), sent[lead.end() :].casefold()
            window = 1  # and the thing is the sentence's first word ("Но это плохой выбор" sets nothing against)
        else:
            continue
        left = next((n for n, forms in things if any(_at(before, f) is not None for f in forms)), None)
        # the thing set against it opens the other side ("а надо бы русло"), it is not somewhere down the clause
        words = after.split()
        while words and words[0] in _ARTICLES:
            words.pop(0)
        head = " ".join(words[:window])
        placed = [(min(p for f in forms if (p := _at(head, f)) is not None), n) for n, forms in things
                  if n != left and any(_at(head, f) is not None for f in forms)
                  and not any(_at(before, f) is not None for f in forms)]
        if left and placed:
            out.append(Axis(left, min(placed)[1], "contrast", sent))
    return out


CONTRAST_WINDOW = 4  # words after the contrast word where the other thing must stand
_ARTICLES = frozenset(["the", "a", "an", "my", "our", "your", "this", "that"])


def _at(text: str, form: str) -> int | None:
    m = re.search(r"(?<![\w-])" + re.escape(form.casefold()) + r"(?![\w-])", text)
    return m.start() if m else None


# --- inversions, hypotheses, transition rules ------------------------------------------------------------

INVERSION = re.compile(
    r"наоборот|а что,? если|что,? если|обратн\w* сторон|переверн|переворач|инверсия:|вывернуть|с другого конца|"
    r"\bwhat if\b|the other way (?:round|around)|\bconversely\b|on the contrary|\bflip\b|\binvert|\bturn it around|"
    r"upside down|the reverse\b|\bthe opposite\b", _I)
HYPOTHESIS = re.compile(
    r"гипотез|предполага|предположу|предположим|подозреваю|допускаю|скорее всего|моя догадка|"
    r"\bhypothes|\bi suspect\b|\bi assume\b|\bmy guess\b|\bi bet\b|\bi suppose\b|\bmy theory\b", _I)
CONDITIONAL = re.compile(r"(?<![\w-])(?:если|if)(?![\w-])[^?]{3,}?(?:,|\bто\b|\bthen\b)\s*\S", _I)
TRANSITION = re.compile(
    r"(?<![\w-])(?:когда|как только|после того,? как|when|whenever|once|as soon as|after)(?![\w-])[^?]{3,}?"
    r"(?:,\s*|\s)(?:тогда|то|then|,)\s*\S|"
    r"(?<![\w-])(?:сначала|сперва|first|start with)(?![\w-])[^?]{3,}?(?:затем|потом|после этого|а потом|then|"
    r"after that|next|once)(?![\w-])|"
    r"(?<![\w-])(?:правило|rule)(?![\w-])\s*(?:для себя|for later)?\s*:", _I)


def _question(sent: str) -> bool:
    return sent.rstrip().endswith("?")


def inversions(text: str) -> list[str]:
    return [s for s in sentences(text) if INVERSION.search(s)]


def hypotheses(text: str) -> list[str]:
    """Sentences that state a hypothesis: named as one, or an "if …, then …" claim (not a question)."""
    out = []
    for s in sentences(text):
        if HYPOTHESIS.search(s) or (CONDITIONAL.search(s) and not _question(s) and not TRANSITION.search(s)):
            out.append(s)
    return out


def transition_rules(text: str) -> list[str]:
    """Sentences with a rule of passage: "когда …, тогда …", "сначала …, затем …", "once …, …"."""
    return [s for s in sentences(text) if TRANSITION.search(s) and not _question(s)]
