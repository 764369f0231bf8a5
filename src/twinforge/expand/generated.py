"""Generated views: training examples a model writes from a module, beside the template views (views.py).

Template views only rearrange what distillation found; these add new wording, which only a model can write:

- paraphrase: the person's question in other words, answered as the qa view answers it (v3: worked rewrites, the
  person's voice — persona card and own messages — and the question's own words made less likely, `Request.avoid`);
- new_question: a question the module answers that the person never asked, answered with its concepts;
- walkthrough: a short dialog through the module (v2: three exchanges along one axis — the axis, the thought
  turned over, what would refute it);
- transfer: the module's meta-move applied to another module's topic from the same archive;
- depth: one idea in one line, one paragraph and one page (three examples);
- paper_applied: for paper digests, what the paper changes in the twin's data, training and architecture.

Every prompt is a versioned file, `prompts/<view>.v<N>.<language>.txt` (`=== system`, `=== user`, for views that
ask a fixed question `=== ask` lines `key: wording`, and any number of `=== example` sections, an input and its
answer split by a `---` line, shown as earlier turns of the chat); the version goes into the call cache key and
into every example's meta. The v2 prompts are narrow asks for a small model (the embedded 0.5B): a few worked
examples on unrelated topics, the few concepts the answer must use (`GenContext.focus`), a plain-text answer
(no JSON grammar); paper_applied still asks for a JSON object. Each answer becomes candidates that the quality
gate (gate.py) keeps or sets aside; what it sets aside is asked again (generated_run.py, `generated.tries`).
A module's items are picked in a fixed order (its questions, concepts, ideas; other modules by a seeded
shuffle), so a re-run asks the same requests and the cache answers.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from ..backends.base import Request
from ..distill.render import LANGUAGE_NAMES, fill
from ..distill.repair import RepairError, loads
from ..distill.schema import Module
from . import templates
from .source import Turn
from .templates import language_code
from .views import Context, _question_pairs

PROMPTS = Path(__file__).with_name("prompts")
FALLBACK = "en"
VERSIONS = {"paraphrase": "paraphrase.v3", "new_question": "new_question.v2", "walkthrough": "walkthrough.v2",
            "transfer": "transfer.v2", "depth": "depth.v2", "paper_applied": "paper_applied.v1",
            "judge": "judge.v1"}  # the gate's optional judge (gate.judge)
_SECTION = re.compile(r"^=== (system|user|ask|example)[ \t]*$", re.MULTILINE)
_EXAMPLE_SPLIT = re.compile(r"^---[ \t]*$", re.MULTILINE)
VOICE_CHARS = 1200  # of the persona card and the person's own messages, shown as their voice
SAMPLE_CHARS = 300  # of each own message shown
MIN_EXCHANGES = 2  # a walk-through of fewer exchanges is a question and an answer, not a dialog
RETRY_WARMER = 0.2  # temperature added per retry of an ask the gate set aside


@dataclass(frozen=True)
class Prompt:
    version: str
    language: str
    system: str
    user: str
    asks: dict[str, str]  # fixed questions of the views that ask one (depth, paper_applied)
    digest: str
    # worked examples (input, answer), shown as earlier turns of the chat: a small model copies a shown answer's
    # shape and length far more reliably than it follows a described one
    examples: tuple[tuple[str, str], ...] = ()


@cache
def load_prompt(view: str, language: str) -> Prompt:
    """The view's prompt in `language`, English where no translation exists."""
    version = VERSIONS[view]
    code = language_code(language)
    path = PROMPTS / f"{version}.{code}.txt"
    if not path.exists():
        code, path = FALLBACK, PROMPTS / f"{version}.{FALLBACK}.txt"
    raw = path.read_text(encoding="utf-8")
    named = _named_sections(raw)
    sections = {k: v for k, v in named if k != "example"}
    asks = dict(line.split(": ", 1) for line in sections.get("ask", "").splitlines() if ": " in line)
    examples = []
    for _, text in (x for x in named if x[0] == "example"):
        pair = _EXAMPLE_SPLIT.split(text)
        if len(pair) != 2:
            raise ValueError(f"{path}: an example section needs one '---' line between its input and its answer")
        examples.append((pair[0].strip("\n"), pair[1].strip("\n")))
    return Prompt(version, code, sections["system"], sections["user"], asks,
                  hashlib.sha1(raw.encode()).hexdigest()[:12], tuple(examples))


