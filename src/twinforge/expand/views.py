"""The views: each turns one module (and its source dialog) into chat examples, or none when the module lacks
the fields that view needs. Every example is user/assistant turns, alternating, starting with the user and
ending with the assistant: one exchange, or several for the views cut from the original dialog.

Answers are assembled from the module's own fields and the person's own words; the templates add only the
question and short labels, so no view here invents content the distillation did not find (the model-written
views are generated.py's, and each of their examples passes a quality gate first). Each example belongs to
an *item* (a question, a dialog window, a concept, a quote, …): the cap counts items, and the views whose
question comes from the templates ask each item in up to `phrasings` different wordings.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..distill.schema import Module
from . import windows
from .source import Turn
from .templates import Templates, pick

MIN_QUESTION_CHARS = 15  # a user turn shorter than this ("ok", "go on") asks nothing worth an example
MIN_QUOTE_CHARS = 80  # a quote shorter than this is too short to split into a start and its continuation
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_DOUBLED_STOP = re.compile(r"([?!…])\.(?=\s|$)")


@dataclass
class Example:
    messages: list[dict]
    meta: dict = field(default_factory=dict)  # traces the example back: source message ids, answer origin
    item: int = 0  # which item of its view it asks about; wordings of one item share it


@dataclass
class Context:
    module: Module
    dialog: list[Turn]
    tpl: Templates
    seed: int
    own_words_min_chars: int
    phrasings: int = 1
    window: int = 3

    def choice(self, view: str, index: int) -> int:
        return pick(self.seed, self.module.id, view, index)

    def asks(self, view: str, key: str, index: int, **fields: str) -> list[str]:
        """Up to `phrasings` distinct wordings of item `index`'s question: consecutive template variants from
        the one the seed picks, so every item starts from a different wording."""
        variants = self.tpl.data[view][key]
        start = self.choice(view, index)
        out: list[str] = []
        for k in range(min(self.phrasings, len(variants))):
            text = variants[(start + k) % len(variants)].format(**fields).strip()
            if text not in out:
                out.append(text)
        return out


def example_id(module_id: str, view: str, position: int) -> str:
    """An example's id: stable across runs for the same module, view and position."""
    return hashlib.sha1(f"{module_id}\0{view}\0{position}".encode()).hexdigest()[:16]


def chat(ask: str, answer: str, /, **meta) -> Example:
    return Example([{"role": "user", "content": ask.strip()}, {"role": "assistant", "content": answer.strip()}],
                   meta)


def asked(asks: list[str], answer: str, item: int, /, **meta) -> list[Example]:
    """One example per wording of the same item."""
    out = []
    for k, ask in enumerate(asks):
        ex = chat(ask, answer, **meta, **({"wording": k} if k else {}))
        ex.item = item
        out.append(ex)
    return out


def _lines(*lines: str | None) -> str:
    """The lines that exist, without the doubled stop a template's "." makes after "?" or "!"."""
    return "\n".join(_DOUBLED_STOP.sub(r"\1", line) for line in lines if line)


def _listed(items: list[str], sep: str = "; ") -> str:
    return sep.join(i.strip().rstrip(".;") for i in items if i.strip())


# --- qa: the person's question → an answer from the dialog ------------------------------------------------


def qa(ctx: Context) -> list[Example]:
    """Each question the person asked, answered by their own next statement when it is long enough.

    The person's own words come first because the twin should speak like them; when what they said next is
    shorter than `own_words_min_chars` (a "thanks", a quick follow-up), the assistant's reply to the question
    answers instead: it is on topic, the person read and kept it, and without it short dialogs would give no
    qa example at all. `meta.answer_from` records which one was used.
    """
    out = []
    for q, answer, origin in _question_pairs(ctx):
        ex = chat(q.text, answer.text, answer_from=origin, question_id=q.id, answer_id=answer.id)
        ex.item = len(out)
        out.append(ex)
    return out


