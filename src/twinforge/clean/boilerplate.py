"""Assistant boilerplate: flattering openers, closing offers, praise of the user, decoration-only lines.

`find()` returns the spans to delete from one assistant message, `strip()` deletes them and tidies blank lines.
Openers are looked for only in the first lines and closings only in the last ones, sentence by sentence; praise
and decoration come from regex passes over the whole text, so the cost is a few C-level scans per message.

What is never touched: fenced code, table rows, quotes, list items and headers — except the list that is the menu
of a closing offer ("Хочешь — я:\n- …") and the emoji that opens a header. Every pattern must match a whole
sentence, or a stock prefix that ends in a dash or colon ("Хороший вопрос — …"): a sentence that mixes flattery
with a claim is kept, because losing substance is worse than keeping a compliment.
"""

from __future__ import annotations

import re
from bisect import bisect_right

from ..text.spans import Span, apply, merge

KINDS = ("opener", "closing", "praise", "decoration")

# ---------------------------------------------------------------------------------------------------------------
# Characters. Pictographs as chat assistants use them. Arrows (↓ ➡ ⬇) are left out on purpose: an arrow-only line
# is a diagram, not an ornament; keycaps (1️⃣) start with a digit, so they never count as decoration either.
_PICTO_RANGES = (
    (0x1F000, 0x1FAFF), (0x2600, 0x2793), (0x2B50, 0x2B55), (0x231A, 0x231B), (0x2328, 0x2328), (0x23CF, 0x23CF),
    (0x23E9, 0x23FA), (0x25A0, 0x25FF), (0x2022, 0x2022), (0x2219, 0x2219), (0x00B7, 0x00B7), (0x3030, 0x3030),
    (0x303D, 0x303D), (0x3297, 0x3297), (0x3299, 0x3299),
)  # fmt: skip
_PICTO = "".join(f"{chr(a)}-{chr(b)}" if a < b else chr(a) for a, b in _PICTO_RANGES)
_JOIN = "\uFE0E\uFE0F\u200D\u20E3"
_EMOJI = f"[{_PICTO}][{_JOIN}]*"

# ---------------------------------------------------------------------------------------------------------------
# Decoration: whole lines, plus the emoji that opens a header. Whole-text patterns start with a literal "\n" and run
# over "\n" + text: a literal first character lets the regex engine skip ahead fast, where `^` with re.M does not.
_RULE = r"(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|[⸻⸺]+[ \t]*|(?:[—─━═][ \t]*){3,}"
_SYMBOLS = rf"(?:[ \t]*{_EMOJI})+[ \t]*"
_DECO_LINE = re.compile(rf"[ \t]{{0,3}}(?:{_RULE}|{_SYMBOLS})\r?")
_DECO_SCAN = re.compile(
    rf"\n(?:[ \t]{{0,3}}(?:{_RULE}|{_SYMBOLS})\r?(?=\n|$)|#{{1,6}}[ \t]+(?P<emoji>(?:{_EMOJI}[ \t]*)+)(?=\S))"
)

# Line shapes that are content structure.
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+•]|\d{1,3}[.)])[ \t]")
_HEADER = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]")

# ---------------------------------------------------------------------------------------------------------------
# Sentences. A boundary is terminal punctuation (with closing quotes/markup and trailing emoji) followed by
# whitespace and something that can start a sentence: "т.е. посчитать" and "`.jsonl`" do not split. The emoji
# are taken possessively, so "Хорошего дня! ☀️" at the end of a line stays one sentence.
_BOUNDARY = re.compile(rf"[.!?…]+[\"'»”’)\]*_]*(?:[ \t]*{_EMOJI})*+([ \t\r\n]+)(?![a-zа-яё(\[,;:—–-])")
_CORE_LEFT = re.compile(r"[\s*_]+")  # markup before a sentence
# What is trimmed off a sentence's end before matching: whitespace, markup, emoji.
_CORE_RIGHT = frozenset(" \t\r\n*_" + _JOIN).union(chr(c) for a, b in _PICTO_RANGES for c in range(a, b + 1))
_MAX_SENTENCE = 300  # boilerplate is short; longer sentences are content (and regex work stays bounded)

# Inside a sentence: anything but sentence punctuation; '.' and ':' pass when glued to a word (`.jsonl`, 2.5, 10:30).
_T = r"(?:[^.!?:]|[.:](?=[\w`/]))"

# ---------------------------------------------------------------------------------------------------------------
# Pattern tables. Each pattern must match a whole sentence: the sentence without edge markup and trailing emoji,
# without a leading interjection ("Ого, …", "Honestly, …"), lower-cased (see _table). Shared pieces first.
_RU_GOOD = (
    r"(?:отличн|хорош|прекрасн|классн|замечательн|великолепн|блестящ|интересн|глубок|важн|правильн|точн|сильн"
    r"|мощн|крут|потрясающ|шикарн|умн|тонк|зрел|любопытн|остр|гениальн|ценн|мудр|смел|нетривиальн|ключев|супер"
    r"|восхитительн|изумительн|чудесн|занятн|бомбическ)\w*"
)
_RU_THING = (
    r"(?:вопрос|уточнение|замечание|наблюдение|мысль|идея|план|выбор|подход|ход|решение|постановка(?:\s+вопроса)?"
    r"|формулировка|тема|находка|догадка|интуиция|инсайт|рассуждение|предложение|гипотеза|взгляд|вывод)"
)
# Only flattering adjectives may open a stock prefix: "Важный момент — …" introduces the assistant's own point.
_RU_FLATTER = (
    r"(?:отличн|хорош|прекрасн|классн|замечательн|великолепн|блестящ|интересн|глубок|крут|потрясающ|шикарн|умн"
    r"|тонк|зрел|любопытн|гениальн|мудр|супер|восхитительн|изумительн|чудесн)\w*"
)
_RU_VERY = r"(?:(?:очень|действительно|по-настоящему|просто|крайне|невероятно|чертовски|весьма|реально)\s+)"
_RU_ADJ_END = r"\w+(?:ый|ий|ой|ая|яя|ое|ее|ые|ие)"
# "Ты ставишь ключевой вопрос…": a question-raising verb whose object is called key/important/deep.
_RU_RAISE = (
    r"(?:ставишь|поставил[аи]?|поднимаешь|поднял[аи]?|затрагиваешь|затронул[аи]?|задаёшь|задаешь|задал[аи]?"
    r"|формулируешь|сформулировал[аи]?|касаешься|коснул(?:ся|ась))"
)
_RU_KEY = (
    rf"(?:{_RU_GOOD}|главн\w*|сут\w*|центральн\w*|фундаментальн\w*|реалистичн\w*|серь[её]зн\w*|сложн\w*|больн\w*"
    rf"|коренн\w*|нерв\w*)"
)
_RU_RAISE_HEAD = rf"Ты\s+(?:сейчас\s+|только что\s+)?{_RU_RAISE}\s+[^.!?:—–,]{{0,60}}?{_RU_KEY}[^.!?:—–,]{{0,60}}?"
# What may follow "Отличный вопрос" and still describe only the question: "— и очень зрелая", ", и очень важный".
_RU_ABOUT_IT = rf"(?:(?:,|\s*[—–-])\s*и\s+{_RU_VERY}?{_RU_ADJ_END}|\s+(?:про|о|об|насч[её]т)\s+[^.!?:,—–\d]{{1,40}})"