def _named_sections(raw: str) -> list[tuple[str, str]]:
    """A prompt file's sections in order: (system | user | ask | example, its text)."""
    parts = _SECTION.split(raw)
    return [(parts[i], parts[i + 1].strip("\n")) for i in range(1, len(parts) - 1, 2)]


_LABEL = re.compile(r"^([^\W\d][^:{}\n]{2,40}?)(?: \(\{\w+\}\))?: \{\w+\}", re.MULTILINE)


@cache
def prompt_labels(language: str) -> tuple[str, ...]:
    """The longer field labels of the prompts' user sections in `language` ("How it was made there", "Как он
    сделан там"): a text that repeats one, followed by ":" or "(", echoes the prompt instead of answering it.
    Labels of one or two words ("Inversion", "Правило перехода") are left out: a walk-through may say them."""
    # every version's labels: an answer cached under an earlier version may still echo one of them
    code = language_code(language)
    files = sorted(PROMPTS.glob(f"*.{code}.txt")) or sorted(PROMPTS.glob(f"*.{FALLBACK}.txt"))
    users = [text for f in files for name, text in _named_sections(f.read_text(encoding="utf-8")) if name == "user"]
    found = {m.group(1).strip() for text in users for m in _LABEL.finditer(text)}
    found = {x for x in found if len(x.split()) >= 3 and "(" not in x}
    return tuple(sorted(found, key=len, reverse=True))


@dataclass
class Candidate:
    """One generated example on its way through the gate."""

    view: str
    item: int
    messages: list[dict]  # the chat; for an answer that could not be read, the raw answer as one message
    generated: list[str]  # the model-written texts in it: what the gate checks
    grounding: list[str]  # terms the text must name enough of (concepts, or the question's content words)
    meta: dict = field(default_factory=dict)
    error: str = ""  # the answer could not be read into an example
    sources: list[str] = field(default_factory=list)  # what it was written from and must not merely copy


@dataclass
class Ask:
    """One item's request, and how its answer becomes candidates. `retry(k)` is the k-th other try at the same
    item (k >= 1; the examples shown in another order, a little warmer), asked only for candidates the gate set
    aside: a small model fails an ask often, and a second wording is cheaper than a lost example."""

    view: str
    item: int
    request: Request
    build: Callable[[dict], list[Candidate]]
    retry: Callable[[int], Request] | None = None


