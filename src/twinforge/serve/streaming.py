"""Token-by-token output for the backends that can give it, so the chat shows the answer as it is written.

`ask_stream` streams from any backend that has a `stream(request)` method. `Streaming` adds one: llama.cpp
streams through `create_chat_completion(stream=True)`, a transformers model with adapters through a
`TextIteratorStreamer`; any other backend (extractive, an OpenAI server) yields its whole answer at once.
A consumer that stops early should `close()` the iterator, so generation stops and frees the model for others.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from ..backends.base import BackendError, Completion, Request

# a base model without a chat template writes the next turn itself after its answer (see transformers_local)
_TURNS = ("\nuser:", "\nsystem:", "\nassistant:")
_HOLD = max(map(len, _TURNS))


class Streaming:
    """A backend, plus `stream(request) -> Iterator[str]`."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.model = inner.model

    def complete(self, request: Request) -> Completion:
        return self.inner.complete(request)

    def complete_many(self, requests):
        return self.inner.complete_many(requests)

    def stream(self, request: Request) -> Iterator[str]:
        from ..backends.llamacpp import LlamaCppBackend
        from ..memory.adapted import AdaptedBackend

        if isinstance(self.inner, LlamaCppBackend):
            return _llama(self.inner, request)
        if isinstance(self.inner, AdaptedBackend):
            return _transformers(self.inner, request)
        return iter([self.inner.complete(request).text.strip()])


def _llama(backend, request: Request) -> Iterator[str]:
    """llama.cpp decodes in one thread of its own (the consumer's next() calls hop between server threads);
    pieces cross over a queue, and a consumer that stops early makes it stop at the next token."""
    llm, lock = backend._llm()  # the backend's shared model instance and its lock (one decode at a time)
    cfg = backend.cfg
    pieces: queue.Queue = queue.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            with lock:
                for chunk in llm.create_chat_completion(
                        messages=request.messages, max_tokens=request.max_tokens or cfg.max_tokens,
                        temperature=cfg.temperature if request.temperature is None else request.temperature,
                        seed=cfg.seed, stream=True):
                    if stop.is_set():
                        break
                    piece = chunk["choices"][0].get("delta", {}).get("content")
                    if piece:
                        pieces.put(piece)
        except (ValueError, RuntimeError) as e:  # e.g. the prompt exceeds the context window
            pieces.put(BackendError(f"llama.cpp refused the request: {e}",
                                    "raise backend.context, or ask with fewer sources (k)"))
        finally:
            pieces.put(None)

    threading.Thread(target=produce, daemon=True, name="llama-stream").start()
    try:
        while (item := pieces.get()) is not None:
            if isinstance(item, BackendError):
                raise item
            yield item
    finally:
        stop.set()


def _transformers(backend, request: Request) -> Iterator[str]:
    import torch
    from transformers import TextIteratorStreamer

    from ..backends.transformers_local import encode_chat

    model, tok = backend._load()  # loaded once per adapter set and kept by the backend
    inputs, templated = encode_chat(tok, request.messages)
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in inputs.items()}
    streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True, timeout=600)
    failed: list[BaseException] = []

    def generate() -> None:
        try:
            with backend._lock, torch.inference_mode():
                model.generate(**inputs, streamer=streamer, do_sample=False,
                               max_new_tokens=request.max_tokens or backend.cfg.max_tokens,
                               pad_token_id=tok.pad_token_id or tok.eos_token_id)
        except (RuntimeError, ValueError) as e:
            failed.append(e)
            streamer.end()

    threading.Thread(target=generate, daemon=True).start()
    pieces: Iterator[str] = iter(streamer)
    yield from (pieces if templated else _until_next_turn(pieces))
    if failed:
        raise BackendError(f"transformers failed to generate: {failed[0]}")


def _until_next_turn(pieces: Iterator[str]) -> Iterator[str]:
    """Pass text through until the model starts a turn of its own; hold back just enough to see one coming."""
    text, sent = "", 0
    for piece in pieces:
        text += piece
        cut = min((i for i in (text.find(t) for t in _TURNS) if i >= 0), default=-1)
        if cut >= 0:
            if cut > sent:
                yield text[sent:cut]
            return
        if len(text) - _HOLD > sent:
            yield text[sent:len(text) - _HOLD]
            sent = len(text) - _HOLD
    if len(text) > sent:
        yield text[sent:]