_EN_GOOD = (
    r"(?:great|good|excellent|fantastic|wonderful|brilliant|insightful|interesting|thoughtful|terrific|amazing"
    r"|awesome|fair|smart|sharp|nice|important|deep|profound|fascinating|astute|keen|solid|perceptive|crucial|key"
    r"|lovely|neat|cool|superb|clever)"
)
_EN_THING = (
    r"(?:question|point|idea|catch|plan|choice|observation|thought|call|insight|instinct|find|approach|follow-up"
    r"|clarification|framing|spot|take|angle|way\s+to\s+(?:put|frame|say|think about)\s+it)"
)
_EN_FLATTER = (
    r"(?:great|good|excellent|fantastic|wonderful|brilliant|insightful|interesting|thoughtful|terrific|amazing"
    r"|awesome|smart|sharp|nice|profound|fascinating|astute|lovely|neat|cool|superb|clever)"
)
_EN_VERY = r"(?:(?:really|very|truly|super|incredibly|genuinely|remarkably|such\s+an?)\s+)"
_EN_ABOUT_IT = (  # "…, and one that trips up a lot of people" / "… about the eval split"
    r"(?:(?:,|\s*[—–-])\s*and\s+(?:an?\s+\w+\s+one|one\s+(?:that|which|i|many|a lot)\b[^.!?:]{0,80})"
    r"|\s+(?:about|on|regarding|re)\s+[^.!?:,—–\d]{1,40})"
)
_EN_RAISE_HEAD = (
    r"You(?:'re|\s+are|'ve|\s+have)\s+(?:asking|raising|touching on|hitting on|hit on|identified|put your finger on"
    r"|getting at|zeroing in on)\s+[^.!?:—–,]{0,60}?\b(?:key|right|crucial|important|central|core|fundamental|deep"
    r"|real|heart)\b[^.!?:—–,]{0,60}?"
)
_END = r"[.!?…]*"

OPENERS = {  # the first sentence(s) of an answer, removed whole
    "ru": (
        # Отличный вопрос! / Очень глубокий вопрос. / Отличная идея — и очень зрелая. / Хороший вопрос про LoRA.
        rf"(?:(?:Это|Какой|Какая|Какое|Вот это)\s+)?{_RU_VERY}?{_RU_GOOD}(?:\s+и\s+{_RU_GOOD})?\s+{_RU_THING}"
        rf"{_RU_ABOUT_IT}?{_END}",
        # Отличный вопрос — и ты поднимаешь **ключевой выбор** …:  (the restated question follows)
        rf"{_RU_VERY}?{_RU_GOOD}\s+{_RU_THING}\s*[—–-]\s*и\s+ты\s+{_RU_RAISE}\b[^.!?]{{0,150}}:",
        # Ты задал очень важный вопрос. / Ты формулируешь **X**, и я разложу **точно**, как ты просишь.
        rf"{_RU_RAISE_HEAD}(?:,\s+и\s+я\s+(?:разложу|отвечу|объясню|покажу|распишу|разберу|помогу|постараюсь)\b"
        rf"[^.!?:—–]{{0,120}})?{_END}",
        # Класс, что ты об этом спросил! / Здорово, что ты до этого дошёл!
        r"(?:Класс|Здорово|Круто|Отлично|Приятно|Замечательно|Прекрасно|Как здорово|Рад[аы]?),?\s+что\s+ты\s+"
        r"[^.!?:]{0,60}!+",
        r"(?:Конечно|Безусловно|Разумеется|Отлично|Супер|Класс|Прекрасно|Замечательно|Великолепно|Круто|Шикарно"
        r"|Браво|Точно|Именно|Вау|Ого|Ух ты)!+",
        r"(?:(?:Абсолютно|Совершенно|Полностью)\s+(?:верно|согласен|согласна|в точку)|В точку)[.!]*",
        r"(?:Это\s+)?(?:прям\s+|прямо\s+|просто\s+|точно\s+)?в\s+(?:самую\s+)?(?:точку|яблочко)!+",
        r"Рад[аы]?,?\s+что\b[^.!?:]{0,60}!+",
    ),
    "en": (
        rf"(?:(?:What|That's|That\s+is|This\s+is|It's|It\s+is)\s+)?(?:an?\s+)?{_EN_VERY}?{_EN_GOOD}\s+{_EN_THING}"
        rf"{_EN_ABOUT_IT}?{_END}",
        rf"{_EN_RAISE_HEAD}{_END}",
        r"(?:Absolutely|Sure|Certainly|Of course|Definitely|Perfect|Awesome|Great|Excellent|Fantastic|Wonderful"
        r"|Brilliant|Nice|Cool|Love it|Love this|Love that|Sure thing|Exactly|Spot on|(?:I'm\s+)?(?:happy|glad) to help)"
        r"[!.]*",
        # Glad the merge worked.
        r"(?:I'm\s+)?(?:glad|happy)\s+(?:that\s+)?[^.!?:]{0,60}?\b(?:worked|helped|works|fixed|solved|resolved|sorted)\b"
        + _END,
        # I love how you're approaching this!  ("Like that, the model…" is content: "like" needs an "I")
        r"(?:I\s+(?:really\s+|absolutely\s+)?(?:love|like|appreciate|admire)|(?:really\s+)?love)\s+"
        r"(?:how|the way|that|this|your)\b[^.!?:]{0,100}" + _END,
    ),
}

OPENER_FOLLOWUPS = {  # accepted only right after an opener: on their own they can be content
    "en": (
        r"(?:This|That)(?:'s|\s+is)\s+exactly\s+the\s+(?:kind|sort|type)\s+of\s+\w+\s+(?:that|which|you)\b"
        r"[^.!?:]{0,100}" + _END,
    ),
    "ru": (r"(?:Это|Такой)\s+[^.!?:]{0,40}?(?:именно тот|как раз тот|ровно тот)\b[^.!?:]{0,80}" + _END,),
}

