"""OpenAI-compatible `/v1/models` and `/v1/chat/completions` (streaming too), where the model is the twin.

Any OpenAI client works: `OpenAI(base_url="http://127.0.0.1:8765/v1", api_key=TOKEN or "none")`. Answers carry
their citations twice: as [n] markers in the text (followed by a "Sources:" list, unless the request says
`"twinforge": {"footer": false}`), and in a `twinforge` extension field — `{"sources": [...], "cited": [...],
"language"}` — on the completion, or on the first and last chunk of a stream. A request may also send
`"twinforge": {"no_llm": true, "k": 8}`. Errors use OpenAI's shape: `{"error": {"message", "type", "code"}}`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

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
        return StreamingResponse(_events(reply, completion_id, opts.footer), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
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
            "sources": [source_dict(s) for s in reply.sources]}


def _events(reply: Reply, completion_id: str, footer: bool) -> Iterator[str]:
    """Server-sent events in OpenAI's chunk format, then `data: [DONE]`. An error after the stream began
    (the model failed) comes as one `{"error": …}` event before [DONE]."""
    created = int(time.time())

    def chunk(delta: dict, finish: str | None = None, extension: dict | None = None) -> str:
        data = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": reply.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if extension is not None:
            data["twinforge"] = extension
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""}, extension=_extension(reply))
    parts: list[str] = []
    tokens = reply.tokens
    try:
        for piece in tokens:
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
        close = getattr(tokens, "close", None)
        if close:
            close()  # releases the model if the client went away mid-answer
    yield "data: [DONE]\n\n"
