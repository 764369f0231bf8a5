"""Research papers → digest modules: problem, method, results with their numbers, limitations, and what the paper
changes for the twin (its data, training or architecture).

A paper is a conversation of provider `paper` with one user message holding its text (ingest/paper.py). It goes
through the same machinery as a dialog — chunks with overlap, cached calls, repair and one retry, failures,
resume — with its own prompt (`prompts/paper.v2.<lang>.txt`) and a `paper` part in the answer. Chunk drafts are
merged: problem and application from the first chunk (where the abstract is), method from the first chunk that
names one, results and limitations united.

The extractive backend has no model, so its digest is built by rules over the paper's own sentences (problem:
the abstract's first sentences; method: sentences with method cues; results: sentences with numbers;
limitations: "however", "limitation"…) and its application says plainly that judging it needs a model.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from ..backends.base import Request
from ..text.paper_sections import ABSTRACT, REFERENCES
from . import taxonomy
from .assemble import build_module, merge
from .render import (
    LANGUAGE_NAMES,
    Chunk,
    Dialog,
    PromptStrategy,
    drop_echoes,
    fill,
    load_template,
)
from .repair import Draft, DraftError, RepairError, loads, object_of
from .rules import _SCHEMA, meta_move_by_rules, sentences
from .schema import Module, PaperDigest, output_schema

KIND = "paper"
PAPER_PROMPT_VERSION = "paper.v2"  # v2: the meta-move taxonomy listed from taxonomy.yaml
EXTRACTIVE_PAPER_VERSION = "extractive-paper.v1"
MAX_RESULTS = 8
MAX_LIMITATIONS = 5
MAX_RULE_ITEMS = 3

_I = re.IGNORECASE
_METHOD_CUE = re.compile(r"\bwe (?:propose|introduce|present|design|develop|train|use)\b|\bour (?:method|approach|"
                         r"model|system)\b|\bmethods?\b|\bapproach|\bmethodolog|мы предлагаем|мы вводим|"
                         r"мы представляем|\bметод|\bподход", _I)
_METHOD_HEAD = re.compile(r"method|approach|model|метод|подход", _I)
_RESULTS_HEAD = re.compile(r"result|experiment|evaluation|результат|эксперимент|оценк", _I)
_INTRO_HEAD = re.compile(r"introduction|введение", _I)
_LIMIT_CUE = re.compile(r"limitation|\blimited\b|\bhowever\b|drawback|caveat|shortcoming|ограничен|\bоднако\b|"
                        r"недостат", _I)
_NUMBER = re.compile(
    r"\d|%|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|"
    r"billion|twice|double[ds]?|triple[ds]?|half|percent)\b|\w+fold\b|процент|тысяч|миллион|вдвое|втрое|"
    r"\bв \w+ раза?\b", _I)
_FIGURE = re.compile(r"\d|%")
# numbers that name a place in the paper, not a result: "Section 3", "Figure 2", "[4, 5]"
_POINTER = re.compile(r"\b(?:sections?|figures?|fig\.|tables?|eq\.|equations?|appendix|раздел\w*|рис\.|"
                      r"рисун\w*|таблиц\w*)\s*\d+(?:\.\d+)*|\[[\d,;\s–-]+\]", _I)
# A heading: a markdown '#' line, a numbered section ("2 Results", "2.1. Метод"), or a short line without a
# sentence's end that names a known section.
_HEADING = re.compile(r"^\s*(?:#{1,6}\s+.*|(?:\d+(?:\.\d+)*\.?)\s+\S.{0,70}|(?:\*\*|__)[^*_]{1,80}(?:\*\*|__)\s*)$")
_KNOWN_HEAD = re.compile(r"^\s*(?:abstract|introduction|background|related work|method|methods|approach|results|"
                         r"experiments|evaluation|discussion|limitations|conclusions?|аннотация|введение|метод|"
                         r"методы|результаты|обсуждение|ограничения|заключение|выводы)\s*[.:]?\s*$", _I)
_WRAPPERS = " \t*_:.—–-"
_WRAPPED = re.compile(r"(?<=\S)[ \t]*\n[ \t]*(?=\S)")  # one line break inside a paragraph

APPLICATION_UNKNOWN = {
    "en": "An extractive digest cannot judge what this paper changes in the twin's data, training or architecture: "
          "that needs a model backend (distill --backend llamacpp or openai).",
    "ru": "Извлекающий дайджест не может судить, что эта статья меняет в данных, обучении или архитектуре "
          "двойника: для этого нужен бэкенд с моделью (distill --backend llamacpp или openai).",
}
ABSTRACT_SAYS = {"en": "The abstract ends: «{s}»", "ru": "Аннотация заканчивается так: «{s}»"}
METHOD_UNKNOWN = {"en": "(no method sentence found by the extractive rules)",
                  "ru": "(правила не нашли предложения о методе)"}
_PART = {"ru": "Это часть {n} из {total} длинной статьи: извлеки то, что есть в этой части.",
         "en": "This is part {n} of {total} of a long paper: digest what this part contains."}


# --- the answer's paper part --------------------------------------------------------------------------------


class PaperPart(BaseModel):
    """The `paper` object of an answer, lenient about shape like Draft."""

    model_config = ConfigDict(extra="ignore")
    problem: str
    method: str
    results: list[str] = []
    limitations: list[str] = []
    application: str

    @field_validator("problem", "method", "application", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            v = " ".join(v)
        return " ".join(v.split()) if isinstance(v, str) else v

    @field_validator("problem", "method", "application")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("results", "limitations", mode="before")
    @classmethod
    def _items(cls, v: Any) -> Any:
        return Draft._items(v)


class PaperDraft(Draft):
    paper: PaperPart


def validate_paper_draft(data: Any) -> PaperDraft:
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if not isinstance(data, dict):
        raise DraftError(f"expected a JSON object, found {type(data).__name__}")
    if len(data) == 1 and isinstance(next(iter(data.values())), dict) and "paper" not in data:
        data = next(iter(data.values()))  # {"digest": {...}}: unwrap
    if not isinstance(data.get("paper"), dict) and any(k in data for k in ("problem", "method", "application")):
        data = dict(data, paper={k: data.get(k) for k in PaperPart.model_fields if k in data})  # flat answer
    try:
        return PaperDraft.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors()[:5])
        raise DraftError(problems) from e


# --- strategies -----------------------------------------------------------------------------------------------


class PaperPromptStrategy(PromptStrategy):
    """A model writes the digest from the paper's text (a chunk of it), through prompts/paper.v2.<lang>.txt."""

    kind = KIND

    def __init__(self, version: str = PAPER_PROMPT_VERSION):
        super().__init__(version)

    def request(self, dialog: Dialog, chunk: Chunk, chunks: int, max_tokens: int | None = None) -> Request:
        t = load_template(dialog.language, self.version)
        part = "" if chunks == 1 else fill(_PART[t.language], n=str(chunk.index + 1), total=str(chunks))
        values = {"title": dialog.title, "language": dialog.language,
                  "language_name": LANGUAGE_NAMES.get(dialog.language, dialog.language),
                  "part": part, "paper": chunk.user_text, "meta_moves": taxonomy.prompt_list()}
        return Request([{"role": "system", "content": fill(t.system, **values)},
                        {"role": "user", "content": fill(t.user, **values)}],
                       json_schema=output_schema(paper=True), max_tokens=max_tokens)

    def draft(self, answer: str, dialog: Dialog, chunk: Chunk) -> PaperDraft:
        try:
            data = loads(answer)
        except RepairError as e:
            raise DraftError(str(e)) from e
        return drop_echoes(validate_paper_draft(data), load_template(dialog.language, self.version).system)

    def build(self, dialog: Dialog, good: list[tuple[PaperDraft, int]], backend: str) -> tuple[Module, int]:
        return build_paper_module(dialog, good, backend, self.version)