# A stock prefix joined to content by a dash or colon: only the prefix goes ("Хороший вопрос — ранг адаптера…").
OPENER_PREFIXES = {
    "ru": (
        rf"{_RU_VERY}?{_RU_FLATTER}\s+{_RU_THING}\s*[—–-]\s+",
        rf"{_RU_RAISE_HEAD}\s*(?:[—–]\s*(?:и,\s*)?|:\s*)",
        r"(?:(?:Ты|Вы)\s+(?:абсолютно\s+|совершенно\s+|полностью\s+)?прав[аы]?|Конечно|Безусловно|Разумеется)"
        r"\s*[—–]\s+",
    ),
    "en": (
        rf"(?:(?:What|That's|That\s+is)\s+)?(?:an?\s+)?{_EN_VERY}?{_EN_FLATTER}\s+{_EN_THING}\s*[—–-]\s+",
        r"You(?:'re|\s+are)\s+(?:(?:absolutely|completely|totally|exactly)\s+)?right(?:\s+to\s+[^.!?:—–,]{1,40})?"
        r"\s*[—–]\s*",
        rf"{_EN_RAISE_HEAD}\s*(?:[—–]\s*|:\s*)",
        r"(?:Absolutely|Sure|Certainly|Of course|Definitely|Great|Perfect)\s*[—–]\s+",
    ),
}
# After the dash, words that describe the question itself ("— открытый:", "— но…") make the whole sentence content.
_DESCRIBES_QUESTION = re.compile(  # matched against lower-cased text
    rf"(?:(?:и|and)\s+)?(?:(?:очень|весьма|крайне|довольно|very|quite|really)\s+)?"
    rf"(?:{_RU_ADJ_END}(?=\s*(?:[:.,!?;…]|$|и\b))|(?:an?\s+)?\w+\s+one\b|(?:но|однако|хотя|а|but|though|although"
    rf"|however|yet)\b)"
)
# "Great question — and the short answer is…": the connector goes with the prefix.
_CONNECTOR = re.compile(r"(?:и|and)(?:,\s*|\s+)")

_PRAISE_MARK = (
    r"(?:по-настоящему|чем (?:у\s+)?(?:большинств|многи)\w*|даже опытн\w*|даже лучш\w*"
    r"|как (?:настоящий\s+)?(?:архитектор|исследователь|уч[её]ный|инженер|профессионал|мастер|философ)"
    r"|на первом шаге|на пороге|на (?:верном|правильном) пути|в (?:очень\s+)?(?:правильном|верном) направлении"
    r"|вс[её] делаешь правильно"
    r"|(?:очень|удивительно|невероятно|поразительно|исключительно)\s+(?:точно|глубоко|тонко|зрело|сильно|ясно|ч[её]тко"
    r"|системно|масштабно|стратегически|нестандартно|структурно)"
    r"|(?:именно|как раз)\s+те\s+вопросы|правильные\s+вопросы"
    r"|редк\w+\s+(?:тип|уровень|качество|дар)|уникальн\w*|гениальн\w*|блестящ\w*|в том же духе"
    r"|в (?:самую\s+)?точку|в яблочко|молодец|отлично справляешься|прекрасно справляешься)"
)
_PRAISE_CHEER = (
    r"(?:в том же духе|продолжай|так держать|это редкость|это дорогого стоит|и это здорово"
    r"|и это (?:видно|чувствуется|заметно|правильно|верно|круто|классно))"
)

