"""OpenAI-compatible `/v1/models` and `/v1/chat/completions` (streaming too), where the model is the twin.

Any OpenAI client works: `OpenAI(base_url="http://127.0.0.1:8765/v1", api_key=TOKEN or "none")`. Answers carry
their citations twice: as [n] markers in the text (followed by a "Sources:" list, unless the request says
`"twinforge": {"footer": false}`), and in a `twinforge` extension field — `{"sources": [...], "cited": [...],
"language"}` — on the completion, or on the first and last chunk of a stream. A request may also send
`"twinforge": {"no_llm": true, "k": 8}`. Errors use OpenAI's shape: `{"error": {"message", "type", "code"}}`.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..backends.base import BackendError
from ..errors import TwinforgeError
from ..memory.ask import cited
from ..store import Store
from ..text.tokens import count_tokens
from .twin import Reply, Twin, UnknownModel, citation_footer, source_dict

router = APIRouter(prefix="/v1")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list | None = None


class TwinOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    no_llm: bool | None = None
    k: int | None = Field(None, ge=1, le=50)
    footer: bool = True


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send top_p, n, stop, user, …: accepted, unused
    model: str = "twin"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=32768)
    max_completion_tokens: int | None = Field(None, ge=1, le=32768)
    temperature: float | None = Field(None, ge=0, le=2)
    twinforge: TwinOptions = Field(default_factory=TwinOptions)


def error(status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)


def _twin(request: Request) -> Twin:
    return request.app.state.twin


@router.get("/models")
def models(request: Request) -> dict:
    return {"object": "list", "data": _twin(request).models()}


@router.get("/models/{model_id}")
def model(model_id: str, request: Request):
    for m in _twin(request).models():
        if m["id"] == model_id:
            return m
    return error(404, f"no model {model_id!r} here", code="model_not_found")


@router.post("/chat/completions")
def chat_completions(body: ChatRequest, request: Request):
    twin = _twin(request)
    opts = body.twinforge
    try:
        with Store(twin.workspace, create=False) as store:
            reply = twin.reply(store, body.model, [m.model_dump() for m in body.messages],
                               max_tokens=body.max_completion_tokens or body.max_tokens,
                               temperature=body.temperature, no_llm=opts.no_llm, k=opts.k)
    except UnknownModel as e:
        return error(404, str(e), code="model_not_found")
    except BackendError as e:
        return error(502, str(e), "backend_error")
    except TwinforgeError as e:
        return error(400, str(e))
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    if body.stream:
        pieces = _Pieces(reply.tokens)
        return _Stream(_events(reply, pieces, completion_id, opts.footer), on_end=pieces.stop,
                       media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    try:
        answer = "".join(reply.tokens).strip()
    except BackendError as e:
        return error(502, str(e), "backend_error")
    except TwinforgeError as e:  # e.g. an adapter that does not fit its base, found when it loads
        return error(400, str(e))
    reply.cited = cited(answer, len(reply.sources))
    content = answer + (citation_footer(reply, answer) if opts.footer else "")
    completion_tokens = count_tokens(content)
    return {
        "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": reply.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None,
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": completion_tokens, "total_tokens": completion_tokens},
        "twinforge": _extension(reply),
    }


def _extension(reply: Reply) -> dict:
    return {"language": reply.language, "backend": reply.backend, "cited": reply.cited,
            "sources": [source_dict(s) for s in reply.sources],
            **({"routes": reply.routes} if reply.routes else {})}


class _Stream(StreamingResponse):
    """A streaming response that calls `on_end` however it ends: finished, or cancelled because the client went
    away (Starlette cancels the stream when it reads the disconnect)."""

    def __init__(self, content, on_end: Callable[[], None], **kwargs):
        super().__init__(content, **kwargs)
        self.on_end = on_end

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_end()


_END = object()


class _Pieces:
    """The model's token pieces, pulled on a thread of their own and handed to the event loop.

    `stop()` (any thread) cancels a token iterator that can be cancelled from any thread (llama.cpp's: decoding
    stops after the token in progress); any other one is closed by the puller when its next piece comes, from
    the puller's own thread (closing a generator from another thread while it runs is not allowed)."""

    def __init__(self, tokens: Iterator[str]):
        self.tokens = tokens
        self.stopped = threading.Event()
        self.queue: asyncio.Queue | None = None

    def stop(self) -> None:
        self.stopped.set()
        cancel = getattr(self.tokens, "cancel", None)
        if cancel:  # a backend that can stop from here (llama.cpp) need not wait for its next piece
            cancel()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.queue = asyncio.Queue()

        def put(item) -> None:
            try:
                loop.call_soon_threadsafe(self.queue.put_nowait, item)
            except RuntimeError:  # the loop has closed: nobody listens any more
                self.stopped.set()

        def pull() -> None:
            try:
                for piece in self.tokens:
                    if self.stopped.is_set():
                        break
                    put(piece)
            except BaseException as e:  # handed to the stream, which reports it
                put(e)
            finally:
                close = getattr(self.tokens, "close", None)
                if close:
                    close()
                put(_END)

        threading.Thread(target=pull, name="twinforge-stream", daemon=True).start()

    async def __aiter__(self) -> AsyncIterator[str]:
        if self.queue is None:
            self.start()
        while (item := await self.queue.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item


async def _events(reply: Reply, pieces: _Pieces, completion_id: str, footer: bool) -> AsyncIterator[str]:
    """Server-sent events in OpenAI's chunk format, then `data: [DONE]`. An error after the stream began
    (the model failed) comes as one `{"error": …}` event before [DONE]. A client that disconnects cancels the
    stream; `_Stream` then stops the pieces, so the model stops generating at once."""
    created = int(time.time())

    def chunk(delta: dict, finish: str | None = None, extension: dict | None = None) -> str:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": reply.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if extension is not None:
            data["twinforge"] = extension
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""}, extension=_extension(reply))
    parts: list[str] = []
    try:
        async for piece in pieces:
            if not parts:
                piece = piece.lstrip()
                if not piece:
                    continue
            parts.append(piece)
            yield chunk({"content": piece})
        answer = "".join(parts)
        reply.cited = cited(answer, len(reply.sources))
        if footer and reply.sources:
            yield chunk({"content": citation_footer(reply, answer)})
        yield chunk({}, "stop", _extension(reply))
    except TwinforgeError as e:
        err = {"message": str(e), "type": "backend_error" if isinstance(e, BackendError) else "invalid_request_error",
               "param": None, "code": None}
        yield f"data: {json.dumps({'error': err}, ensure_ascii=False)}\n\n"
    finally:
        pieces.stop()  # a cancelled stream (client gone) stops the model here, before GC would
    yield "data: [DONE]\n\n"
