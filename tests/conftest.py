from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TWINFORGE_SHARED", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "exports"
SEEDS = SHARED / "seeds"
SAMPLE = REPO / "examples" / "sample-archive"

# each later stage keeps its fixtures in its own plugin module beside this file
pytest_plugins = ["fx_dataset", "fx_train", "fx_adapters", "fx_eval", "fx_memory", "fx_serve", "fx_hyper"]


def need_shared() -> None:
    """Every test that reads ../shared comes through here: without it the test skips, except where
    TWINFORGE_REQUIRE_SHARED=1 (CI), where missing shared data is a failure, not a silent skip."""
    if not FIXTURES.exists():
        why = f"shared fixtures not found at {SHARED} (set TWINFORGE_SHARED)"
        if os.environ.get("TWINFORGE_REQUIRE_SHARED") == "1":
            pytest.fail(why + "; TWINFORGE_REQUIRE_SHARED=1 requires them")
        pytest.skip(why)


@pytest.fixture
def fixtures() -> Path:
    need_shared()
    return FIXTURES


@pytest.fixture
def seeds() -> Path:
    need_shared()
    return SEEDS


# -- isolation: no test reads or writes the user's workspace or model cache -------------------------------------

_KEEP = {"TWINFORGE_SHARED", "TWINFORGE_REQUIRE_SHARED", "TWINFORGE_REQUIRE_BROWSER"}  # how the suite is run


@pytest.fixture(scope="session", autouse=True)
def _model_cache(tmp_path_factory):
    """The embedded models are assembled once into a cache beside pytest's temporary folders (kept between runs on
    this machine, like pytest's own), never into the user's ~/.cache, and shared by every test of the run."""
    cache = tmp_path_factory.getbasetemp().parent / "twinforge-cache"
    old = os.environ.get("TWINFORGE_CACHE")
    os.environ["TWINFORGE_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("TWINFORGE_CACHE", None)
    else:
        os.environ["TWINFORGE_CACHE"] = old


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path, _model_cache):
    """Every test starts from twinforge's defaults: no TWINFORGE_* setting of the user's leaks in (token,
    workspace, …), and a command run without -w lands in the test's own folder, not ./twin."""
    for name in [n for n in os.environ if n.startswith("TWINFORGE_") and n not in _KEEP | {"TWINFORGE_CACHE"}]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TWINFORGE_WORKSPACE", str(tmp_path / "default-ws"))


@pytest.fixture
def workspace(tmp_path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def tf(workspace):
    """Run the real CLI in-process against a fresh workspace: tf('ingest', path) -> click Result."""
    from twinforge.cli.main import cli

    runner = CliRunner()

    def invoke(*args: str, ws: Path | None = None):
        return runner.invoke(cli, ["-w", str(ws or workspace), *map(str, args)], catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def cleaned_sample_db(tmp_path_factory) -> Path:
    """The sample archive ingested and cleaned once per test run; use `cleaned` for a private copy."""
    from twinforge.cli.main import cli

    ws = tmp_path_factory.mktemp("cleaned") / "ws"
    runner = CliRunner()
    assert runner.invoke(cli, ["-w", str(ws), "ingest", str(SAMPLE)]).exit_code == 0
    r = runner.invoke(cli, ["-w", str(ws), "clean"])
    assert r.exit_code == 0, r.output
    return ws / "twin.db"


@pytest.fixture
def cleaned(cleaned_sample_db, workspace) -> Path:
    """A workspace holding its own copy of the cleaned sample store."""
    workspace.mkdir(parents=True)
    shutil.copy(cleaned_sample_db, workspace / "twin.db")
    return workspace


def rows(ws: Path, sql: str, *args):
    """Query a workspace's twin.db directly (sqlite3.Row results)."""
    db = sqlite3.connect(ws / "twin.db")
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(cmd: list[str], ready_url: str, log: Path, seconds: float, name: str):
    """A subprocess that serves HTTP: started with its output in `log`, waited for until GET `ready_url` answers
    200 (the test fails with the log's tail if it exits or stays silent for `seconds`), stopped on exit."""
    import httpx

    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + seconds
        while True:
            if proc.poll() is not None:
                pytest.fail(f"{name} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(ready_url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{name} did not answer in {seconds:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """A real llama-cpp-python OpenAI-compatible server on the embedded model, once per test run; its base URL."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install llama-cpp-python[server])")
    from twinforge.models.embedded import embedded_generator

    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_generator()), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048"]
    url = f"http://127.0.0.1:{port}/v1"
    with serving(cmd, f"{url}/models", log, 120, "llama_cpp.server"):
        yield url


# -- shared fakes -----------------------------------------------------------------------------------------------


@pytest.fixture
def scripted():
    """Start a stdlib HTTP server whose answers come from `reply(body, headers) -> (status, json, headers)`;
    returns (base_url, log of request bodies and headers)."""
    servers = []

    def start(reply):
        seen: list[tuple[dict, dict]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                seen.append((body, dict(self.headers)))
                status, payload, headers = reply(body, self.headers)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1", seen

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()
