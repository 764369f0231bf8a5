"""Who may reach `twinforge serve`: loopback by default, a token anywhere else; untrusted text never as HTML."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fx_serve import extractive_config

from twinforge.errors import ConfigError

TOKEN = "s3cret-token-for-tests"
STATIC = Path(__file__).resolve().parents[1] / "src" / "twinforge" / "serve"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.5", "::", "example.org"])
def test_binding_beyond_loopback_needs_a_token(serve_ws, host):
    from twinforge.serve.app import create_app

    with pytest.raises(ConfigError, match="without a token"):
        create_app(serve_ws, extractive_config(host=host))
    assert create_app(serve_ws, extractive_config(host=host), token=TOKEN) is not None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_needs_no_token(serve_ws, host):
    from twinforge.serve.app import create_app

    assert create_app(serve_ws, extractive_config(host=host)) is not None


def test_cli_refuses_open_bind_without_token(serve_ws, tf, monkeypatch):
    monkeypatch.delenv("TWINFORGE_TOKEN", raising=False)
    r = tf("serve", "--host", "0.0.0.0", "--backend", "extractive", ws=serve_ws)
    assert r.exit_code == 1
    assert r.output.count("error:") == 1 and "--token" in r.output and "Traceback" not in r.output
    r = tf("serve", "--token", "short", ws=serve_ws)
    assert r.exit_code == 1 and "8 characters" in r.output


def test_cli_without_workspace_is_one_error_line(tf, tmp_path):
    r = tf("serve", ws=tmp_path / "none")
    assert r.exit_code == 1 and r.output.startswith("error: no workspace")


def test_token_guards_every_route(serve_ws, start_server):
    url = start_server(serve_ws, extractive_config(), token=TOKEN)
    for path in ("/", "/static/app.js", "/api/overview", "/v1/models", "/reports/x/index.html"):
        r = httpx.get(url + path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer wrong-token-xx"}).status_code == 401
    assert httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}
                      ).status_code == 401
    assert httpx.get(f"{url}/api/overview", cookies={"twinforge_token": "wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{url}/v1/models", headers=auth).json()["data"][0]["id"] == "twin"
    r = httpx.post(f"{url}/v1/chat/completions", headers=auth, json={
        "messages": [{"role": "user", "content": "SQLite или Parquet?"}], "twinforge": {"no_llm": True}})
    assert r.status_code == 200 and r.json()["twinforge"]["sources"]
    assert "Evidence" not in httpx.get(f"{url}/v1/models", headers=auth).text  # no answer without asking


def test_token_in_the_url_sets_a_cookie_and_leaves_the_address_bar(serve_ws, start_server):
    url = start_server(serve_ws, extractive_config(), token=TOKEN)
    assert httpx.get(f"{url}/?token=wrong-token-xx").status_code == 401
    r = httpx.get(f"{url}/?token={TOKEN}")
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "twinforge_token=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    with httpx.Client(base_url=url, cookies=r.cookies) as browser:
        assert browser.get("/").status_code == 200
        assert browser.get("/api/overview").json()["counts"]["conversations"] > 0


def test_without_token_only_loopback_host_headers_are_answered(twin_server):
    assert httpx.get(f"{twin_server}/api/overview").status_code == 200
    port = twin_server.rsplit(":", 1)[1]
    assert httpx.get(f"{twin_server}/api/overview", headers={"Host": f"localhost:{port}"}).status_code == 200
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own name as Host
    r = httpx.get(f"{twin_server}/api/overview", headers={"Host": f"evil.example:{port}"})
    assert r.status_code == 403


def test_security_headers_on_the_ui(twin_server):
    r = httpx.get(twin_server + "/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in r.headers
    pre = httpx.options(f"{twin_server}/v1/chat/completions", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in pre.headers  # no CORS: other sites cannot read answers


def test_ui_code_has_no_html_sinks():
    """The UI puts data in the page only as text: no innerHTML and friends, no inline script. The one exception is
    richText(), which takes the server's sanitised markdown HTML and re-checks it against an allow-list."""
    js = (STATIC / "static" / "app.js").read_text(encoding="utf-8")
    rich = re.search(r"\nfunction richText\(.*?\n}\n", js, re.S)
    assert rich and rich.group(0).count("innerHTML") == 1 and "RICH_TAGS.has" in rich.group(0)
    js = js.replace(rich.group(0), "")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                 "setAttribute(\"on", "srcdoc", "DOMParser", "createContextualFragment"):
        assert sink not in js, sink
    # richText is only ever given the server's rendered html, never a raw text field
    for call in re.findall(r"richText\(([^,)]+)", js):
        assert call.strip() in ("m.html", "p.html", "turn.html"), call
    html = (STATIC / "templates" / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script in index.html"
    assert not re.search(r"\son\w+=", html), "inline event handler in index.html"