class ExtractivePaperStrategy:
    """No model: the extractive backend gives the key sentence and keyphrases; the digest comes by rules."""

    kind = KIND
    retries = 0

    def __init__(self) -> None:
        self.version = EXTRACTIVE_PAPER_VERSION

    def request(self, dialog: Dialog, chunk: Chunk, chunks: int, max_tokens: int | None = None) -> Request:
        prose = "\n".join(prose_sentences(chunk.user_text, dialog.title))  # no headings, labels or references
        return Request([{"role": "user", "content": prose}], json_schema=_SCHEMA, max_tokens=max_tokens)

    def draft(self, answer: str, dialog: Dialog, chunk: Chunk) -> PaperDraft:
        data = object_of(answer)
        digest = extractive_digest(chunk.user_text, dialog.language, dialog.title)
        picked = [data.get(k) for k in ("phrase", "second", "third")]
        return validate_paper_draft({
            "title": dialog.title,
            "phrase": digest.pop("claim") or data.get("phrase") or digest["problem"],
            "concepts": data.get("concepts") or [dialog.title],
            "meta_move": meta_move_by_rules(chunk.user_text),
            "quotes": [p for p in picked if isinstance(p, str) and p],
            "paper": digest,
        })

    def retry(self, request: Request, answer: str, error: str, dialog: Dialog) -> Request | None:
        return None

    def build(self, dialog: Dialog, good: list[tuple[PaperDraft, int]], backend: str) -> tuple[Module, int]:
        return build_paper_module(dialog, good, backend, self.version)


def paper_strategy_for(backend_name: str):
    return ExtractivePaperStrategy() if backend_name == "extractive" else PaperPromptStrategy()


# --- rules ------------------------------------------------------------------------------------------------------


def _body(text: str) -> str:
    """The paper without its reference list."""
    m = REFERENCES.search(text)
    return text[: m.start()] if m else text