@dataclass
class GenContext:
    module: Module
    dialog: list[Turn]
    voice: str  # the persona card (shortened) and a few of the person's own messages
    others: list[Module]  # the archive's other modules, in a seeded order (transfer's topics)
    max_tokens: int
    temperature: float
    own_words_min_chars: int = 200
    min_concepts: float = 0.34  # the gate's share of concepts an answer must name: the words a narrow ask gives

    def focus(self, concepts: list[str], item: int, spare: int = 0) -> list[str]:
        """The concepts the item-th narrow ask must use: as many as the gate wants named (and `spare` more, for
        long answers that drop some), a different run of them for each item (0.5B models use words they are
        handed; they do not pick them from a list of ten)."""
        cs = list(dict.fromkeys(c.strip() for c in concepts if c.strip()))
        if not cs:
            return []
        k = min(len(cs), max(1, math.ceil(self.min_concepts * len(cs))) + spare)
        return [cs[(item * k + j) % len(cs)] for j in range(k)]

    @property
    def language(self) -> str:
        return language_code(self.module.language) or FALLBACK

    def values(self) -> dict[str, str]:
        m = self.module
        return {"language_name": LANGUAGE_NAMES.get(self.language, self.language), "title": m.title,
                "phrase": m.phrase, "concepts": ", ".join(m.concepts) or "-", "axes": "; ".join(m.axes) or "-",
                "meta_move": m.meta_move, "inversions": "; ".join(m.inversions) or "-", "voice": self.voice or "-"}

    def request(self, view: str, schema: dict | None, max_tokens: int | None = None, /, try_: int = 0,
                avoid: str = "", **values: str) -> Request:
        """The view's request; `try_` k > 0 is the k-th retry: the prompt's examples rotated by k and the
        temperature raised by RETRY_WARMER a try (capped at 1), so it is another request with another answer."""
        p = load_prompt(view, self.language)
        v = self.values() | values
        messages = [{"role": "system", "content": fill(p.system, **v)}]
        shown = p.examples[try_ % len(p.examples):] + p.examples[:try_ % len(p.examples)] if p.examples else ()
        for ask, answer in shown:
            messages += [{"role": "user", "content": ask}, {"role": "assistant", "content": answer}]
        messages.append({"role": "user", "content": fill(p.user, **v)})
        warmth = min(1.0, self.temperature + RETRY_WARMER * try_) if try_ else self.temperature
        return Request(messages, json_schema=schema, max_tokens=max_tokens or self.max_tokens, temperature=warmth,
                       avoid=avoid)

    def ask(self, view: str, item: int, build: Callable[[dict], list[Candidate]], schema: dict | None,
            max_tokens: int | None = None, /, avoid: str = "", **values: str) -> Ask:
        def retry(k: int) -> Request:
            return self.request(view, schema, max_tokens, try_=k, avoid=avoid, **values)

        shown = [answer for _, answer in load_prompt(view, self.language).examples]

        def built(data: dict) -> list[Candidate]:  # a text that copies a worked example is no example either
            out = build(data)
            for c in out:
                c.sources = [*c.sources, *shown]
            return out
        return Ask(view, item, self.request(view, schema, max_tokens, avoid=avoid, **values), built, retry)