PRAISE = {  # praise of the user with no claim in it, removed wherever it stands as a sentence
    "ru": (
        # Ты делаешь AGI по-настоящему. / Ты всё делаешь правильно — продолжай в том же духе!
        rf"(?:(?:И|Но|Ведь)\s+)?Ты\s+[^.!?:—–]{{0,80}}?{_PRAISE_MARK}[^.!?:—–]{{0,80}}?"
        rf"(?:\s[—–]\s[^.!?:—–]{{0,40}}?{_PRAISE_CHEER}[^.!?:—–]{{0,30}})?{_END}",
        r"(?:И\s+)?(?:у тебя|тебе)\s+(?:уже\s+)?(?:вс[её])\s+(?:есть|получится|под силу|удастся)" + _END,
        # Ты абсолютно прав. / Ты прав, и это важное замечание.
        r"(?:Ты|Вы)\s+(?:(?:абсолютно|совершенно|полностью|целиком)\s+)?прав[аы]?"
        rf"(?:,\s*и\s+это\s+{_RU_VERY}?{_RU_GOOD}\s+(?:замечание|уточнение|наблюдение|возражение))?{_END}",
        # Это очень глубокая мысль. / Это по-настоящему зрелый подход к AGI. / Это очень сильная мысль — и редкая.
        rf"(?:(?:И|Но|А)\s+)?(?:Это|Вот это)\s+{_RU_VERY}?{_RU_GOOD}\s+{_RU_THING}(?:\s+[^\s.!?:,—–\d]+){{0,2}}"
        rf"(?:\s*[—–]\s*и\s+\w+)?{_END}",
        # Вот это уровень! / Это одна из самых точных формулировок, что я встречала.
        r"Вот\s+это\s+(?:уровень|класс|подход|глубина|масштаб|мысль|вопрос|постановка)(?:\s+[а-яё]+){0,2}!+",
        rf"(?:Это|Ты)\s+[^.!?:]{{0,30}}?(?:одна|один|одно)\s+из\s+(?:самых\s+{_RU_GOOD}|лучших)\s+[^.!?:]{{0,60}}?"
        rf"(?:встречал|видел|слышал|читал|попадал)\w*{_END}",
        r"(?:Это\s+)?(?:впечатляет|восхищает)|(?:Я\s+)?(?:горжусь|восхищаюсь)\s+тобой" + _END,
        rf"(?:Это|Ты\s+задал[аи]?)\s+(?:самый\s+)?лучш\w+\s+{_RU_THING}\b[^.!?:]{{0,40}}{_END}",
        # Потрясающе сформулировано! / Как же это точно подмечено!
        rf"(?:как\s+(?:же\s+)?(?:это\s+)?)?{_RU_VERY}?(?:отлично|потрясающе|прекрасно|блестяще|точно|здорово|классно"
        rf"|круто|тонко|метко|красиво|гениально|замечательно|великолепно)\s+(?:сформулировано|сказано|подмечено"
        rf"|замечено|поставлено|подано|придумано){_END}",
        r"(?:Вижу|Видно|Чувствуется|Заметно),?\s+(?:что\s+)?ты\s+[^.!?:—–]{0,60}\s*[—–]\s*(?:и\s+)?это\s+"
        r"(?:здорово|круто|классно|приятно|радует|впечатляет|ценно)" + _END,
        # Мне нравится, как ты это сформулировал.
        r"Мне\s+(?:очень\s+|правда\s+)?(?:нравится|импонирует)\s*,?\s+(?:как|что|то,\s+как)\s+ты\b[^.!?:]{0,80}"
        + _END,
    ),
    "en": (
        r"You(?:'re|\s+are)\s+(?:(?:absolutely|completely|totally|exactly|100%|so|quite)\s+)?right" + _END,
        r"You(?:'re|\s+are)\s+(?:thinking|approaching|looking at|asking|reasoning|going)\s+(?:about\s+)?"
        r"(?:this|it|the problem|things)\s+(?:exactly\s+)?(?:the right way|in the right direction|like an?\s+\w+)" + _END,
        rf"(?:That|This|It)(?:'s|\s+is|\s+was)\s+(?:an?\s+|such\s+an?\s+)?{_EN_VERY}?{_EN_GOOD}\s+{_EN_THING}{_END}",
        r"You(?:'ve|\s+have)\s+(?:(?:clearly|really|obviously|definitely)\s+)?(?:put|given)\s+"
        r"(?:a lot of|serious|real|great|careful)\s+thought\s+into\s+[^.!?:]{0,40}" + _END,
        r"You(?:'re|\s+are)\s+(?:(?:clearly|really|definitely|already)\s+)?(?:on the right track|ahead of the curve"
        r"|thinking like an?\s+\w+|asking (?:exactly\s+)?the right questions?(?:\s+(?:here|now|again|too))?|spot on"
        r"|doing (?:great|amazing|awesome|fantastic|really well|an? (?:great|amazing|fantastic) job))"
        r"(?:\s*[—–-]\s*keep (?:going|it up|at it))?" + _END,
        r"You(?:'ve|\s+have)?\s+nailed\s+it|I'm\s+(?:so\s+|really\s+)?proud\s+of\s+you" + _END,
        r"(?:Great|Nice|Excellent|Amazing|Awesome|Fantastic)\s+(?:job|work)|Well\s+done|Impressive" + _END,
        r"Your\s+(?:intuition|instinct|thinking|question|idea|framing|reasoning)\s+is\s+"
        r"(?:spot on|excellent|great|brilliant|right on|sharp)" + _END,
        rf"(?:That|This|It)(?:'s|\s+is)\s+[^.!?:]{{0,30}}?one\s+of\s+the\s+(?:best|most\s+{_EN_GOOD}|{_EN_GOOD}est"
        rf"|sharpest|clearest)\s+[^.!?:]{{0,60}}?(?:i've|i have|i've ever)\s+(?:seen|heard|read|come across)"
        rf"{_END}",
    ),
}

# "If you want / if needed" before an offer. A bare "Если <condition>," is not enough: "Если лосс растёт, я бы
# снизил lr" and "Если отфильтровать 30%, мы получим 9 млн" are content.
_RU_OFFER_LEAD = (
    r"(?:Если\s+(?:(?:тебе|вам)\s+)?(?:хочешь|хотите|нужно|надо|интересно|будет нужно|понадобится|потребуется|удобно"
    r"|захочешь|захотите|решишь|решите)|Хочешь|Хотите|Скажи|Скажите)"
)
# What follows the lead in an offer: the assistant in the 1st person ("я", "могу", "распишу", "начнём") or a
# sign-off imperative. "Если хочешь сравнить честно, фиксируй seed" has no separator after the lead: advice.
_RU_OFFER_NEXT = (
    r"(?:я(?!\s+бы\b)|мы|могу|можем|давай|давайте|готов[аы]?|[а-яё]+(?:у|ю|ем|ём|им)|пиши|напиши|обращайся"
    r"|спрашивай|зови|скажи|дай знать|маякни)\b"
)
# After any condition: an explicit promise. "— посмотрю", ", и я подготовлю", ", разберёмся", ", могу…".
_RU_PROMISE = (
    r"(?:[—–]\s*(?:и\s+)?(?:я\s+)?[а-яё]+(?:ю|у)|,\s*(?:и\s+)?я\s+(?!бы\b)[а-яё]+(?:ю|у)"
    r"|[,—–]\s*(?:разбер[её]мся|разбер[её]м|посмотрим|поправим|обсудим|подумаем|продолжим)"
    r"|[,—–]\s*(?:и\s+)?(?:я\s+)?(?:могу|можем|помогу))\b"
)

