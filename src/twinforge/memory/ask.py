"""`ask`: retrieve evidence from memory, then answer with a backend, citing the evidence by number.

The answer is in the question's language: a Russian question gets the Russian prompt, any other the English one
told to answer in that language. Prompts are versioned files in `prompts/` (`ask.<version>.<lang>.txt`).
`no_llm=True` skips the model and returns the evidence itself. With the extractive backend (no model) the answer is
a digest of the evidence (digest.py): the sentence of each source closest to the question, quoted and cited.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.resources import files

from ..backends import get_backend
from ..backends.base import BackendError, Request
from ..backends.config import BackendConfig
from ..store import Store
from ..text.language import detect
from .config import MemoryConfig
from .digest import digest, preview
from .search import Hit, search, validate

# v2: the rules and the evidence are the system message and the question alone is the user's, the layout small
# models answer best from (the embedded 0.5B echoed the question or copied a snippet's tail with v1's one message)
PROMPT_VERSION = "v2"
_LANGUAGE_NAMES = {
    "en": "English", "ru": "Russian", "uk": "Ukrainian", "de": "German", "fr": "French", "es": "Spanish",
    "it": "Italian", "pt": "Portuguese", "pl": "Polish", "nl": "Dutch", "zh": "Chinese", "ja": "Japanese",
}
_NOTHING = {
    "ru": "В памяти нет ничего по этому вопросу.",
    "en": "Nothing in memory answers this question.",
}
_EVIDENCE_HEADER = {"ru": "Фрагменты из памяти:", "en": "Evidence from memory:"}


@dataclass
class Source:
    conversation_id: str
    message_id: str | None
    title: str
    date: str | None  # ISO date (UTC) of the message or conversation
    score: float
    snippet: str
    n: int = 0  # the number the answer cites it by: [n]
    kind: str = "message"
    item_id: str = ""
    module_id: str | None = None
    preview: str = ""  # the snippet for a person to read: markdown markers, code and data lines left out

    def as_dict(self) -> dict:
        return asdict(self)

    def locator(self) -> str:
        """Where to open it: a module or digest names itself and the message it was distilled from."""
        where = f"conversation {self.conversation_id}, message {self.message_id or '-'}"
        if self.kind in ("module", "paper") and self.module_id:
            return f"{'digest' if self.kind == 'paper' else 'module'} {self.module_id} ({where})"
        return where


@dataclass
class Answer:
    answer: str
    language: str
    sources: list[Source] = field(default_factory=list)
    backend: str = ""
    model: str = ""
    prompt_version: str = PROMPT_VERSION

    @property
    def cited(self) -> list[int]:
        """The source numbers the answer cites, in order."""
        return cited(self.answer, len(self.sources))

    @property
    def uncited_note(self) -> str | None:
        """A warning for a model's answer that cites none of its sources: it may be copied or made up."""
        if self.backend in ("", "none", "extractive") or not self.sources or self.cited:
            return None
        return (f"note: the answer by {self.model or self.backend} cites none of its {len(self.sources)} sources, so "
                "check it against them; a small model often copies a piece of the evidence or drifts — a bigger one "
                "follows the citation rule (--backend openai --model ..., or backend.model in the recipe)")

    def as_dict(self) -> dict:
        return {"answer": self.answer, "language": self.language, "backend": self.backend, "model": self.model,
                "prompt_version": self.prompt_version, "cited": self.cited,
                "sources": [s.as_dict() for s in self.sources]}


def iso_date(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=timezone.utc).date().isoformat()


def _snippet(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def to_sources(hits: list[Hit], limit: int) -> list[Source]:
    return [Source(conversation_id=h.conversation_id, message_id=h.message_id, title=h.title, date=iso_date(h.date),
                   score=h.score, snippet=_snippet(h.text, limit), n=i, kind=h.kind, item_id=h.item_id,
                   module_id=h.module_id, preview=preview(h.text, h.kind, limit))
            for i, h in enumerate(hits, start=1)]


def prompt_language(language: str) -> str:
    return "ru" if language == "ru" else "en"


def load_prompt(language: str, version: str = PROMPT_VERSION) -> str:
    return files("twinforge.memory").joinpath("prompts", f"ask.{version}.{prompt_language(language)}.txt").read_text(
        encoding="utf-8")


def format_evidence(sources: list[Source]) -> str:
    lines = []
    for s in sources:
        where = ", ".join(x for x in (f"«{s.title}»" if s.title else "", s.date or "") if x)
        lines.append(f"[{s.n}] {where}\n{s.snippet}")
    return "\n\n".join(lines)


def build_messages(question: str, language: str, sources: list[Source], system_prompt: str | None) -> list[dict]:
    lang_name = _LANGUAGE_NAMES.get(language, language if language != "und" else "the question's language")
    rules = load_prompt(language).format(evidence=format_evidence(sources), language=lang_name)
    system = f"{system_prompt}\n\n{rules}" if system_prompt else rules  # the persona card first: who is asked
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]


