"""The model the server offers: the twin = memory (retrieval) + the persona card + a model that answers.

Model ids: `twin` answers with the configured backend, or with the base + `serve.adapters` when some are set;
`twin+<adapter-id>` (or `twin+<id1>+<id2>` for a stack) answers with the base + those adapters through
transformers; `twin+auto` routes each question to the adapter(s) of its closest scenes (routing.py). Either way `twinforge.memory.ask.ask_stream` retrieves the evidence and builds the prompt, so the
server answers exactly as `twinforge ask` does, with the same [n] citations.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ..backends import get_backend
from ..backends.base import Backend
from ..errors import TwinforgeError
from ..memory.ask import Source, ask_stream, cited
from ..memory.config import MemoryConfig
from ..scenes.catalog import scene_adapters
from ..store import Store
from ..store import persona_card as persona
from ..store.workspace import ADAPTER_META, Workspace
from ..text.language import detect
from .config import ServeConfig
from .routing import AUTO, Router, routed_ids

TWIN = "twin"
MAX_LOADED = 2  # adapter sets kept loaded at once (each holds a copy of the base model)


class UnknownModel(TwinforgeError):
    """A request named a model this server does not offer."""


@dataclass
class Reply:
    tokens: Iterator[str]
    sources: list[Source]
    language: str
    model: str
    backend: str
    cited: list[int] = field(default_factory=list)
    routes: list[dict] = field(default_factory=list)  # twin+auto: the scene adapters the question went to


def adapter_ids(workspace: Path) -> list[str]:
    """Adapters in the workspace (folders with a twinforge.json), sorted."""
    return sorted(p.parent.name for p in Workspace(workspace).adapters.glob(f"*/{ADAPTER_META}"))


def question_of(messages: list[dict]) -> tuple[str, list[str]]:
    """(the last user message's text, the client's own system messages). Content may be OpenAI's list of parts."""
    question, system = "", []
    for m in messages:
        text = _text(m.get("content"))
        if m.get("role") == "user":
            question = text
        elif m.get("role") in ("system", "developer") and text.strip():
            system.append(text.strip())
    if not question.strip():
        raise TwinforgeError("no user message to answer", "send at least one message with role \"user\"")
    return question, system


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