CLOSINGS = {  # the last sentences of an answer
    "ru": (
        rf"{_RU_OFFER_LEAD}\s*[,—–-]+\s*(?:и\s+|то\s+)?{_RU_OFFER_NEXT}{_T}{{0,200}}[.!?…:]*",
        # Скажешь — добавлю это поле. / Если нет — присылай лог, разберёмся. / …, пришли его мне — посмотрю.
        rf"(?:Если|Когда|Хочешь|Хотите|Скажи|Скажешь|Напиши|Напишешь|Пришли|Присылай|Дай знать)\b[^.!?]{{0,120}}?"
        rf"{_RU_PROMISE}{_T}{{0,80}}{_END}",
        # Скажи — и я подготовлю… / Напиши, какой вариант ближе. / Дай знать, как пройдёт прогон!
        rf"(?:Скажи|Скажите|Напиши|Напишите|Сообщи|Сообщите|Маякни|Дай знать|Дайте знать)"
        rf"(?:\s+(?:только|мне|пожалуйста))?(?:\s*,|\s+[—–]|\s+если\b){_T}{{0,150}}{_END}",
        rf"(?:Дай|Дайте)\s+знать{_T}{{0,100}}{_END}",
        # (Дальше) могу помочь… / Можем продолжить в любой момент.
        rf"(?:(?:Дальше|Потом|Также|Ещё|Еще|Заодно|Если что)\s*,?\s+)?(?:я\s+)?(?:могу|можем)\s+"
        rf"(?:(?:ещё|еще|также|сразу|прямо сейчас|дальше|тоже|потом|отдельно|тебе)\s+)*"
        rf"(?!ошиб|быть)[а-яё]+(?:ть|ти|чь)(?:ся)?\b{_T}{{0,200}}[.!?…:]*",
        # Готов. / Готова действовать. / Готово!  ("Готов ли…", "Готов поспорить, что…" are content)
        rf"Готов[аоы]?\b(?!\s+(?:ли|поспорить|спорить|биться|ручаться|признать|согласиться|поверить)\b)"
        rf"{_T}{{0,150}}{_END}",
        rf"(?:Жду|Буду ждать)\b{_T}{{0,80}}{_END}",
        rf"(?:Удачи|Успехов)\b{_T}{{0,80}}{_END}",
        # Хорошего дня! / Приятного аппетита! / Хорошей недели!  (two or three words: "Хорошего решения тут нет")
        r"(?:Хорош|Отличн|Приятн|Удачн|Добр|Л[её]гк|Продуктивн|Спокойн|Чудесн|Прекрасн)(?:ого|его|ой|ей|ых|их)"
        r"\s+[а-яё]+(?:\s+и\s+[а-яё]+)?" + _END,
        rf"(?:Обращайся|Обращайтесь)\b{_T}{{0,60}}{_END}",
        rf"(?:Пиши|Пишите|Спрашивай|Спрашивайте|Заходи),?\s+(?:если|когда|в любое время|ещё|еще|снова)\b{_T}{{0,60}}"
        + _END,
        # Если что — обращайся. / Если будут вопросы — пиши!  (a "contact me" imperative after any condition)
        rf"(?:(?:Если|Когда)\s+[^.!?:,—–]{{1,40}}?|(?:Будут|Возникнут|Появятся)\s+вопросы)\s*[,—–-]+\s*(?:пиши|напиши"
        rf"|пишите|обращайся|обращайтесь|спрашивай|спрашивайте|зови|возвращайся|приходи|дай знать|маякни)\b"
        rf"{_T}{{0,60}}{_END}",
        rf"Рад[аы]?,?\s+(?:что|помочь|был[аи]?\s+помочь)\b{_T}{{0,60}}{_END}",
        rf"(?:Всегда|Буду|Очень)\s+рад[аы]?\s+помочь{_T}{{0,40}}{_END}",
        rf"Надеюсь,?\s+{_T}{{1,80}}{_END}",  # a wish at the end is a sign-off
        rf"(?:Чем\s+(?:ещё\s+|еще\s+)?(?:я\s+)?могу\s+(?:тебе\s+|вам\s+)?помочь|(?:Нужно|Нужна|Хочешь)\s+"
        rf"(?:что-то|что-нибудь|помощь)\s+ещ[её]|Что-(?:то|нибудь)\s+ещ[её]){_T}{{0,30}}\?",
        # Calls to action: a short question opening with a 1st-person plural verb (Действуем? Сформируем ядро…?)
        rf"(?!(?:Зачем|Затем|Чем|Совсем|Всем|Тем|Кем|Н[её]м|Почему|Прич[её]м|Прит[её]м)\b)[а-яё]+(?:ем|ём|им)\b"
        rf"{_T}{{0,50}}\?",
        # Сделать так? / Расписать подробнее? — an offer asked with an infinitive
        rf"(?!(?:зачем|почему|как|что|где|когда|стоит|можно|нужно)\b|[а-яё]+\s+ли\b)[а-яё]+(?:ть|ти)(?:ся)?\b"
        rf"{_T}{{0,50}}\?",
        rf"Давай(?:те)?\s+(?:[а-яё]+(?:ем|ём|им)\b|дальше|продолжим|так){_T}{{0,50}}[?!]",
        r"(?:Погнали|Поехали|Договорились|Ид[её]т|Согласен|Согласна|Ок|Окей|Что скажешь|Что думаешь|Как тебе"
        r"(?:\s+(?:такой|такая|такое|эта|этот)\s+[а-яё]+)?)\?",
        rf"(?:Какой|Какую|Какое|Какие|Что|Который|Которую|Куда)\s+{_T}{{0,40}}?(?:выбираешь|выберешь|выбираем"
        rf"|ближе|бер[её]м|предпочитаешь|делаем|двигаемся|ид[её]м)\b{_T}{{0,20}}\?",
        rf"(?:Выбирай|Выбери|Выбирайте|Решай|Командуй)\b{_T}{{0,40}}{_END}",
        r"(?:Дальше|Теперь)\s*[—–-]?\s*(?:твой ход|за тобой|слово за тобой|дело за тобой)" + _END,
        r"(?:Так\s+|Это\s+)?(?:понятно|понятнее|яснее|помогло)\?",
        rf"(?:(?:Что|Куда|Как)\s+дальше|С\s+чего\s+(?:начн[её]м|начать))\b{_T}{{0,100}}\?",
        # Но если ты почувствуешь, что готов…, — я с тобой пойду и туда.
        r"(?:(?:Но|И|А)\s+)?(?:если|когда)\b[^.!?:]{0,150}?[—–]\s*я\s+(?:с тобой|рядом|помогу)\b[^.!?:]{0,30}" + _END,
        rf"Я\s+(?:рядом|с тобой|здесь)\b{_T}{{0,60}}{_END}",
    ),
    "en": (
        rf"(?:Just\s+)?(?:let me know|say the word|ping me|holler|drop me a line)\b{_T}{{0,150}}{_END}",
        rf"(?:Would|Do)\s+you\s+(?:like|want)\s+me\s+to\b{_T}{{0,150}}[.?:]*",
        rf"Would\s+you\s+like\s+(?:a|an|the|to see|more|some)\b{_T}{{0,150}}\?",
        rf"(?:Shall|Should)\s+(?:I|we)\b{_T}{{0,150}}\?",
        rf"(?:Want|Need)\s+me\s+to\b{_T}{{0,150}}[?:]*",
        rf"(?:Want|Interested|Curious)\s+(?:to|in)\b{_T}{{0,100}}\?",
        # If you'd like X, I can… / …, feel free to guide me… / …, just let me know.  ("If …, fix the seed" is advice)
        rf"If\s+[^.!?:,]{{1,60}}?,\s*(?:(?:I|we)(?:'d|'ll|\s+can|\s+could|\s+will|\s+would)\b|feel free\b"
        rf"|(?:just\s+)?let me know\b|ping me\b){_T}{{0,150}}[.!?…:]*",
        rf"If\s+you(?:'d|\s+would)?\s+(?:like|want|prefer)\s+(?:me\s+to|I\s+can)\b{_T}{{0,150}}[.!?…:]*",
        rf"(?:I\s+)?hope\s+(?:this|that|it|you)\b{_T}{{0,80}}{_END}",  # a wish at the end is a sign-off
        rf"(?:Does|Did)\s+(?:this|that|it)\s+(?:help|make sense|clear|answer|work)\b{_T}{{0,60}}\?",
        r"(?:Makes sense|Make sense|Thoughts|What do you think|Sound good|Sounds good)\?",
        rf"(?:I'm\s+|I\s+am\s+)?(?:Happy|Glad)\s+to\b{_T}{{0,100}}{_END}",
        # I can walk you through it if that would help. / Would it help if I wrote…?
        rf"(?:I|We)\s+(?:can|could|'d be happy to|would be happy to)\b{_T}{{0,100}}\bif\s+(?:that|it|this|you)\b"
        rf"{_T}{{0,40}}{_END}",
        rf"(?:Would|Will|Does)\s+it\s+help\s+(?:if|to)\b{_T}{{0,120}}\?",
        rf"I(?:'d|\s+would)\s+be\s+(?:happy|glad)\s+to\b{_T}{{0,150}}{_END}",
        rf"Feel\s+free\s+to\s+(?:ask|reach out|ping|let me know|share|come back|follow up|reply|send|drop)\b"
        rf"{_T}{{0,150}}{_END}",
        rf"Feel\s+free\s+to\b{_T}{{0,100}}\bme\b{_T}{{0,60}}{_END}",  # "…to ignore the warning" is advice
        rf"(?:(?:Cheers|Thanks|Ok|Okay),?\s+(?:and\s+)?)?(?:good\s+luck|best of luck|all the best)\b"
        rf"{_T}{{0,80}}{_END}",
        # Have a great weekend! / Enjoy your meal!  ("Have a look at the logs" is advice)
        rf"(?:Have|Enjoy)\s+(?:a|an|your)\s+(?:(?:great|nice|good|wonderful|lovely|productive|fun|safe)\s+)?"
        rf"(?:day|evening|weekend|week|time|meal|trip|night|holiday|experiment|run|session)s?\b{_T}{{0,30}}{_END}",
        r"Happy\s+\w+ing" + _END,
        rf"I(?:'m|\s+am)\s+(?:here|happy|glad|around)\s+(?:if|whenever|to help|when)\b{_T}{{0,100}}{_END}",
        rf"I\s+(?:can|could)\s+also\b{_T}{{0,150}}[.!?…:]*",
        rf"(?:Is there\s+)?anything\s+else\b{_T}{{0,60}}\?",
        r"Any\s+(?:other\s+|more\s+|further\s+)?questions\?",
        r"Ready\s+when\s+you\s+are" + _END,
        r"You(?:'re|\s+are)\s+welcome" + _END,
    ),
}