def evidence_text(language: str, sources: list[Source]) -> str:
    lang = prompt_language(language)
    if not sources:
        return _NOTHING[lang]
    return _EVIDENCE_HEADER[lang] + "\n\n" + format_evidence(sources)


_CITE = re.compile(r"\[(\d+)\]")


def cited(answer: str, n_sources: int) -> list[int]:
    """The source numbers an answer cites, in order of first citation, ignoring numbers with no source."""
    return list(dict.fromkeys(int(m) for m in _CITE.findall(answer) if 1 <= int(m) <= n_sources))


def _prepare(store: Store, question: str, k: int, cfg: MemoryConfig, mode: str | None, expand_graph: bool | None):
    question = validate(question, k, mode or cfg.mode)
    language = detect(question)
    hits = search(store, question, k=k, mode=mode or cfg.mode,
                  expand_graph=cfg.expand_graph if expand_graph is None else expand_graph, rrf_k=cfg.rrf_k)
    return question, language, to_sources(hits, cfg.max_evidence_chars), hits


def _digest(question: str, language: str, sources: list[Source], hits: list[Hit]) -> str:
    return digest(question, language, [(s.n, s.kind, s.title, h.text) for s, h in zip(sources, hits)])


def _backend(backend, cfg: MemoryConfig):
    """A BackendConfig (or None: the config's) becomes a backend; a ready backend object (e.g. base + adapters,
    adapted.py) is used as it is."""
    if backend is not None and hasattr(backend, "complete"):
        return backend
    return get_backend(backend or cfg.backend)


def ask(store: Store, question: str, *, backend: BackendConfig | None = None, k: int = 6, no_llm: bool = False,
        system_prompt: str | None = None, cfg: MemoryConfig | None = None, mode: str | None = None,
        expand_graph: bool | None = None) -> Answer:
    """Answer `question` from memory. `backend`: a BackendConfig, a ready backend object, or None for the
    config's (default extractive). `no_llm`: the evidence only, no model call."""
    cfg = cfg or MemoryConfig()
    question, language, sources, hits = _prepare(store, question, k, cfg, mode, expand_graph)
    if no_llm or not sources:
        return Answer(evidence_text(language, sources), language, sources, backend="none", model="")
    b = _backend(backend, cfg)
    if b.name == "extractive":  # no model to answer: a digest of the evidence, not sentences spliced together
        return Answer(_digest(question, language, sources, hits), language, sources, backend=b.name, model=b.model)
    msgs = build_messages(question, language, sources, system_prompt)
    out = b.complete(Request(messages=msgs, max_tokens=cfg.answer_tokens))
    text = out.text.strip()
    if not text:
        raise BackendError(f"the {b.name} backend returned an empty answer", "try another backend or model")
    return Answer(text, language, sources, backend=b.name, model=out.model)


def ask_stream(store: Store, question: str, *, backend: BackendConfig | None = None, k: int = 6,
               no_llm: bool = False, system_prompt: str | None = None, cfg: MemoryConfig | None = None,
               mode: str | None = None, expand_graph: bool | None = None) -> tuple[Iterator[str], list[Source]]:
    """Like `ask`, but the answer comes as an iterator of text pieces; sources are known before the first piece.

    A backend with a `stream(request)` method streams token by token; the others yield their whole answer once.
    """
    cfg = cfg or MemoryConfig()
    question, language, sources, hits = _prepare(store, question, k, cfg, mode, expand_graph)
    if no_llm or not sources:
        return iter([evidence_text(language, sources)]), sources
    b = _backend(backend, cfg)
    if b.name == "extractive":
        return iter([_digest(question, language, sources, hits)]), sources
    request = Request(messages=build_messages(question, language, sources, system_prompt),
                      max_tokens=cfg.answer_tokens)
    stream = getattr(b, "stream", None)
    if stream is not None:
        # the backend's own iterator, unwrapped: a server can cancel() it from another thread (see llamacpp)
        return stream(request), sources

    def tokens() -> Iterator[str]:
        yield b.complete(request).text.strip()

    return tokens(), sources