class Twin:
    """Answers chat requests for one workspace; keeps loaded adapter models between requests."""

    def __init__(self, workspace: Path, cfg: ServeConfig, memory: MemoryConfig | None = None):
        self.workspace = workspace
        self.cfg = cfg
        self.memory = memory or MemoryConfig()
        self._adapted: dict = {}  # adapter set -> AdaptedBackend
        self._lock = threading.Lock()
        self._router: Router | None = None

    def memory_built(self) -> bool:
        """Whether `twinforge memory build` has put anything in memory: without it answers cite nothing."""
        with Store(self.workspace, create=False) as store:
            return store.has_memory()

    def models(self) -> list[dict]:
        b = self.cfg.backend
        memory = self.memory_built()
        own = {"backend": "adapters" if self.cfg.adapters else b.name, "adapters": self.cfg.adapters,
               "memory": memory, "persona": (self.workspace / persona.PERSONA_FILE).exists()}
        out = [{"id": TWIN, "object": "model", "created": 0, "owned_by": "twinforge", "twinforge": own}]
        with Store(self.workspace, create=False) as store:
            scenes = scene_adapters(store)
        if scenes:
            out.append({"id": f"{TWIN}+{AUTO}", "object": "model", "created": 0, "owned_by": "twinforge",
                        "twinforge": {"backend": "adapters", "routing": "scenes",
                                      "adapters": [s.adapter_id for s in scenes], "memory": memory}})
        for aid in adapter_ids(self.workspace):
            out.append({"id": f"{TWIN}+{aid}", "object": "model", "created": 0, "owned_by": "twinforge",
                        "twinforge": {"backend": "adapters", "adapters": [aid], "memory": memory}})
        return out

    def _adapters_of(self, model: str) -> list[str]:
        if model == TWIN:
            return list(self.cfg.adapters)
        if model.startswith(TWIN + "+") and all(model[len(TWIN) + 1:].split("+")):
            return model[len(TWIN) + 1:].split("+")
        raise UnknownModel(f"no model {model!r} here", f"models: {', '.join(m['id'] for m in self.models())}")

    def router(self, store: Store) -> Router:
        """The scene router, rebuilt when the scene adapters changed (one trained or removed since)."""
        scenes = scene_adapters(store)
        key = tuple((s.adapter_id, s.module.id) for s in scenes)
        with self._lock:
            if self._router is None or self._router.key != key:
                self._router = Router(scenes)
            return self._router

    def backend(self, store: Store, model: str, temperature: float | None = None) -> Backend:
        ids = self._adapters_of(model)
        if not ids:
            cfg = self.cfg.backend
            if temperature is not None:
                cfg = cfg.model_copy(update={"temperature": temperature})
            return get_backend(cfg)
        key = "+".join(ids)
        with self._lock:  # a loaded model per adapter set, reused by later requests; the oldest goes first
            if key not in self._adapted:
                from ..backends.adapted import AdaptedBackend, adapter_dirs

                base, dirs = adapter_dirs(store, ids)
                while len(self._adapted) >= MAX_LOADED:
                    self._adapted.pop(next(iter(self._adapted)))
                self._adapted[key] = AdaptedBackend(self.cfg.base or base, dirs, self.cfg.backend)
            return self._adapted[key]

    def reply(self, store: Store, model: str, messages: list[dict], *, max_tokens: int | None = None,
              temperature: float | None = None, no_llm: bool | None = None, k: int | None = None) -> Reply:
        """Retrieve and set up the answer; its text comes from `Reply.tokens` (sources are known already)."""
        question, client_system = question_of(messages)
        no_llm = self.cfg.no_llm if no_llm is None else no_llm
        routes: list[dict] = []
        if model == f"{TWIN}+{AUTO}":
            ids, chosen = routed_ids(store, question, self.router(store))
            routes = [r.as_dict() for r in chosen]
            model = f"{TWIN}+" + "+".join(ids)
        backend = None if no_llm else self.backend(store, model, temperature)
        if no_llm:
            self._adapters_of(model)  # an unknown model is an error even when no model runs
        system = "\n\n".join(x for x in [persona.system_prompt(store), *client_system] if x) or None
        memory = self.memory.model_copy(update={"answer_tokens": max_tokens or self.cfg.max_tokens})
        tokens, sources = ask_stream(store, question, backend=backend, k=k or self.cfg.k, no_llm=no_llm,
                                     system_prompt=system, cfg=memory)
        return Reply(tokens, sources, detect(question), model, "none" if no_llm else backend.name, routes=routes)


def citation_footer(reply: Reply, answer: str) -> str:
    """A plain-text list of the sources the answer cites (all of them when it cites none), for clients that only
    show the message text: title, date, conversation and message id."""
    if not reply.sources:
        return ""
    numbers = cited(answer, len(reply.sources)) or [s.n for s in reply.sources]
    by_n = {s.n: s for s in reply.sources}
    head = "Источники:" if reply.language == "ru" else "Sources:"
    lines = [f"[{n}] «{by_n[n].title}»" + (f", {by_n[n].date}" if by_n[n].date else "")
             + f" — conversation {by_n[n].conversation_id}"
             + (f", message {by_n[n].message_id}" if by_n[n].message_id else "") for n in numbers]
    return "\n\n" + head + "\n" + "\n".join(lines)


def source_dict(s: Source) -> dict:
    d = s.as_dict()
    anchor = f"#/c/{quote(s.conversation_id, safe='')}" + (f"?m={quote(s.message_id, safe='')}"
                                                             if s.message_id else "")
    return d | {"url": "/" + anchor}

