"""Fixtures of the serve and persona tests (a pytest plugin loaded by conftest.py).

`serve_ws`: the memory helper's `memory_ws` (sample archive cleaned, distilled extractively, memory built) plus a
hostile conversation — titled `<script>alert(1)</script>`, with markup in its messages — and the persona card;
once per run, read-only. `serve_copy`: a private writable copy. `twin_server`: one real uvicorn server on
`serve_ws` (extractive backend, no token) for the whole run; `start_server(ws, cfg, token)` starts more.
`browser`: headless Debian Chromium through Playwright (skipped when missing, unless TWINFORGE_REQUIRE_BROWSER=1).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

XSS_ID = "xss-0000-0000-0000-000000000001"
XSS_TITLE = "<script>alert(1)</script>"
XSS_USER = "<img src=x onerror=alert(2)> Почему гиперфраза не сокращение, а сжатие мысли? Объясни на примере сцен."
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _tf(ws: Path, *args: str):
    from twinforge.cli.main import cli

    r = CliRunner().invoke(cli, ["-w", str(ws), *map(str, args)])
    assert r.exit_code == 0, r.output
    return r


def hostile_export(folder: Path) -> Path:
    """A one-conversation ChatGPT export whose title and messages are markup."""
    node = lambda nid, parent, children, role, text, t: {  # noqa: E731
        "id": nid, "parent": parent, "children": children,
        "message": {"id": nid, "author": {"role": role}, "create_time": t,
                    "content": {"content_type": "text", "parts": [text]}, "metadata": {}}}
    conv = {"id": XSS_ID, "title": XSS_TITLE, "create_time": 1750000000.0, "update_time": 1750000100.0,
            "current_node": "n2", "mapping": {
                "root": {"id": "root", "message": None, "parent": None, "children": ["n1"]},
                "n1": node("n1", "root", ["n2"], "user", XSS_USER, 1750000000.0),
                "n2": node("n2", "n1", [], "assistant",
                           "<b onmouseover=alert(3)>Гиперфраза</b> хранит структуру мысли, а не слова.", 1750000050.0)}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "conversations.json"
    path.write_text(json.dumps([conv], ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def serve_ws(memory_ws, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("serve")
    ws = root / "ws"
    shutil.copytree(memory_ws, ws)
    _tf(ws, "ingest", hostile_export(root / "hostile"))
    _tf(ws, "clean")
    _tf(ws, "memory", "build")
    _tf(ws, "persona")
    return ws


@pytest.fixture
def serve_copy(serve_ws, tmp_path) -> Path:
    ws = tmp_path / "ws-serve"
    shutil.copytree(serve_ws, ws)
    return ws


class LiveServer:
    """A real uvicorn server in a thread, on a free port."""

    def __init__(self, app, host: str = "127.0.0.1"):
        import uvicorn
        from conftest import free_port

        self.port = free_port()
        self.url = f"http://{host}:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=self.port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def start_server():
    """start_server(ws, cfg=None, token=None) -> base URL; every server started is stopped after the test."""
    from twinforge.serve.app import create_app

    started: list[LiveServer] = []

    def start(ws: Path, cfg=None, token: str | None = None) -> str:
        server = LiveServer(create_app(ws, cfg, token=token)).start()
        started.append(server)
        return server.url

    yield start
    for s in started:
        s.stop()


def extractive_config(**update):
    from twinforge.backends.config import BackendConfig
    from twinforge.serve.config import ServeConfig

    return ServeConfig(backend=BackendConfig(name="extractive"), **update)


@pytest.fixture(scope="session")
def twin_server(serve_ws) -> str:
    """Base URL of a server on `serve_ws` answering with the extractive backend (instant, no model)."""
    from twinforge.serve.app import create_app

    server = LiveServer(create_app(serve_ws, extractive_config())).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's /usr/bin/chromium) through Playwright, once per run."""
    required = os.environ.get("TWINFORGE_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            pytest.fail("TWINFORGE_REQUIRE_BROWSER=1 but the playwright package is not installed")
        pytest.skip("playwright is not installed (pip install playwright; Chromium from apt: chromium)")
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"TWINFORGE_REQUIRE_BROWSER=1 but {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    """A fresh page; any JavaScript dialog (alert) or page error fails the test that caused it."""
    context = browser.new_context()
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    yield pg
    context.close()
    assert not pg.dialogs, f"a dialog opened: {pg.dialogs}"
    assert not pg.errors, f"JavaScript errors: {pg.errors}"
