"""The server against a misbehaving client: disconnects mid-stream, oversized and malformed bodies; its smaller
edges: reports before any eval, the models listing, a busy port."""

from __future__ import annotations

import itertools
import json
import socket
import time

import httpx
import pytest
from fx_serve import extractive_config

ASK = {"model": "twin", "messages": [{"role": "user", "content": "Why train one LoRA adapter per scene?"}]}


def openai_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"]
    return body["error"]


# --- item 9: a client that goes away stops the model -------------------------------------------------------


def test_a_client_disconnecting_mid_stream_stops_generation_within_a_second(serve_copy, start_server, monkeypatch):
    """Against the real embedded model: it ran on for ~150 s at full core after the client had gone, and the
    next request waited for it. Now decoding stops after the token in progress."""
    pytest.importorskip("llama_cpp")
    from twinforge.backends.config import BackendConfig
    from twinforge.backends.llamacpp import _load
    from twinforge.models.embedded import embedded_generator
    from twinforge.serve.config import ServeConfig

    (serve_copy / "persona.md").unlink()  # a shorter prompt: less CPU before the first token
    backend = BackendConfig(name="llamacpp", max_tokens=1500, temperature=0.8)
    llm, lock = _load(str(embedded_generator()), backend.context)  # the server's own instance (cached)
    decoded: list[float] = []  # when each token came out of llama.cpp
    generate = llm.create_chat_completion

    def timed(*args, **kwargs):
        for chunk in generate(*args, **kwargs):
            decoded.append(time.monotonic())
            yield chunk

    monkeypatch.setattr(llm, "create_chat_completion", timed)
    url = start_server(serve_copy, ServeConfig(backend=backend, k=1))
    body = {**ASK, "stream": True, "max_tokens": 1500, "twinforge": {"k": 1}}
    with httpx.Client(timeout=300) as client, client.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        seen = 0
        for line in r.iter_lines():
            seen += '"content": "' in line and '"content": ""' not in line
            if seen >= 4:
                break
        assert lock.locked(), "the answer ended before the test could disconnect"
    gone = time.monotonic()  # the connection is closed here
    while lock.locked() and time.monotonic() - gone < 60:
        time.sleep(0.01)
    stopped_after = time.monotonic() - gone
    after = sum(t > gone for t in decoded)
    gaps = sorted(b - a for a, b in itertools.pairwise(decoded[1:]))  # the first gap holds the prompt's prefill
    per_token = gaps[len(gaps) // 2] if gaps else 0.0
    print(f"generation stopped {stopped_after:.2f} s after the disconnect, {after} token(s) later "
          f"({per_token:.2f} s a token here)")
    assert after <= 2, f"the model decoded {after} more tokens ({stopped_after:.1f} s) after the client left"
    assert stopped_after < max(1.0, 3 * per_token), f"the model ran on for {stopped_after:.1f} s"


# --- item 10: body limits and one error shape --------------------------------------------------------------


def test_oversized_bodies_get_413_declared_or_chunked(serve_copy, start_server):
    url = start_server(serve_copy, extractive_config(max_body_bytes=64 * 1024))
    big = json.dumps({**ASK, "padding": "x" * 300_000}).encode()
    r = httpx.post(f"{url}/v1/chat/completions", content=big, headers={"Content-Type": "application/json"})
    assert openai_error(r, 413)["code"] == "request_too_large"

    def chunks():  # no Content-Length: Transfer-Encoding chunked
        for i in range(0, len(big), 16 * 1024):
            yield big[i : i + 16 * 1024]

    r = httpx.post(f"{url}/v1/chat/completions", content=chunks(), headers={"Content-Type": "application/json"})
    assert openai_error(r, 413)["code"] == "request_too_large"
    ok = httpx.post(f"{url}/v1/chat/completions", json=ASK)  # under the limit: answered
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("content, status", [
    (b'{"model": "twin", "messages": [', 400),  # malformed JSON
    (b'{"model": "twin", "messages": [{"role": "user", "content": "\xff\xfe"}]}', 400),  # not UTF-8
])
def test_malformed_bodies_get_the_same_openai_error_shape(twin_server, content, status):
    r = httpx.post(f"{twin_server}/v1/chat/completions", content=content, headers={"Content-Type": "application/json"})
    assert openai_error(r, status)["type"] == "invalid_request_error"


def test_unknown_routes_and_methods_get_the_openai_error_shape(twin_server):
    openai_error(httpx.get(f"{twin_server}/v1/nothing-here"), 404)
    openai_error(httpx.get(f"{twin_server}/v1/chat/completions"), 405)


# --- item 11, 12 -------------------------------------------------------------------------------------------


def test_reports_before_any_eval_are_404_not_500(serve_copy, start_server):
    assert not (serve_copy / "reports").exists()
    url = start_server(serve_copy, extractive_config())
    openai_error(httpx.get(f"{url}/reports/index.html"), 404)
    (serve_copy / "reports").mkdir()
    (serve_copy / "reports" / "r.html").write_text("<p>report</p>")
    assert httpx.get(f"{url}/reports/r.html").status_code == 200  # one that appears later is served


def test_models_say_memory_is_built_only_when_it_is(serve_copy, start_server, tmp_path):
    from twinforge.store import Store

    url = start_server(serve_copy, extractive_config())
    assert httpx.get(f"{url}/v1/models").json()["data"][0]["twinforge"]["memory"] is True
    with Store(serve_copy) as store, store.transaction() as db:
        db.execute("DELETE FROM memory_items")
    assert httpx.get(f"{url}/v1/models").json()["data"][0]["twinforge"]["memory"] is False


def test_serve_on_a_busy_port_is_one_clear_error_without_a_banner(serve_copy):
    from click.testing import CliRunner

    from twinforge.cli.main import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = CliRunner().invoke(cli, ["-w", str(serve_copy), "serve", "--port", str(port), "--no-llm"])
    assert r.exit_code == 1
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and str(port) in lines[0] and "in use" in lines[0], lines