def voice(card: str | None, dialog: list[Turn]) -> str:
    """How the person writes: the persona card's start, then their own longest messages of this dialog."""
    parts = [card[: VOICE_CHARS // 2]] if card else []
    own = sorted((t.text.strip() for t in dialog if t.role == "user" and len(t.text.strip()) >= 15),
                 key=len, reverse=True)
    budget = VOICE_CHARS - sum(map(len, parts))
    for text in own[:3]:
        sample = text[:SAMPLE_CHARS] + ("…" if len(text) > SAMPLE_CHARS else "")
        if len(sample) > budget:
            break
        parts.append(f"> {sample}")
        budget -= len(sample)
    return "\n".join(parts)


def _object(*keys: str) -> dict:
    return {"type": "object", "properties": {k: {"type": "string"} for k in keys}, "required": list(keys)}


def _chat(*pairs: tuple[str, str]) -> list[dict]:
    out = []
    for ask, answer in pairs:
        out += [{"role": "user", "content": ask.strip()}, {"role": "assistant", "content": answer.strip()}]
    return out


def _text(data: dict, key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _plain(data: dict) -> str:
    """A plain-text answer (no JSON schema asked): the text, without the quotes a model likes to wrap it in."""
    return _text(data, "text").strip("\"«»“” \n")


def _question_answer(data: dict) -> tuple[str, str]:
    """A plain "question line, empty line, answer" answer split in two ("", "") where it has no two parts."""
    text = _text(data, "text")
    head, sep, tail = text.partition("\n\n")
    if not sep:
        head, _, tail = text.partition("\n")
    return head.strip(), tail.strip()


def _blocks(text: str) -> list[str]:
    """A plain answer's blocks, the pieces between empty lines."""
    return [b.strip() for b in re.split(r"\n\s*\n", text.strip()) if b.strip()]


def _depths(text: str) -> list[str]:
    """A plain three-depth answer: the first block (up to an empty line) the line, the second the paragraph,
    the rest the page; missing depths are "" (the gate sets an empty one aside)."""
    blocks = _blocks(text)
    return (blocks[:2] + ["\n\n".join(blocks[2:])] + ["", "", ""])[:3]


def _content_words(text: str) -> list[str]:
    """A question's words worth finding again in its paraphrase (longer than 3 letters; lemmas are the gate's)."""
    return list(dict.fromkeys(w for w in re.findall(r"[^\W\d_]{4,}", text.casefold())))


# --- the views -------------------------------------------------------------------------------------------


def paraphrase(ctx: GenContext, n: int) -> list[Ask]:
    out = []
    for i, (q, answer, origin) in enumerate(_question_pairs_of(ctx)[:n]):
        def build(data: dict, q=q, answer=answer, origin=origin, i=i) -> list[Candidate]:
            text = _plain(data)
            return [Candidate("paraphrase", i, _chat((text, answer.text)), [text], _content_words(q.text),
                              {"question_id": q.id, "answer_id": answer.id, "answer_from": origin},
                              sources=[q.text])]
        # the model copies a question back whole: its words are made less likely (llamacpp), so it rewords
        out.append(ctx.ask("paraphrase", i, build, None, 300, avoid=q.text, question=q.text.strip()))
    return out


def _question_pairs_of(ctx: GenContext) -> list:
    """The qa view's questions with their answers, by the same rules (no wording is involved)."""
    return _question_pairs(Context(ctx.module, ctx.dialog, None, 0, ctx.own_words_min_chars))  # type: ignore[arg-type]


def new_question(ctx: GenContext, n: int) -> list[Ask]:
    m = ctx.module
    if not m.phrase.strip():
        return []
    terms = _terms(m)
    out = []
    for i in range(min(n, len(terms))):
        focus = ", ".join(ctx.focus(terms, i))

        def build(data: dict, i=i, focus=focus) -> list[Candidate]:
            q, a = _question_answer(data)
            return [Candidate("new_question", i, _chat((q, a)), [q, a], terms, {"focus": focus},
                              sources=_fields(m))]
        out.append(ctx.ask("new_question", i, build, None, 300, focus=focus))
    return out


def _fields(m: Module) -> list[str]:
    """The module's fields as the prompt shows them: an answer that only copies one back adds nothing."""
    return [m.phrase, ", ".join(m.concepts), "; ".join(m.axes), "; ".join(m.inversions), "; ".join(m.hypotheses)]


def _terms(m: Module) -> list[str]:
    return [c for c in m.concepts if c.strip()] or _content_words(m.phrase)


def walkthrough(ctx: GenContext, n: int) -> list[Ask]:
    m = ctx.module
    if not m.phrase.strip():
        return []
    out = []
    for i in range(min(n, max(1, len(m.axes), len(m.inversions)))):
        def pick(items: list[str], i=i) -> str:
            return items[i % len(items)] if items else "-"

        def build(data: dict, i=i) -> list[Candidate]:
            lines = _blocks(_text(data, "text"))
            pairs = list(zip(lines[0::2], lines[1::2]))
            texts = [x for p in pairs for x in p]
            c = Candidate("walkthrough", i, _chat(*pairs), texts, _terms(m), {"exchanges": len(pairs)})
            if len(pairs) < MIN_EXCHANGES:
                c.error = f"{len(pairs)} exchange(s), under {MIN_EXCHANGES}"
            return [c]
        out.append(ctx.ask("walkthrough", i, build, None, 500, axis=pick(m.axes),
                           focus=", ".join(ctx.focus(_terms(m), i))))
    return out


def transfer(ctx: GenContext, n: int) -> list[Ask]:
    m = ctx.module
    if not m.phrase.strip() or not m.meta_move.strip():
        return []
    out = []
    for i, other in enumerate(o for o in ctx.others if o.id != m.id and o.phrase.strip()):
        if i >= n:
            break

        def build(data: dict, i=i, other=other) -> list[Candidate]:
            q, a = _question_answer(data)
            return [Candidate("transfer", i, _chat((q, a)), [q, a], _terms(other),
                              {"target_module": other.id, "meta_move": m.meta_move}, sources=[m.phrase, other.phrase])]
        out.append(ctx.ask("transfer", i, build, None, 300, move=templates.load(ctx.language).move(m.meta_move),
                           other_title=other.title, focus=", ".join(ctx.focus(_terms(other), 0))))
    return out


def depth(ctx: GenContext, n: int) -> list[Ask]:
    m = ctx.module
    ideas = [x.strip() for x in [m.phrase, *m.hypotheses] if x.strip()]
    prompt = load_prompt("depth", ctx.language)
    out = []
    for i, idea in enumerate(ideas[:n]):
        def build(data: dict, i=i, idea=idea) -> list[Candidate]:
            levels = []
            for key, text in zip(("line", "paragraph", "page"), _depths(_text(data, "text"))):
                ask = fill(prompt.asks[key], title=m.title, idea=idea)
                terms = _content_words(idea) if key == "line" else _terms(m)
                levels.append(Candidate("depth", i, _chat((ask, text)), [text], terms, {"depth": key, "idea": idea},
                                        sources=[idea, *_fields(m)]))
            return levels
        # a paragraph and a page drop a word or two of those handed: one spare concept
        out.append(ctx.ask("depth", i, build, None, 900, idea=idea, focus=", ".join(ctx.focus(_terms(m), i, 1))))
    return out


def paper_applied(ctx: GenContext, n: int) -> list[Ask]:
    m, p = ctx.module, ctx.module.paper
    if p is None or n < 1:
        return []
    prompt = load_prompt("paper_applied", ctx.language)

    def build(data: dict) -> list[Candidate]:
        aspects = []
        for key in ("data", "training", "architecture"):
            text = _text(data, key)
            ask = fill(prompt.asks[key], title=m.title)
            aspects.append(Candidate("paper_applied", 0, _chat((ask, text)), [text],
                                     _terms(m) + _content_words(m.title), {"aspect": key}))
        return aspects
    return [ctx.ask("paper_applied", 0, build, _object("data", "training", "architecture"), None,
                    problem=p.problem, method=p.method, results="; ".join(p.results) or "-",
                    limitations="; ".join(p.limitations) or "-")]


GENERATED: dict[str, Callable[[GenContext, int], list[Ask]]] = {
    "paraphrase": paraphrase,
    "new_question": new_question,
    "walkthrough": walkthrough,
    "transfer": transfer,
    "depth": depth,
    "paper_applied": paper_applied,
}
# Examples one request gives (depth: a line, a paragraph, a page; paper_applied: data, training, architecture;
# every other view: one), and the views that ask at most so many requests per module whatever their count is
# (paper_applied: once, for a paper digest). The volume planner turns kept examples into requests by these.
EXAMPLES_PER_ASK = {"depth": 3, "paper_applied": 3}
MAX_ASKS = {"paper_applied": 1}


def candidates(ask: Ask, answer: str) -> list[Candidate]:
    """What one answer gives: its candidates, or one unreadable candidate holding the raw answer."""
    if ask.request.json_schema is None:  # a plain-text ask: its build reads "text"
        data, error = {"text": answer}, ""
    else:
        try:
            data = loads(answer)
        except RepairError as e:
            data, error = None, str(e)
        else:
            error = "" if isinstance(data, dict) else f"expected a JSON object, found {type(data).__name__}"
    if error:
        return [Candidate(ask.view, ask.item, [{"role": "assistant", "content": answer}], [], [], error=error)]
    out = ask.build(data)
    for c in out:
        if len(c.messages) < 2 or any(not m["content"] for m in c.messages):
            c.error = "the answer left a field empty"
    return out


def ordered_others(modules: list[Module], seed: int, module: Module) -> list[Module]:
    """The other modules of the module's language, in a stable seeded order: the topics transfer applies its
    move to (the example is written in the module's language, and the gate finds the topic's concepts in it)."""
    lang = language_code(module.language)
    others = [m for m in modules if m.id != module.id and language_code(m.language) == lang]
    random.Random(f"{seed}:{module.id}:transfer").shuffle(others)
    return others