def _is_heading(line: str) -> bool:
    s = line.strip()
    if not s or len(s) > 90:
        return False
    if s.startswith("#"):
        return True
    if _KNOWN_HEAD.match(re.sub(r"^[\d.]+\s*", "", s.strip("*_ "))):
        return True
    return bool(_HEADING.match(s)) and not s.rstrip("*_ ").endswith((".", "!", "?", "…", ":", ";", ","))


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading, text) in order; text before the first heading has heading ''. An abstract whose text runs on
    from its label ("Abstract: We …", "**Аннотация.** Мы …") starts a section of its own."""
    out: list[tuple[str, list[str]]] = [("", [])]
    for line in _body(text).splitlines():
        m = ABSTRACT.match(line)
        if out[-1][0] == "abstract" and not line.strip() and any(x.strip() for x in out[-1][1]):
            out.append(("", []))  # an abstract is one paragraph: the untitled text after it is the body
        elif m:
            out.append(("abstract", [line[m.end():].lstrip(_WRAPPERS).rstrip()]))
        elif _is_heading(line):
            out.append((line.strip(" #*_"), []))
        else:
            out[-1][1].append(line)
    return [(h, "\n".join(ls).strip()) for h, ls in out if h or "\n".join(ls).strip()]


def _sents(text: str) -> list[str]:
    """Sentences, with a paragraph's wrapped lines joined first (papers break lines inside sentences)."""
    lines = [line for line in text.splitlines() if not _is_heading(line)]
    joined = _WRAPPED.sub(" ", "\n".join(lines))
    return [s for s in sentences(joined) if not _is_heading(s)]


def prose_sentences(text: str, title: str = "") -> list[str]:
    """The paper's sentences without headings, section labels, its title or the reference list."""
    bare = title.strip(" #*_").casefold()
    out = [s for _, t in _sections(text) for s in _sents(t) if s.strip(" #*_").casefold() != bare]
    if out and out[0][:1].islower():
        out = out[1:]  # a chunk's overlap starts inside a sentence: the fragment is not one
    return out


def extractive_digest(text: str, language: str, title: str = "") -> dict:
    """The five parts by rule, every sentence verbatim from the paper except the fixed, honest application note;
    `claim` is the abstract's (else the text's) first sentence, for the module's phrase."""
    lang = language if language in APPLICATION_UNKNOWN else "en"
    sections = _sections(text)
    abstract = next((t for h, t in sections if h == "abstract"), "")
    intro = next((t for h, t in sections if _INTRO_HEAD.search(h)), "")
    all_sents = prose_sentences(text, title)
    lead = _sents(abstract) or _sents(intro) or all_sents
    problem = " ".join(lead[:2])

    method_section = [s for h, t in sections if h and h != "abstract" and _METHOD_HEAD.search(h) for s in _sents(t)]
    method = _unique([s for s in all_sents if _METHOD_CUE.search(s)] + method_section)[:MAX_RULE_ITEMS]

    in_results = [s for h, t in sections if h and _RESULTS_HEAD.search(h) for s in _sents(t)]
    # in a results section any number counts, words too ("twelvefold"); elsewhere only figures
    results = _unique([s for s in in_results if _NUMBER.search(s)]
                      + [s for s in all_sents if _FIGURE.search(_POINTER.sub("", s))])[:MAX_RESULTS]

    limitations = _unique([s for s in all_sents if _LIMIT_CUE.search(s)])[:MAX_LIMITATIONS]

    application = APPLICATION_UNKNOWN[lang]
    if _sents(abstract):
        application += " " + fill(ABSTRACT_SAYS[lang], s=_sents(abstract)[-1])
    return {"claim": lead[0] if lead else "", "problem": problem or (all_sents[0] if all_sents else text.strip()[:300]),
            "method": " ".join(method) or METHOD_UNKNOWN[lang],
            "results": results, "limitations": limitations, "application": application}


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for x in items:
        if x.casefold() not in seen:
            seen.add(x.casefold())
            out.append(x)
    return out


# --- assembly ---------------------------------------------------------------------------------------------------


def merge_papers(drafts: list[PaperDraft]) -> PaperDigest:
    """Problem from the first chunk (the abstract's), method from the first chunk that found one, results and
    limitations united in order, application: the distinct ones, first chunk first."""
    parts = [d.paper for d in drafts]
    placeholders = set(METHOD_UNKNOWN.values())
    method = next((p.method for p in parts if p.method not in placeholders), parts[0].method)
    applications = _unique([p.application for p in parts])
    applications = [a for a in applications if not any(a != b and a in b for b in applications)]
    return PaperDigest(
        problem=parts[0].problem,
        method=method,
        results=_unique([r for p in parts for r in p.results])[:MAX_RESULTS],
        limitations=_unique([x for p in parts for x in p.limitations])[:MAX_LIMITATIONS],
        application=" ".join(applications[:3]),
    )


def build_paper_module(dialog: Dialog, good: list[tuple[PaperDraft, int]], backend: str,
                       prompt_version: str) -> tuple[Module, int]:
    module, dropped = build_module(dialog, merge(good), backend, prompt_version, person=False)
    digest = merge_papers([d for d, _ in good])
    return module.model_copy(update={"kind": KIND, "paper": digest}), dropped