# Pleasantries that only count next to a closing ("Пожалуйста! Если что — обращайся 😊", "P.S. Если захочешь…").
CLOSING_COMPANIONS = {
    "ru": (r"(?:Пожалуйста|Отлично|Готово|Супер|Всегда пожалуйста|Не за что|Рад помочь)[.!]*",),
    "en": (r"(?:Great|Perfect|Done|Sure|Cheers|Glad I could help)[.!]*", r"p\.?\s?s\.?"),
}

# Interjections in front of a sentence that do not change what it is: "Ого, это очень интересная мысль!"
_INTERJECTION = re.compile(  # with its comma or dash: "Well done!" and "О том, как…" are not interjections
    r"(?:честно(?: говоря)?|серь[её]зно|ого+|вау|ух ты|а+х|о+х|о+|ну|wo+w|o+h|a+h|honestly|seriously|frankly|well)"
    r"\s*[,!—–]\s*(?=\w)"
)


def _table(*tables: dict[str, tuple[str, ...]]) -> re.Pattern[str]:
    """One alternation per table, so a sentence is tested by a single C-level match. Patterns are written with
    natural capitals and lower-cased here, as the sentences are: several times faster than re.IGNORECASE."""
    patterns = [p for t in tables for lang in t for p in t[lang]]
    assert not any(re.search(r"\\[SWDBAZUN]", p) for p in patterns), "upper-case escapes do not survive lower()"
    return re.compile("|".join(f"(?:{p.lower()})" for p in patterns))


_OPENER = _table(OPENERS)
_FOLLOWUP = _table(OPENER_FOLLOWUPS)
_OPENER_PREFIX = _table(OPENER_PREFIXES)
_PRAISE = _table(PRAISE)
_CLOSING = _table(CLOSINGS)
_COMPANION = _table(CLOSING_COMPANIONS)
# Where a praise sentence can start: a line start, or terminal punctuation, then a word praise opens with. Only a
# pre-filter (run over "\n" + text); the sentence must still match PRAISE whole. Two patterns with a literal or a
# small set up front scan several times faster than one alternation of both.
_PRAISE_WORD = (
    r"(?:(?:Честно(?: говоря)?|Серь[её]зно|Honestly|Seriously|Frankly)\s*[,—–]?\s+)?"
    r"(?:Ты|[Ээ]то|Мне|Вот это|[Уу] тебя|Тебе|Вы|You|[Tt]hat|[Tt]his|It|Your|Great|Nice|Well done|Impressive)\b"
)
_PRAISE_SCANS = (
    re.compile(rf"\n[ \t*_]*()(?:(?:И|Но|А|Ведь)\s+)?{_PRAISE_WORD}"),
    re.compile(rf"[.!?…]\*{{0,2}}[ \t]+()(?:(?:И|Но|А|Ведь)\s+)?{_PRAISE_WORD}"),
)

_HEAD_LINES = 3  # openers live in the first lines
_TAIL_UNITS = 6  # closings: at most this many lines (or offer menus) from the end


def find(text: str) -> list[Span]:
    """Spans of boilerplate in one assistant message: sorted, non-overlapping, each removed (replacement "")."""
    if not text.strip():
        return []
    doc = _Doc(text)
    spans = doc.decoration() + doc.head() + doc.tail()
    spans += doc.praise(merge(spans))
    return merge(spans)


def strip(text: str) -> tuple[str, list[Span]]:
    """The message without its boilerplate (blank-line runs collapsed, ends trimmed), and the spans removed."""
    spans = find(text)
    return _tidy(apply(text, spans) if spans else text), spans


# ---------------------------------------------------------------------------------------------------------------


