"""`twinforge serve`: the FastAPI app (OpenAI-compatible API, JSON API, web UI, eval reports) and its runner.

Routes: `/` the web UI (one static page; everything it shows comes from `/api` and is put into the page as text,
never as HTML), `/static/*` its script and styles, `/api/*` the workspace as JSON (browse.py), `/v1/*` the
OpenAI-compatible twin (openai_api.py), `/reports/*` the eval reports, read-only and sandboxed (their scripts run
in an opaque origin that cannot call the API or read the token cookie).
"""

from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import ConfigError, TwinforgeError
from ..memory.config import MemoryConfig
from ..store import Store
from ..store.db import resolve_workspace
from ..store.workspace import Workspace
from . import browse, openai_api
from .config import ServeConfig
from .limits import BodyLimitMiddleware
from .security import GuardMiddleware, check_bind
from .twin import Twin

HERE = Path(__file__).parent
REPORTS_CSP = "sandbox allow-scripts; default-src 'self' 'unsafe-inline' data:; frame-ancestors 'self'"


class _Reports(StaticFiles):
    """The workspace's reports folder, read-only, each page sandboxed. Before any eval it does not exist: every
    path is then a 404 (StaticFiles would fail its check with a 500)."""

    async def check_config(self) -> None:
        if Path(self.directory).is_dir():
            await super().check_config()

    async def get_response(self, path: str, scope):
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = REPORTS_CSP
        return response


def create_app(workspace: str | os.PathLike | None, cfg: ServeConfig | None = None, *, token: str | None = None,
               memory: MemoryConfig | None = None) -> FastAPI:
    """The app for one workspace. `token`: None = loopback only, else required on every request."""
    cfg = cfg or ServeConfig()
    ws = resolve_workspace(workspace)
    Store(ws, create=False).close()  # fail now, with the CLI's message, when there is no workspace
    check_bind(cfg.host, token)
    app = FastAPI(title="twinforge", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.twin = Twin(ws, cfg, memory)
    # inside the guard: the 413 is raised straight into the endpoint's reading of the body (through the guard's
    # task group it would arrive wrapped in an exception group, and FastAPI would answer 400)
    app.add_middleware(BodyLimitMiddleware, max_bytes=cfg.max_body_bytes)
    app.add_middleware(GuardMiddleware, token=token, bound_host=cfg.host)
    app.include_router(openai_api.router)
    app.include_router(browse.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.mount("/reports", _Reports(directory=Workspace(ws).reports, check_dir=False, html=True), name="reports")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(HERE / "templates" / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-store"})

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else first.get("msg", "invalid request")
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "param": where or None,
                                       "code": None}}, 400 if request.url.path.startswith("/v1") else 422)

    # Starlette's HTTPException: FastAPI's own (a subclass), the router's 404/405, a body FastAPI cannot parse
    # (bad UTF-8), the body limit's 413 — every error leaves in OpenAI's shape
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": {"message": str(exc.detail), "type": "invalid_request_error",
                                       "param": None, "code": _CODES.get(exc.status_code)}}, exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(TwinforgeError)
    async def twinforge_error(request: Request, exc: TwinforgeError) -> JSONResponse:
        return JSONResponse({"error": {"message": str(exc), "type": "invalid_request_error", "param": None,
                                       "code": None}}, 400)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": {"message": f"internal error: {type(exc).__name__}", "type": "server_error",
                                       "param": None, "code": None}}, 500)

    return app


def resolve_token(cfg: ServeConfig, token: str | None) -> str | None:
    """--token, else the environment variable the config names; an empty value is no token."""
    token = token if token is not None else os.environ.get(cfg.token_env)
    if token is not None and token.strip() and len(token.strip()) < 8:
        raise ConfigError("the token is shorter than 8 characters", "use a long random one, e.g. "
                          "`python -c \"import secrets; print(secrets.token_urlsafe())\"`")
    return token.strip() if token and token.strip() else None


_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def bind(cfg: ServeConfig) -> socket.socket:
    """The listening socket, bound before anything is printed: a busy port is one clear error, not a banner
    followed by uvicorn's traceback."""
    host = cfg.host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart need not wait
    try:
        sock.bind((host, cfg.port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {cfg.port} on {cfg.host} is in use (another server, or twinforge serve "
                              "already running?)", "stop it, or choose another port with --port") from e
        raise ConfigError(f"cannot listen on {cfg.host}:{cfg.port} ({e.strerror})",
                          "check --host and --port") from e
    sock.set_inheritable(True)
    return sock


def run(app: FastAPI, cfg: ServeConfig, sock: socket.socket | None = None, log_level: str = "warning") -> None:
    """Serve `app` until Ctrl-C, on `sock` when given (see `bind`)."""
    import uvicorn

    config = uvicorn.Config(app, host=cfg.host, port=cfg.port, log_level=log_level, access_log=False)
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)