def _question_pairs(ctx: Context) -> list[tuple[Turn, Turn, str]]:
    """(question, answer, "own" | "assistant") for each question of the person that has an answer."""
    turns = ctx.dialog
    allowed = set(ctx.module.message_ids)
    if allowed and not any(t.id in allowed for t in turns):
        allowed = set()  # ids from another version of the dialog: use the whole kept dialog
    out = []
    for i, q in enumerate(turns):
        if q.role != "user" or len(q.text.strip()) < MIN_QUESTION_CHARS or (allowed and q.id not in allowed):
            continue
        later = turns[i + 1:]
        own = next((t for t in later if t.role == "user"), None)
        reply = None
        for t in later:
            if t.role == "user":
                break
            if t.role == "assistant":
                reply = t
                break
        if own and len(own.text.strip()) >= ctx.own_words_min_chars:
            out.append((q, own, "own"))
        elif reply:
            out.append((q, reply, "assistant"))
    return out


# --- views over the module's fields ----------------------------------------------------------------------


def concept(ctx: Context) -> list[Example]:
    m, tpl = ctx.module, ctx.tpl
    if not m.phrase.strip():
        return []
    out = []
    for i, c in enumerate(x for x in m.concepts if x.strip()):
        others = [o for o in m.concepts if o != c]
        quote = next((q.text for q in m.quotes if c.casefold() in q.text.casefold()), None)
        answer = _lines(
            tpl.line("concept", "core", title=m.title, concept=c, phrase=m.phrase),
            others and tpl.line("concept", "related", others=_listed(others, ", ")),
            m.axes and tpl.line("concept", "axes", axes=_listed(m.axes)),
            m.meta_move and tpl.line("concept", "move", meta_move=tpl.move(m.meta_move)),
            quote and tpl.line("concept", "quote", quote=quote),
        )
        out += asked(ctx.asks("concept", "ask", i, concept=c, title=m.title), answer, i, concept=c)
    return out


def inversion(ctx: Context) -> list[Example]:
    m, tpl = ctx.module, ctx.tpl
    if not m.phrase.strip():
        return []
    out = []
    for i, inv in enumerate(x for x in m.inversions if x.strip()):
        answer = _lines(
            tpl.line("inversion", "answer", phrase=m.phrase, inversion=inv),
            m.axes and tpl.line("inversion", "axis", axis=m.axes[i % len(m.axes)]),
        )
        out += asked(ctx.asks("inversion", "ask", i, phrase=m.phrase, title=m.title), answer, i)
    return out


def hypothesis(ctx: Context) -> list[Example]:
    """The hypothesis reasoned through with what the module holds: its basis, a counter-test from the
    inversions, the axes to check along, a paper's results, what is still open."""
    m, tpl = ctx.module, ctx.tpl
    out = []
    for i, h in enumerate(x for x in m.hypotheses if x.strip()):
        results = m.paper.results if m.paper else []
        answer = _lines(
            tpl.line("hypothesis", "claim", hypothesis=h),
            m.phrase.strip() and tpl.line("hypothesis", "basis", phrase=m.phrase),
            m.inversions and tpl.line("hypothesis", "counter", inversion=m.inversions[i % len(m.inversions)]),
            m.axes and tpl.line("hypothesis", "axes", axes=_listed(m.axes)),
            results and tpl.line("hypothesis", "evidence", results=_listed(results)),
            m.open_questions and tpl.line("hypothesis", "open",
                                          question=m.open_questions[i % len(m.open_questions)]),
        )
        out += asked(ctx.asks("hypothesis", "ask", i, hypothesis=h), answer, i)
    return out