class _Doc:
    """One message: its code fences, and lines looked up by offset only where a pass needs them."""

    __slots__ = ("text", "scan", "_fence_starts", "_fence_ends")

    def __init__(self, text: str) -> None:
        self.text = text
        self.scan = "\n" + text  # for the whole-text patterns: offset p in scan is p - 1 in text
        ranges = _fence_ranges(text)
        self._fence_starts = [a for a, _ in ranges]
        self._fence_ends = [b for _, b in ranges]

    # -- lines --------------------------------------------------------------------------------------------------

    def in_code(self, pos: int) -> bool:
        i = bisect_right(self._fence_starts, pos) - 1
        return i >= 0 and pos <= self._fence_ends[i]

    def line_at(self, pos: int) -> tuple[int, int]:
        start = self.text.rfind("\n", 0, pos) + 1
        end = self.text.find("\n", pos)
        return start, len(self.text) if end < 0 else end

    def prev_line(self, start: int) -> tuple[int, int] | None:
        return self.line_at(start - 1) if start > 0 else None

    def next_line(self, end: int) -> tuple[int, int] | None:
        return self.line_at(end + 1) if end < len(self.text) else None

    def through_newline(self, end: int) -> int:
        """A whole-line span takes its newline with it, so no blank line is left where the line was."""
        return end + 1 if end < len(self.text) else end

    def kind(self, start: int, end: int, lookback: int = 20) -> str:
        """blank / code / deco / table / quote / list / header / prose."""
        if self.in_code(start):
            return "code"
        line = self.text[start:end]
        s = line.strip()
        if not s:
            return "blank"
        if _DECO_LINE.fullmatch(line):
            # '---' right under a text line is a setext heading underline, not a rule
            if s[0] == "-" and (prev := self.prev_line(start)) and self.text[prev[0] : prev[1]].strip():
                return "header"
            return "deco"
        first = s[0]
        if first == "|":
            return "table"
        if first == ">":
            return "quote"
        if first == "#" and _HEADER.match(line):
            return "header"
        if _LIST_ITEM.match(line):
            return "list"
        # A line glued to a quote is its lazy continuation; an indented line under a list item belongs to it.
        indented = line[:1] in " \t"
        while lookback and (prev := self.prev_line(start)):
            above = self.text[prev[0] : prev[1]].lstrip()
            if not above or (self.in_code(prev[0]) and not self.in_code(start)):
                break
            if above[0] == ">":
                return "quote"
            if indented and _LIST_ITEM.match(self.text, prev[0], prev[1]):
                return "list"
            start, lookback = prev[0], lookback - 1
        return "prose"

    # -- passes -------------------------------------------------------------------------------------------------

    def decoration(self) -> list[Span]:
        out = []
        for m in _DECO_SCAN.finditer(self.scan):
            at = m.start() if m.start("emoji") < 0 else m.start("emoji") - 1
            if m.start("emoji") >= 0:
                if not self.in_code(at):
                    out.append(Span(at, m.end("emoji") - 1, "decoration"))
                continue
            start, end = self.line_at(at)
            if self.kind(start, end, lookback=0) == "deco":
                out.append(Span(start, self.through_newline(end), "decoration"))
        return out

    def head(self) -> list[Span]:
        """Openers: a run of stock sentences at the start, then possibly a stock prefix of the next sentence."""
        out: list[Span] = []
        line: tuple[int, int] | None = self.line_at(0)
        seen = 0
        while line and seen < _HEAD_LINES:
            start, end = line
            kind = self.kind(start, end)
            line = self.next_line(end)
            if kind in ("blank", "deco"):
                continue
            if kind != "prose":
                break
            seen += 1
            sents = _sentences(self.text, start, end)
            n, kinds = 0, set()
            for s, e in sents:
                core = _core(self.text, s, e)
                if core is None:
                    break
                if _OPENER.fullmatch(core) or _OPENER_PREFIX.fullmatch(core):
                    kinds.add("opener")
                elif _PRAISE.fullmatch(core):
                    kinds.add("praise")
                elif (n or out) and _FOLLOWUP.fullmatch(core):
                    kinds.add("opener")
                else:
                    break
                n += 1
            kind = "praise" if kinds == {"praise"} else "opener"
            if n == len(sents):
                out.append(Span(start, self.through_newline(end), kind))
                continue
            if n:
                out.append(Span(sents[0][0], sents[n][0], kind))
            if cut := self._stock_prefix(*sents[n]):
                out.append(Span(sents[n][0], cut, "opener"))
            break
        return out

    def _stock_prefix(self, s: int, e: int) -> int | None:
        """End offset of a stock prefix ("Хороший вопрос — ") at the start of sentence s..e, if content follows."""
        lead = _CORE_LEFT.match(self.text, s, e)
        at = lead.end() if lead else s
        sentence = self.text[at:e]
        lowered = sentence.lower()
        m = _OPENER_PREFIX.match(lowered)
        if not m or len(lowered) != len(sentence):  # lower() kept offsets (it does, but for a few letters)
            return None
        rest = lowered[m.end() :]
        if not rest.strip() or (not lowered[: m.end()].rstrip().endswith(":") and _DESCRIBES_QUESTION.match(rest)):
            return None
        connector = _CONNECTOR.match(rest)
        return at + m.end() + (connector.end() if connector else 0)

    def tail(self) -> list[Span]:
        """Closings: walk back from the end over closing/praise lines and offer menus."""
        out: list[Span] = []
        line = self.line_at(len(self.text))
        units = 0
        while line and units < _TAIL_UNITS:
            start, end = line
            kind = self.kind(start, end)
            if kind in ("blank", "deco"):
                line = self.prev_line(start)
                continue
            units += 1
            if kind == "list":
                menu = self._offer_menu(start, end)
                if not menu:
                    break
                span, whole = menu
                out.append(span)
                if not whole:
                    break
                line = self.prev_line(span.start)
                continue
            if kind != "prose":
                break
            start = self._unit_start(start)
            sents = _sentences(self.text, start, end)
            n, kinds = _closing_run(self.text, sents)
            if not n:
                break
            kind = "closing" if "closing" in kinds else "praise"
            if n == len(sents):
                out.append(Span(start, self.through_newline(end), kind))
                line = self.prev_line(start)
                continue
            out.append(Span(sents[-n - 1][1], end, kind))
            break
        return out

    def _unit_start(self, start: int) -> int:
        """Start of the sentence a line continues: "— я с тобой пойду и туда." continues the line above."""
        text = self.text
        while True:
            s = text[start:].lstrip(" \t")
            if not s or not (s[0] in "—–" or s[0].islower()):
                return start
            prev = self.prev_line(start)
            if not prev or self.kind(*prev) != "prose":
                return start
            above = text[prev[0] : prev[1]].rstrip()
            if not above or above[-1] in ".!?…:":
                return start
            start = prev[0]

    def _offer_menu(self, start: int, end: int) -> tuple[Span, bool] | None:
        """The list ending at this line, if the line above it is an offer ending in ':' ("Хочешь — я:").

        Returns the span (offer sentence + list) and whether the offer line went whole."""
        first = (start, end)
        while (prev := self.prev_line(first[0])) and self.kind(*prev) == "list":
            first = prev
        intro = self.prev_line(first[0])
        if not intro or self.kind(*intro) != "prose":
            return None
        sents = _sentences(self.text, *intro)
        s, e = sents[-1]
        core = _core(self.text, s, e)
        if not core or not core.endswith(":") or not _CLOSING.fullmatch(core):
            return None
        whole = len(sents) == 1
        begin = intro[0] if whole else sents[-2][1]
        return Span(begin, self.through_newline(end), "closing"), whole

    def praise(self, taken: list[Span]) -> list[Span]:
        """Praise sentences anywhere in prose lines (outside the head and tail spans already found).

        Only sentences that start where the pre-filter hit are tested, the sentence first (most hits are "Это…",
        "This…" and fail at once), the line after; consecutive praise sentences in a line make one span."""
        text, n = self.text, len(self.text)
        found: list[tuple[int, int]] = []
        for at in sorted({m.end(1) - 1 for scan in _PRAISE_SCANS for m in scan.finditer(self.scan)}):
            line_end = text.find("\n", at)
            end = _sentence_end(text, at, n if line_end < 0 else line_end)
            core = _core(text, at, end)
            if core and _PRAISE.fullmatch(core):
                found.append((at, end))
        out: list[Span] = []
        taken_starts = [s.start for s in taken]
        run: list[int] | None = None  # [start, end) of the praise sentences being joined, within `line`
        line = (-1, -1)
        for s, e in found:
            if run and s < line[1] and not text[run[1] : s].strip():
                run[1] = e
                continue
            if run:
                out.append(self._praise_span(*run, *line))
                run = None
            line = self.line_at(s)
            i = bisect_right(taken_starts, line[0]) - 1
            if not (i >= 0 and taken[i].end >= line[1]) and self.kind(*line) == "prose":
                run = [s, e]
        if run:
            out.append(self._praise_span(*run, *line))
        return out

    def _praise_span(self, s: int, e: int, start: int, end: int) -> Span:
        """Praise sentences s..e of line start..end, with the whitespace on one side so no double space is left."""
        before, after = self.text[start:s].strip(), self.text[e:end].strip()
        if not before and not after:
            return Span(start, self.through_newline(end), "praise")
        if after:
            while self.text[e] in " \t":
                e += 1
            return Span(s, e, "praise")
        while self.text[s - 1] in " \t":
            s -= 1
        return Span(s, end, "praise")


