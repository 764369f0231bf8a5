"""One interface for every model backend, and the registry that picks one by name.

A backend turns chat messages into a completion. Everything about *how* (local GGUF, an OpenAI-compatible
server, a Hugging Face folder, no model at all) stays inside its module; stages only see `complete` and
`complete_many`. Settings come from `BackendConfig` (config.py), the same for every backend.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import TwinforgeError

if TYPE_CHECKING:
    from .config import BackendConfig

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


class BackendError(TwinforgeError):
    """A backend could not produce a completion (server down, model missing, output unusable)."""


@dataclass
class Completion:
    text: str
    model: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    messages: list[Message]
    json_schema: dict | None = None  # constrain the output to this JSON schema where the backend can
    max_tokens: int | None = None  # None: the config's
    temperature: float | None = None  # None: the config's
    # a text the answer should not copy (a paraphrase's source): llamacpp makes its words' tokens less likely;
    # backends that cannot map words to the model's tokens ignore it
    avoid: str = ""


class Backend(Protocol):
    name: str
    model: str

    def complete(self, request: Request) -> Completion:
        """One completion; raises BackendError after the configured retries."""

    def complete_many(self, requests: Sequence[Request]) -> list[Completion | BackendError]:
        """Completions in request order, up to `concurrency` at a time; a failed one is its BackendError."""

    # Optional: `stream(request) -> Iterator[str]`, the answer's pieces as they are written, stopping early when
    # the consumer close()s the iterator (llamacpp, openai, transformers, a base with adapters have it);
    # `memory.ask.ask_stream` falls back to one whole `complete` for a backend without it.


def complete_in_order(backend: Backend, requests: Sequence[Request]) -> list[Completion | BackendError]:
    """`complete_many` for a backend that runs one request at a time (one local model, or no model):
    completions in request order, a failed one as its BackendError."""
    out: list[Completion | BackendError] = []
    for r in requests:
        try:
            out.append(backend.complete(r))
        except BackendError as e:
            out.append(e)
    return out


# name -> module under twinforge.backends; each module defines `create(cfg: BackendConfig) -> Backend`
BACKENDS = {
    "extractive": "extractive",
    "llamacpp": "llamacpp",
    "openai": "openai_compat",
    "transformers": "transformers_local",
}


def get_backend(cfg: BackendConfig) -> Backend:
    if cfg.name not in BACKENDS:
        raise BackendError(f"unknown backend {cfg.name!r}", f"choose one of: {', '.join(BACKENDS)}")
    module = importlib.import_module(f".{BACKENDS[cfg.name]}", __package__)
    return module.create(cfg)