def transition(ctx: Context) -> list[Example]:
    """A rule that reads "if … then …" asks with its condition and answers with its consequence; any other
    rule is asked for by the module's title and answered whole."""
    m, tpl = ctx.module, ctx.tpl
    patterns = tpl.patterns("transition")
    out = []
    for i, rule in enumerate(x.strip() for x in m.transition_rules if x.strip()):
        parts = next((p.match(rule) for p in patterns if p.match(rule)), None)
        move = m.meta_move and tpl.line("transition", "move", meta_move=tpl.move(m.meta_move))
        if parts:
            condition = parts["condition"].strip().rstrip(",")
            consequence = parts["consequence"].strip()
            consequence = consequence[:1].upper() + consequence[1:]
            asks = ctx.asks("transition", "ask_condition", i, condition=condition, title=m.title)
            answer = _lines(tpl.line("transition", "answer_condition", consequence=consequence, rule=rule), move)
        else:
            asks = ctx.asks("transition", "ask_rule", i, title=m.title)
            answer = _lines(tpl.line("transition", "answer_rule", rule=rule), move)
        out += asked(asks, answer, i)
    return out


def continue_(ctx: Context) -> list[Example]:
    """The core phrase continued by the module's details; then the person's longer quotes, each cut after
    its first sentences and continued by the rest in their own words."""
    m, tpl = ctx.module, ctx.tpl
    out = []
    details = _details(m, tpl)
    item = 0
    if m.phrase.strip() and details:
        out += asked(ctx.asks("continue", "ask", 0, phrase=m.phrase), details, 0, source="module")
        item = 1
    for q in m.quotes:
        cut = _split_thought(q.text)
        if cut:
            out += asked(ctx.asks("continue", "ask_quote", item, start=cut[0]), cut[1], item, source="quote",
                         message_id=q.message_id)
            item += 1
    return out


def _details(m: Module, tpl: Templates) -> str:
    fields = [
        ("concepts", m.concepts, ", "), ("axes", m.axes, "; "), ("inversions", m.inversions, "; "),
        ("hypotheses", m.hypotheses, "; "), ("transitions", m.transition_rules, "; "),
        ("questions", m.open_questions, "; "),
    ]
    lines = [tpl.line("continue", key, **{key: _listed(items, sep)}) for key, items, sep in fields if items]
    if m.paper:
        p = m.paper
        lines += [
            p.problem and tpl.line("continue", "problem", problem=p.problem),
            p.method and tpl.line("continue", "method", method=p.method),
            p.results and tpl.line("continue", "results", results=_listed(p.results)),
            p.limitations and tpl.line("continue", "limitations", limitations=_listed(p.limitations)),
            p.application and tpl.line("continue", "application", application=p.application),
        ]
    return _lines(*lines)


def _split_thought(text: str) -> tuple[str, str] | None:
    """(start, rest), cut at the first sentence end past the middle; None for one sentence or a short quote."""
    text = text.strip()
    if len(text) < MIN_QUOTE_CHARS:
        return None
    sentences = _SENTENCE_END.split(text)
    if len(sentences) < 2:
        return None
    for k in range(1, len(sentences)):
        if len(" ".join(sentences[:k])) >= len(text) / 2:
            break
    return " ".join(sentences[:k]), " ".join(sentences[k:])


# --- views cut from the dialog ----------------------------------------------------------------------------


def dialog(ctx: Context) -> list[Example]:
    """Several exchanges of the original dialog, ending on a reply: the flow of the conversation, multi-turn."""
    found = windows.dialog_windows(ctx.dialog, ctx.window)
    return [Example(msgs, meta, item=i) for i, (msgs, meta) in enumerate(found)]


def next_move(ctx: Context) -> list[Example]:
    """The person's next turn after what the other side said (roles flipped): the moves they make in a dialog."""
    found = windows.next_moves(ctx.dialog, ctx.window)
    return [Example(msgs, meta, item=i) for i, (msgs, meta) in enumerate(found)]


def reverse(ctx: Context) -> list[Example]:
    """Answer → question: given what was said, the question the person asked to get it."""
    out = []
    for i, (q, answer, origin) in enumerate(_question_pairs(ctx)):
        out += asked(ctx.asks("reverse", "ask", i, answer=answer.text.strip()), q.text, i, answer_from=origin,
                     question_id=q.id, answer_id=answer.id)
    return out


