"""A local GGUF model through llama-cpp-python: offline, CPU by default, the embedded generator unless told otherwise.

One model instance per process (keyed by path and context size): loading takes seconds and hundreds of MB, and
every stage that asks for the same model shares it. llama.cpp already uses every core for one request, and one
context cannot decode two at once, so `complete_many` runs its requests one after another behind a lock.
JSON schemas become a grammar (llama-cpp-python's `response_format={"type": "json_object", "schema": ...}`), so
the output is valid JSON of that shape, cut short only by max_tokens.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

from ..errors import TwinforgeError
from . import llama_logs
from .base import BackendError, Completion, Request, complete_in_order
from .config import BackendConfig

INSTALL_HINT = "pip install llama-cpp-python (it compiles llama.cpp: a few minutes)"
# logit bias on the word tokens of Request.avoid: measured on the demo's Russian questions with the embedded
# 0.5B model, 2 still copies them whole, 3 leaves 43-62% of their word 3-grams, 4 loses the meaning
AVOID_BIAS = -3.0


def avoid_bias(tokenize, detokenize, text: str) -> dict[int, float]:
    """A negative bias for each token of `text` that carries a word (3+ characters with a letter): the model
    must find other words, while punctuation and short pieces stay free."""
    out = {}
    for token in tokenize(text.encode("utf-8"), add_bos=False):
        piece = detokenize([token]).decode("utf-8", "ignore").strip()
        if len(piece) >= 3 and any(ch.isalpha() for ch in piece):
            out[token] = AVOID_BIAS
    return out


@lru_cache(maxsize=2)
def _load(path: str, n_ctx: int):
    try:
        from llama_cpp import Llama
    except ImportError as e:
        raise BackendError("the llamacpp backend needs llama-cpp-python, which is not installed", INSTALL_HINT) from e
    llama_logs.quiet()
    try:
        llm = Llama(model_path=path, n_ctx=n_ctx, n_threads=os.cpu_count(), verbose=False)
    except (ValueError, RuntimeError) as e:  # llama.cpp says little more than "failed to load"
        raise BackendError(f"llama.cpp cannot load {path} ({e})", "is it a complete GGUF file?") from e
    return llm, threading.Lock()  # one context decodes one request at a time


class LlamaCppBackend:
    name = "llamacpp"

    def __init__(self, cfg: BackendConfig):
        self.cfg = cfg
        if cfg.model:
            path = Path(cfg.model).expanduser()
            if not path.is_file():
                raise BackendError(f"GGUF model {path} not found",
                                   "give backend.model as a path to a .gguf file, or leave it empty for the "
                                   "embedded model")
        else:
            from ..models.embedded import embedded_generator

            try:
                path = embedded_generator()
            except TwinforgeError as e:
                raise BackendError(e.message, e.hint) from e
        self.path = path
        self.model = path.name

    def _llm(self):
        return _load(str(self.path), self.cfg.context)

    def complete(self, request: Request) -> Completion:
        llm, lock = self._llm()
        kwargs = {
            "messages": request.messages,
            "max_tokens": request.max_tokens or self.cfg.max_tokens,
            "temperature": self.cfg.temperature if request.temperature is None else request.temperature,
            "seed": self.cfg.seed,  # per call, so a run's output does not depend on what ran before it
        }
        if request.json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": request.json_schema}
        if request.avoid:
            kwargs["logit_bias"] = avoid_bias(llm.tokenize, llm.detokenize, request.avoid)
        try:
            with lock:
                out = llm.create_chat_completion(**kwargs)
        except ValueError as e:  # e.g. "Requested tokens (5000) exceed context window of 4096"
            raise BackendError(f"llama.cpp refused the request: {e}",
                               "raise backend.context, or send a shorter prompt / smaller max_tokens") from e
        except RuntimeError as e:
            raise BackendError(f"llama.cpp failed: {e}") from e
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return Completion(
            text=choice["message"].get("content") or "",
            model=self.model,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            meta={"backend": self.name, "path": str(self.path), "finish_reason": choice.get("finish_reason")},
        )

    def complete_many(self, requests: Sequence[Request]) -> list[Completion | BackendError]:
        return complete_in_order(self, requests)

    def stream(self, request: Request) -> Iterator[str]:
        """Token pieces of a plain-text answer as llama.cpp produces them; JSON requests use complete().

        llama.cpp decodes in a thread of its own and pieces cross over a queue: a web server's consumer may call
        next() from different threads (a lock held across yields would be released by the wrong one). A consumer
        that stops early calls `close()`, or `cancel()` from any thread (a server whose client went away):
        decoding stops after the token in progress and the model is free again."""
        if request.json_schema is not None:
            return iter([self.complete(request).text])
        return _TokenStream(self, request)


class _TokenStream:
    """An iterator over one answer's pieces; decoding starts at the first next()."""

    def __init__(self, backend: LlamaCppBackend, request: Request):
        self.backend = backend
        self.request = request
        self.pieces: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.started = False

    def __iter__(self) -> _TokenStream:
        return self

    def __next__(self) -> str:
        if not self.started:
            self.started = True
            threading.Thread(target=self._produce, daemon=True, name="llama-stream").start()
        if self.stop.is_set() and self.pieces.empty():
            raise StopIteration
        item = self.pieces.get()
        if item is None:
            self.stop.set()
            raise StopIteration
        if isinstance(item, BackendError):
            self.stop.set()
            raise item
        return item

    def cancel(self) -> None:
        """Stop decoding after the token in progress; safe from any thread."""
        self.stop.set()
        self.pieces.put(None)  # wakes a consumer waiting in next()

    close = cancel

    def _produce(self) -> None:
        r, cfg = self.request, self.backend.cfg
        llm, lock = self.backend._llm()
        try:
            with lock:
                if self.stop.is_set():
                    return
                for chunk in llm.create_chat_completion(
                        messages=r.messages, max_tokens=r.max_tokens or cfg.max_tokens,
                        temperature=cfg.temperature if r.temperature is None else r.temperature,
                        seed=cfg.seed, stream=True):
                    if self.stop.is_set():
                        break
                    piece = chunk["choices"][0].get("delta", {}).get("content")
                    if piece:
                        self.pieces.put(piece)
        except ValueError as e:  # e.g. the prompt exceeds the context window
            self.pieces.put(BackendError(f"llama.cpp refused the request: {e}",
                                         "raise backend.context, or send a shorter prompt / smaller max_tokens"))
        except RuntimeError as e:
            self.pieces.put(BackendError(f"llama.cpp failed: {e}"))
        finally:
            self.pieces.put(None)


def create(cfg: BackendConfig) -> LlamaCppBackend:
    return LlamaCppBackend(cfg)
