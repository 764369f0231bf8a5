"""The embedded model behind `python -m llama_cpp.server`, for the benches that drive a server (distill, expand)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(ctx: int, log: Path, threads: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start it on a free port and wait (at most 180 s) until /v1/models answers; its output goes to `log`.
    `threads` pins its threads (several servers on one machine must not fight over the cores)."""
    from twinforge.models.embedded import embedded_generator

    port = free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_generator()), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(ctx)]
    if threads:
        cmd += ["--n_threads", str(threads), "--n_threads_batch", str(threads)]
    out = open(log, "wb")  # noqa: SIM115  (open for the server's lifetime)
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"llama_cpp.server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"llama_cpp.server did not answer in 180 s:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