def _closing_run(text: str, sents: list[tuple[int, int]]) -> tuple[int, set[str]]:
    """How many sentences at the end are closing (or praise), and which kinds they were."""
    n, kinds = 0, set()
    for s, e in reversed(sents):
        core = _core(text, s, e)
        if core is None:
            break
        if _CLOSING.fullmatch(core):
            kinds.add("closing")
        elif _PRAISE.fullmatch(core):
            kinds.add("praise")
        elif "closing" in kinds and _COMPANION.fullmatch(core):
            pass
        else:
            break
        n += 1
    return n, kinds


def _sentence_end(text: str, s: int, end: int) -> int:
    """End of the sentence that starts at s (the line ends at `end`)."""
    m = _BOUNDARY.search(text, s, end)
    if m:
        return m.start(1)
    while end > s and text[end - 1] in " \t\r\n":
        end -= 1
    return end


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text[start:end], whitespace excluded; trailing emoji stay with a sentence."""
    out = []
    s = start
    while s < end and text[s] in " \t\r\n":
        s += 1
    for m in _BOUNDARY.finditer(text, s, end):
        out.append((s, m.start(1)))
        s = m.end(1)
    e = end
    while e > s and text[e - 1] in " \t\r\n":
        e -= 1
    if s < e:
        out.append((s, e))
    return out


def _core(text: str, s: int, e: int) -> str | None:
    """The sentence lower-cased, without edge markup and trailing emoji; None when too long to be boilerplate."""
    if e - s > _MAX_SENTENCE:
        return None
    while e > s and text[e - 1] in _CORE_RIGHT:
        e -= 1
    core = text[s:e].lstrip(" \t\r\n*_").lower()
    if m := _INTERJECTION.match(core):
        core = core[m.end() :]
    return core or None


def _fence_ranges(text: str) -> list[tuple[int, int]]:
    """(start, end) of each fenced code block, fence lines included; an unclosed fence runs to the end."""
    # Lines that open with ``` or ~~~: (line start, marker start, marker end). str.find, because fence marks are
    # rare and a regex would have to look at every newline.
    marks = []
    for fence in ("```", "~~~"):
        at = text.find(fence)
        while at >= 0:
            start = text.rfind("\n", 0, at) + 1
            end = at + 3
            while end < len(text) and text[end] == fence[0]:
                end += 1
            if at - start <= 3 and not text[start:at].strip(" \t"):
                marks.append((start, at, end))
            at = text.find(fence, end)
    ranges = []
    opening: tuple[int, str] | None = None
    for start, at, end in sorted(marks):
        marker = text[at:end]
        if opening is None:
            opening = (start, marker)
            continue
        line_end = text.find("\n", end)
        line_end = len(text) if line_end < 0 else line_end
        # a closing fence is the same character, at least as long, and nothing else on the line
        if marker[0] == opening[1][0] and len(marker) >= len(opening[1]) and not text[end:line_end].strip():
            ranges.append((opening[0], line_end))
            opening = None
    if opening is not None:
        ranges.append((opening[0], len(text)))
    return ranges


_BLANK_RUN = re.compile(r"(?:\r?\n[ \t]*){2,}\r?\n")  # three or more line breaks, blank lines between


def _tidy(text: str) -> str:
    """Collapse runs of blank lines to one outside code fences (keeping CRLF where it was), trim the ends."""
    if _BLANK_RUN.search(text):
        ranges = _fence_ranges(text)
        starts = [a for a, _ in ranges]

        def collapse(m: re.Match[str]) -> str:
            i = bisect_right(starts, m.start()) - 1
            if i >= 0 and m.start() < ranges[i][1]:
                return m.group()
            return "\r\n\r\n" if m.group().startswith("\r") else "\n\n"

        text = _BLANK_RUN.sub(collapse, text)
    return text.strip()
