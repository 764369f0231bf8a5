"""Who may talk to the server: loopback only by default; anywhere else only with a token.

Without a token the server binds to loopback and answers only requests whose Host header names loopback, so a
web page elsewhere cannot reach it through DNS rebinding. With a token every request needs
`Authorization: Bearer TOKEN` or the `twinforge_token` cookie, which `GET /?token=TOKEN` sets (HttpOnly,
SameSite=Strict) before redirecting to the bare URL so the token leaves the address bar and the history.
Every POST must be JSON: a cross-site form cannot send that without a CORS preflight, which this server never
grants.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.datastructures import URL
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from ..errors import ConfigError

COOKIE = "twinforge_token"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}

# the UI loads nothing from elsewhere and runs no inline code; eval reports are sandboxed apart (see app.py)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def is_loopback(host: str) -> bool:
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token."""
    if not is_loopback(host) and not token:
        raise ConfigError(f"refusing to bind {host} without a token: anyone who can reach it would read your "
                          "conversations", "pass --token (or set TWINFORGE_TOKEN), or bind 127.0.0.1")


def _host_name(header: str) -> str:
    if header.startswith("["):  # [::1]:8765
        return header[: header.find("]") + 1]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class GuardMiddleware(BaseHTTPMiddleware):
    def __init__(self, app, token: str | None, bound_host: str):
        super().__init__(app)
        self.token = token
        self.allowed_hosts = LOOPBACK_NAMES | {bound_host}

    def _authorized(self, request: Request) -> bool:
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else request.cookies.get(COOKIE, "")
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    async def dispatch(self, request: Request, call_next) -> Response:
        if self.token is None:
            host = _host_name(request.headers.get("host", ""))
            if host not in self.allowed_hosts:
                message = "unknown Host header; this server answers on loopback only"
                if request.url.path.startswith(("/v1", "/api")):
                    return JSONResponse({"error": {"message": message, "type": "invalid_request_error",
                                                   "param": None, "code": "forbidden_host"}}, 403)
                return PlainTextResponse(message, 403)
        else:
            offered = request.query_params.get("token")
            if offered is not None and request.method == "GET":
                if not hmac.compare_digest(offered.encode(), self.token.encode()):
                    return _unauthorized(request)
                clean = URL(str(request.url)).remove_query_params("token")
                response = RedirectResponse(clean.path + (f"?{clean.query}" if clean.query else ""), 303)
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict",
                                    secure=request.url.scheme == "https")
                return response
            if not self._authorized(request):
                return _unauthorized(request)
        if request.method == "POST" and not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"error": {"message": "POST bodies must be application/json",
                                           "type": "invalid_request_error", "param": None, "code": "content_type"}},
                                415)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Content-Security-Policy", CSP)
        return response


def _unauthorized(request: Request) -> Response:
    if request.url.path.startswith(("/v1", "/api")):
        return JSONResponse({"error": {"message": "missing or wrong token: send Authorization: Bearer TOKEN",
                                       "type": "invalid_request_error", "param": None, "code": "unauthorized"}}, 401,
                            headers={"WWW-Authenticate": "Bearer"})
    return PlainTextResponse("this twinforge server needs its token: open /?token=TOKEN once, or send "
                             "Authorization: Bearer TOKEN", 401, headers={"WWW-Authenticate": "Bearer"})
