"""A cap on request bodies, declared (Content-Length) or streamed (chunked): past it the answer is 413.

The body is counted as it arrives, so an oversized upload costs at most the cap plus one chunk of memory before it
is refused. The 413 is raised as an HTTPException from inside the app's own reading of the body, so it leaves
through the same error handler, in OpenAI's error shape, as every other error.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"request body is larger than the server's limit of {limit:,} bytes "
                              "(serve.max_body_bytes in the recipe)")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            # refused before a byte of it is read; the app's error handler answers (see create_app)
            async def refuse() -> Message:
                raise too_large(self.max_bytes)

            await self.app(scope, refuse, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise too_large(self.max_bytes)
            return message

        await self.app(scope, counted, send)
