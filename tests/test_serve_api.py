"""`twinforge serve`: the OpenAI-compatible API and the JSON API, against a real uvicorn server."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys

import httpx
import pytest
from conftest import rows
from fx_serve import XSS_ID, XSS_TITLE, extractive_config

SQLITE_Q = "Что я решил про хранилище: SQLite или Parquet?"
SQLITE_CONV = "6866aa23-8e90-8000-bf68-72da97af9daa"
BRANCHY_CONV = "68381a57-0c81-8008-9619-5537f94f39f9"  # an edit and two regenerations
SECRETS_CONV = "68189391-e6de-8009-8876-28b2412a72d2"


def chat(url: str, question: str, **body) -> httpx.Response:
    payload = {"model": "twin", "messages": [{"role": "user", "content": question}]} | body
    return httpx.post(f"{url}/v1/chat/completions", json=payload, timeout=120)


def sse(response: httpx.Response) -> list:
    """The `data:` payloads of a server-sent event stream, JSON-decoded except the final [DONE]."""
    out = []
    for block in response.text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            data = block[len("data: "):]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def test_models_lists_the_twin_and_each_adapter(serve_copy, start_server):
    for aid in ("scene-a", "scene-b"):
        (serve_copy / "adapters" / aid).mkdir(parents=True)
        (serve_copy / "adapters" / aid / "twinforge.json").write_text(json.dumps({"id": aid, "base": "embedded"}))
    url = start_server(serve_copy, extractive_config())
    data = httpx.get(f"{url}/v1/models").json()
    assert data["object"] == "list"
    assert [m["id"] for m in data["data"]] == ["twin", "twin+scene-a", "twin+scene-b"]
    assert data["data"][0]["twinforge"]["persona"] is True
    assert httpx.get(f"{url}/v1/models/twin+scene-b").json()["id"] == "twin+scene-b"
    assert httpx.get(f"{url}/v1/models/nope").status_code == 404


def test_completion_answers_with_citations_to_real_messages(twin_server, serve_ws):
    r = chat(twin_server, SQLITE_Q)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "chat.completion" and body["model"] == "twin"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    ext = body["twinforge"]
    assert ext["language"] == "ru" and ext["backend"] == "extractive"
    sources = ext["sources"]
    assert sources and [s["n"] for s in sources] == list(range(1, len(sources) + 1))
    assert sources[0]["conversation_id"] == SQLITE_CONV  # the conversation that debated exactly this
    for s in sources:  # every citation points at a real message of the conversation it names
        if s["message_id"]:
            found = rows(serve_ws, "SELECT conversation_id FROM messages WHERE id = ?", s["message_id"])
            assert found and found[0][0] == s["conversation_id"]
        assert s["url"].startswith("/#/c/")
    content = choice["message"]["content"]
    answer, _, footer = content.partition("\n\nИсточники:\n")
    assert answer.strip() and footer, content  # the answer, then the plain-text source list with [n] markers
    assert f"[1] «{sources[0]['title']}»" in footer and SQLITE_CONV in footer
    assert body["usage"]["completion_tokens"] > 0


def test_streaming_sends_openai_chunks_with_the_same_answer(twin_server):
    whole = chat(twin_server, SQLITE_Q).json()
    with httpx.stream("POST", f"{twin_server}/v1/chat/completions", timeout=120, json={
            "model": "twin", "stream": True, "messages": [{"role": "user", "content": SQLITE_Q}]}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        r.read()
    events = sse(r)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == chunks[0]["id"] for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == whole["choices"][0]["message"]["content"]
    assert chunks[0]["twinforge"]["sources"] == whole["twinforge"]["sources"]  # known before the first token
    assert chunks[-1]["twinforge"]["sources"] == whole["twinforge"]["sources"]


def test_evidence_only_and_no_footer(twin_server):
    body = chat(twin_server, "What did I say about SQLite and Parquet?",
                twinforge={"no_llm": True, "footer": False, "k": 3}).json()
    content = body["choices"][0]["message"]["content"]
    assert content.startswith("Evidence from memory:")
    assert "Sources:" not in content
    assert len(body["twinforge"]["sources"]) == 3
    assert body["twinforge"]["cited"] == [1, 2, 3]  # the evidence cites every piece by number
    assert body["twinforge"]["backend"] == "none"


def test_system_message_and_conversation_history_are_accepted(twin_server):
    r = chat(twin_server, "ignored", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Сколько часов QLoRA на 15 000 страниц?"}]},
        {"role": "assistant", "content": "…"},
        {"role": "user", "content": SQLITE_Q}], top_p=0.9, n=1, user="someone")
    assert r.status_code == 200, r.text
    assert r.json()["twinforge"]["sources"][0]["conversation_id"] == SQLITE_CONV  # the last user turn is asked


@pytest.mark.parametrize("body, status, code", [
    ({"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}, 404, "model_not_found"),
    ({"model": "twin+", "messages": [{"role": "user", "content": "hi"}]}, 404, "model_not_found"),
    ({"model": "twin+missing", "messages": [{"role": "user", "content": "hi"}]}, 400, None),
    ({"model": "twin", "messages": []}, 400, None),
    ({"model": "twin", "messages": [{"role": "system", "content": "only a system message"}]}, 400, None),
    ({"model": "twin", "messages": [{"role": "user", "content": "   "}]}, 400, None),
    ({"model": "twin", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, 400, None),
])
def test_bad_requests_get_openai_errors(twin_server, body, status, code):
    r = httpx.post(f"{twin_server}/v1/chat/completions", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["message"] and err["type"] == "invalid_request_error"
    assert err["code"] == code


def test_post_must_be_json(twin_server):
    r = httpx.post(f"{twin_server}/v1/chat/completions", content="model=twin", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415


def test_conversation_api_shows_branches_rejects_and_no_secrets(twin_server, serve_ws):
    c = httpx.get(f"{twin_server}/api/conversations/{BRANCHY_CONV}").json()
    msgs = c["messages"]
    assert len(msgs) == rows(serve_ws, "SELECT count(*) FROM messages WHERE conversation_id = ?", BRANCHY_CONV)[0][0]
    assert [m["position"] for m in msgs] == sorted(m["position"] for m in msgs)
    other = [m for m in msgs if m["kind"] == "dialog" and not m["canonical"]]
    assert len(other) == 3 and all(m["reason"] == "other-branch" and m["keep"] is False for m in other)
    reasons = dict(rows(serve_ws, "SELECT message_id, reason FROM clean_messages WHERE conversation_id = ?",
                        BRANCHY_CONV))
    assert {m["id"]: m["reason"] for m in msgs if m["reason"]} == reasons
    assert c["label"] == "substance" and c["modules"]
    # secrets stay redacted in the UI, in kept and rejected messages alike
    raw = httpx.get(f"{twin_server}/api/conversations/{SECRETS_CONV}").text
    for secret in ("sk-proj-Q7vLm2Xr9TbN4cWz8KpD1fHs6JgY3uEa5RoVi0BnCtMq7ZxLw2PeUk9Sd4Hj", "ivan.petrov.twin@mail.ru",
                   "123-45-67"):
        assert secret not in raw
    assert httpx.get(f"{twin_server}/api/conversations/nope").status_code == 404


def test_conversation_listing_filters_and_pages(twin_server, serve_ws):
    everything = httpx.get(f"{twin_server}/api/conversations", params={"limit": 500}).json()
    assert everything["total"] == rows(serve_ws, "SELECT count(*) FROM conversations")[0][0]
    chatter = httpx.get(f"{twin_server}/api/conversations", params={"label": "chatter"}).json()
    expected = rows(serve_ws, "SELECT count(*) FROM clean_conversations WHERE label = 'chatter'")[0][0]
    assert chatter["total"] == expected > 0 and all(c["label"] == "chatter" for c in chatter["items"])
    found = httpx.get(f"{twin_server}/api/conversations", params={"q": "<script>"}).json()
    assert [c["id"] for c in found["items"]] == [XSS_ID] and found["items"][0]["title"] == XSS_TITLE
    assert httpx.get(f"{twin_server}/api/conversations", params={"q": "100%_"}).json()["total"] == 0
    page = httpx.get(f"{twin_server}/api/conversations", params={"limit": 2, "offset": 2}).json()
    assert [c["id"] for c in page["items"]] == [c["id"] for c in everything["items"][2:4]]


def test_modules_graph_funnel_persona_search(twin_server, serve_ws):
    mods = httpx.get(f"{twin_server}/api/modules").json()["items"]
    assert len(mods) == rows(serve_ws, "SELECT count(*) FROM modules WHERE kind = 'dialog'")[0][0]
    one = httpx.get(f"{twin_server}/api/modules/{mods[0]['id']}").json()
    assert one["phrase"] == mods[0]["phrase"] and "quotes" in one
    g = httpx.get(f"{twin_server}/api/graph").json()
    assert g["stats"]["concepts"] == len(g["concepts"]) > 0
    linked = [c for c in g["concepts"] if c["neighbours"]]
    assert linked, "co-occurring concepts are listed as neighbours"
    a = linked[0]
    b = next(c for c in g["concepts"] if c["id"] == a["neighbours"][0]["id"])
    assert a["id"] in [n["id"] for n in b["neighbours"]]  # adjacency is symmetric
    funnel = httpx.get(f"{twin_server}/api/funnel").json()
    assert funnel["steps"][0]["messages"] == rows(serve_ws, "SELECT count(*) FROM clean_messages")[0][0]
    persona = httpx.get(f"{twin_server}/api/persona").json()
    assert persona["exists"] and persona["data"]["corpus"]["modules"] == len(mods)
    hits = httpx.get(f"{twin_server}/api/search", params={"q": "SQLite Parquet", "k": 3}).json()["items"]
    assert len(hits) == 3 and hits[0]["conversation_id"] == SQLITE_CONV


def test_eval_reports_are_served_read_only_and_sandboxed(serve_copy, start_server):
    report = serve_copy / "reports" / "eval-2026-01-01"
    report.mkdir(parents=True)
    (report / "index.html").write_text("<!doctype html><h1>eval</h1>", encoding="utf-8")
    url = start_server(serve_copy, extractive_config())
    listed = httpx.get(f"{url}/api/reports").json()["items"]
    assert [r["name"] for r in listed] == ["eval-2026-01-01"]
    r = httpx.get(url + listed[0]["url"])
    assert r.status_code == 200 and "<h1>eval</h1>" in r.text
    assert r.headers["content-security-policy"].startswith("sandbox")
    assert httpx.put(url + listed[0]["url"], json={}).status_code == 405
    assert httpx.get(f"{url}/reports/..%2Ftwin.db").status_code == 404
    assert httpx.get(f"{url}/reports/../twin.db").status_code == 404


def test_real_llamacpp_backend_streams_tokens(serve_copy, tmp_path):
    """`twinforge serve` with the embedded GGUF through llama.cpp answers as the twin, token by token. The
    server runs as a real CLI subprocess, so a native crash in llama.cpp fails this test, not the test run."""
    pytest.importorskip("llama_cpp")
    from conftest import free_port, serving

    (serve_copy / "persona.md").unlink()  # a shorter prompt keeps the CPU time down; the card is tested apart
    port = free_port()
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-c", "from twinforge.cli.main import main; main()", "-w", str(serve_copy), "serve",
           "--port", str(port), "--backend", "llamacpp"]
    url = f"http://127.0.0.1:{port}"
    with serving(cmd, f"{url}/v1/models", log, 60, "serve") as proc:
        try:
            with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=300, json={
                    "model": "twin", "stream": True, "max_tokens": 24, "temperature": 0,
                    "twinforge": {"footer": False, "k": 1},
                    "messages": [{"role": "user", "content": "Why train one LoRA adapter per scene?"}]}) as r:
                assert r.status_code == 200
                r.read()
        except httpx.HTTPError as e:
            pytest.fail(f"the server died mid-answer ({e}; exit code {proc.poll()}): {log.read_text()[-2000:]}")
    events = sse(r)
    assert events[-1] == "[DONE]" and not any(isinstance(e, dict) and "error" in e for e in events), events
    pieces = [e["choices"][0]["delta"].get("content") for e in events[:-1]]
    pieces = [p for p in pieces if p]
    assert len(pieces) >= 3, pieces  # streamed in pieces, not one block
    assert "".join(pieces).strip()
    assert events[0]["twinforge"]["backend"] == "llamacpp" and len(events[0]["twinforge"]["sources"]) == 1


def test_persona_goes_into_the_prompt(serve_copy, start_server, monkeypatch):
    """What the model is shown: the persona card (hand edits included), the client's system text, then the rules
    and the evidence as the system message; the question alone as the user's."""
    from twinforge.backends import extractive

    seen = []
    real = extractive.ExtractiveBackend.complete
    monkeypatch.setattr(extractive.ExtractiveBackend, "name", "probe")  # not "extractive": ask shows the prompt
    monkeypatch.setattr(extractive.ExtractiveBackend, "complete",
                        lambda self, req: (seen.append(req), real(self, req))[1])
    card = serve_copy / "persona.md"
    card.write_text(card.read_text(encoding="utf-8").replace("## My notes\n", "## My notes\n\nI distrust summaries.\n"),
                    encoding="utf-8")
    url = start_server(serve_copy, extractive_config())
    assert chat(url, SQLITE_Q, messages=[{"role": "system", "content": "Client rule."},
                                         {"role": "user", "content": SQLITE_Q}]).status_code == 200
    system = seen[0].messages[0]
    assert system["role"] == "system"
    text = system["content"]
    assert text.index("Recurring themes") < text.index("I distrust summaries.") < text.index("Client rule.")
    assert text.index("Client rule.") < text.index("Фрагменты:\n[1] ")  # a Russian question: Russian rules
    assert seen[0].messages[1:] == [{"role": "user", "content": SQLITE_Q}]


