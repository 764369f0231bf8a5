"""The views: each turns one module (and its source dialog) into chat examples, or none when the module lacks
the fields that view needs. Every example is `[{"role": "user", ...}, {"role": "assistant", ...}]`.

Answers are assembled from the module's own fields and the person's own words; the templates add only the
question and short labels, so no view invents content the distillation did not find.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..distill.schema import Module
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


@dataclass
class Context:
    module: Module
    dialog: list[Turn]
    tpl: Templates
    seed: int
    own_words_min_chars: int

    def choice(self, view: str, index: int) -> int:
        return pick(self.seed, self.module.id, view, index)


def chat(ask: str, answer: str, /, **meta) -> Example:
    return Example([{"role": "user", "content": ask.strip()}, {"role": "assistant", "content": answer.strip()}],
                   meta)


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
            out.append(chat(q.text, own.text, answer_from="own", question_id=q.id, answer_id=own.id))
        elif reply:
            out.append(chat(q.text, reply.text, answer_from="assistant", question_id=q.id, answer_id=reply.id))
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
        ask = tpl.ask("concept", "ask", ctx.choice("concept", i), concept=c, title=m.title)
        out.append(chat(ask, answer, concept=c))
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
        ask = tpl.ask("inversion", "ask", ctx.choice("inversion", i), phrase=m.phrase, title=m.title)
        out.append(chat(ask, answer))
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
        ask = tpl.ask("hypothesis", "ask", ctx.choice("hypothesis", i), hypothesis=h)
        out.append(chat(ask, answer))
    return out


def transition(ctx: Context) -> list[Example]:
    """A rule that reads "if … then …" asks with its condition and answers with its consequence; any other
    rule is asked for by the module's title and answered whole."""
    m, tpl = ctx.module, ctx.tpl
    patterns = tpl.patterns("transition")
    out = []
    for i, rule in enumerate(x.strip() for x in m.transition_rules if x.strip()):
        choice = ctx.choice("transition", i)
        parts = next((p.match(rule) for p in patterns if p.match(rule)), None)
        move = m.meta_move and tpl.line("transition", "move", meta_move=tpl.move(m.meta_move))
        if parts:
            condition = parts["condition"].strip().rstrip(",")
            consequence = parts["consequence"].strip()
            consequence = consequence[:1].upper() + consequence[1:]
            ask = tpl.ask("transition", "ask_condition", choice, condition=condition, title=m.title)
            answer = _lines(tpl.line("transition", "answer_condition", consequence=consequence, rule=rule), move)
        else:
            ask = tpl.ask("transition", "ask_rule", choice, title=m.title)
            answer = _lines(tpl.line("transition", "answer_rule", rule=rule), move)
        out.append(chat(ask, answer))
    return out


def continue_(ctx: Context) -> list[Example]:
    """The core phrase continued by the module's details; then the person's longer quotes, each cut after
    its first sentences and continued by the rest in their own words."""
    m, tpl = ctx.module, ctx.tpl
    out = []
    details = _details(m, tpl)
    if m.phrase.strip() and details:
        out.append(chat(tpl.ask("continue", "ask", ctx.choice("continue", 0), phrase=m.phrase), details,
                        source="module"))
    for q in m.quotes:
        cut = _split_thought(q.text)
        if cut:
            ask = tpl.ask("continue", "ask_quote", ctx.choice("continue", len(out)), start=cut[0])
            out.append(chat(ask, cut[1], source="quote", message_id=q.message_id))
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


# Registry, in the default order. A view is a function Context → examples.
VIEWS: dict[str, Callable[[Context], list[Example]]] = {
    "qa": qa,
    "concept": concept,
    "inversion": inversion,
    "hypothesis": hypothesis,
    "transition": transition,
    "continue": continue_,
}