# --- more views over the module's fields -----------------------------------------------------------------

_POLES = re.compile(r"\s*(?:↔|<->|⟷|<=>|\bvs\.?|\bversus\b|\bпротив\b)\s*", re.IGNORECASE)


def poles(ctx: Context) -> list[Example]:
    """Each axis "A ↔ B" asked as a comparison of its two poles, answered with where the claim stands on it,
    its inversion and the person's words that name a pole."""
    m, tpl = ctx.module, ctx.tpl
    if not m.phrase.strip():
        return []
    out = []
    for i, axis in enumerate(x.strip() for x in m.axes if x.strip()):
        parts = [p.strip(" «»\"'") for p in _POLES.split(axis, maxsplit=1)]
        if len(parts) != 2 or not all(parts):
            continue
        a, b = parts
        quote = next((q.text for q in m.quotes if a.casefold() in q.text.casefold() or b.casefold()
                      in q.text.casefold()), None)
        others = [x for x in m.axes if x.strip() != axis]
        answer = _lines(
            tpl.line("poles", "axis", a=a, b=b, title=m.title),
            tpl.line("poles", "claim", phrase=m.phrase),
            m.inversions and tpl.line("poles", "flip", inversion=m.inversions[i % len(m.inversions)]),
            quote and tpl.line("poles", "quote", quote=quote),
            others and tpl.line("poles", "others", axes=_listed(others)),
        )
        out += asked(ctx.asks("poles", "ask", i, a=a, b=b, title=m.title), answer, i, axis=axis)
    return out


def critique(ctx: Context) -> list[Example]:
    """The module's premise criticised with what the module itself holds against it: what it takes for granted
    (its hypotheses), what would break it (its inversions), what it leaves open."""
    m, tpl = ctx.module, ctx.tpl
    if not m.phrase.strip() or not (m.inversions or m.open_questions):
        return []
    answer = _lines(
        tpl.line("critique", "premise", phrase=m.phrase),
        m.hypotheses and tpl.line("critique", "assumes", hypotheses=_listed(m.hypotheses)),
        m.inversions and tpl.line("critique", "breaks", inversions=_listed(m.inversions)),
        m.open_questions and tpl.line("critique", "open", questions=_listed(m.open_questions)),
    )
    return asked(ctx.asks("critique", "ask", 0, phrase=m.phrase, title=m.title), answer, 0)


_PARAGRAPH = re.compile(r"\n\s*\n")


def own_words(ctx: Context) -> list[Example]:
    """Each quote as the person's own answer to "in your own words, what about …?": the paragraph of their
    message that holds the quote (the quote alone when it cannot be found there)."""
    m = ctx.module
    texts = {t.id: t.text for t in ctx.dialog if t.role == "user"}
    out, seen = [], set()
    for q in m.quotes:
        quote = q.text.strip()
        if not quote:
            continue
        paragraph = next((p.strip() for p in _PARAGRAPH.split(texts.get(q.message_id, ""))
                          if quote[:60] in p), quote)
        if paragraph in seen:
            continue
        seen.add(paragraph)
        topic = next((c for c in m.concepts if c.strip() and c.casefold() in quote.casefold()), m.title)
        item = len(seen) - 1
        out += asked(ctx.asks("own_words", "ask", item, topic=topic.strip(), title=m.title), paragraph, item,
                     message_id=q.message_id)
    return out


# Registry, in the default order. A view is a function Context → examples.
VIEWS: dict[str, Callable[[Context], list[Example]]] = {
    "qa": qa,
    "dialog": dialog,
    "next_move": next_move,
    "concept": concept,
    "inversion": inversion,
    "hypothesis": hypothesis,
    "transition": transition,
    "continue": continue_,
    "poles": poles,
    "critique": critique,
    "own_words": own_words,
    "reverse": reverse,
}