def test_store_is_not_held_open_between_requests(twin_server, serve_ws):
    chat(twin_server, SQLITE_Q, stream=True)
    db = sqlite3.connect(serve_ws / "twin.db", timeout=0.5)
    try:
        db.execute("BEGIN EXCLUSIVE")  # would time out if a request still held the database
        db.execute("ROLLBACK")
    finally:
        db.close()


def test_adapter_model_streams_through_transformers(serve_copy, adapter_ws, start_server):
    """`twin+<adapter>`: the base + a real (tiny) LoRA adapter, generating token by token with transformers."""
    shutil.copytree(adapter_ws / "adapters" / "style_a", serve_copy / "adapters" / "style_a")
    (serve_copy / "persona.md").unlink()  # a shorter prompt: this test is about the adapter path
    url = start_server(serve_copy, extractive_config())
    assert "twin+style_a" in [m["id"] for m in httpx.get(f"{url}/v1/models").json()["data"]]
    with httpx.stream("POST", f"{url}/v1/chat/completions", timeout=300, json={
            "model": "twin+style_a", "stream": True, "max_tokens": 12, "twinforge": {"footer": False, "k": 1},
            "messages": [{"role": "user", "content": "Why one LoRA adapter per scene?"}]}) as r:
        assert r.status_code == 200
        r.read()
    events = sse(r)
    assert events[-1] == "[DONE]" and not any("error" in e for e in events[:-1]), events
    assert events[0]["model"] == "twin+style_a" and events[0]["twinforge"]["backend"] == "adapter"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-1])
    assert "\nuser:" not in text and "\nassistant:" not in text  # the base model's own next turn is cut
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
