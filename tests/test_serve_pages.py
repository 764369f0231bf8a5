"""What the web UI's pages are given by the JSON API: rendered, sanitised markdown, verdicts in words, a drawable
graph with named groups, the persona card without its markers, example questions, eval report summaries."""

from __future__ import annotations

import json
import re

import httpx
from conftest import rows
from fx_serve import XSS_ID

SQLITE_CONV = "6866aa23-8e90-8000-bf68-72da97af9daa"  # its assistant replies have headings, bold, a table, code


def test_markdown_is_rendered_and_raw_html_stays_text(twin_server):
    text = ("## Plan\n\n**bold** <script>alert(1)</script> <img src=x onerror=alert(2)> <b onmouseover=alert(3)>b</b>"
            "\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n![pic](http://example.com/p.png) [bad](javascript:alert(4)) "
            "[ok](https://example.com) [in](#/c/x)\n\n```python\nprint('<b>')\n```")
    r = httpx.post(f"{twin_server}/api/markdown", json={"text": text})
    assert r.status_code == 200, r.text
    html = r.json()["html"]
    assert "<h2>Plan</h2>" in html and "<strong>bold</strong>" in html and "<table>" in html
    assert "&lt;script&gt;" in html and "&lt;img" in html and "&lt;b onmouseover" in html  # shown, not run
    assert not re.search(r"<(script|img|b)[\s>]", html) and "onerror=" not in html.replace("onerror=alert(2)&gt;", "")
    assert "javascript:" not in html.replace("[bad](javascript:alert(4))", "")  # the unsafe link stays text
    assert 'href="https://example.com"' in html and 'href="#/c/x"' in html
    assert '<code class="language-python">' in html and "&lt;b&gt;" in html
    assert httpx.post(f"{twin_server}/api/markdown", json={"text": "x" * 200_001}).status_code == 422


def test_conversation_gives_rendered_replies_and_an_explained_verdict(twin_server, serve_ws):
    c = httpx.get(f"{twin_server}/api/conversations/{SQLITE_CONV}").json()
    x = c["explained"]
    assert f"chatter score {c['chatter_score']:.2f}" in x["summary"] and "cut-off of 0.80" in x["summary"]
    assert c["verdict"].endswith("so not embedded")  # decided by length and vocabulary alone
    assert x["details"][0].startswith("Long and technical enough to settle it without the topic")
    # a verdict that compared topics names both sides in words, and says when the topic lost
    for cid, reason in rows(serve_ws, "SELECT conversation_id, reason FROM clean_conversations "
                            "WHERE reason LIKE 'nearer %'"):
        d = httpx.get(f"{twin_server}/api/conversations/{cid}").json()["explained"]["details"]
        assert d[0].startswith("Topic: closest substance topic") and "prototypes" not in " ".join(d), (reason, d)
        assert any(x.startswith("Length: ") for x in d) and any(x.startswith("Vocabulary: ") for x in d)
    mixed = rows(serve_ws, "SELECT conversation_id FROM clean_conversations WHERE label = 'substance' AND reason "
                 "LIKE 'nearer ''household''%'")
    assert mixed, "the sample should keep a substance conversation whose topic looks everyday"
    d = httpx.get(f"{twin_server}/api/conversations/{mixed[0][0]}").json()["explained"]["details"]
    assert any("The topic alone leans to chatter" in x for x in d)
    replies = [m for m in c["messages"] if m["role"] == "assistant" and m["kind"] == "dialog" and m["canonical"]]
    assert replies and all(m["html"] for m in replies)
    assert any("<table>" in m["html"] for m in replies) and not any("**" in m["html"] for m in replies)
    assert all(m["html"] is None for m in c["messages"] if m["role"] == "user")  # the person's words as typed
    listed = httpx.get(f"{twin_server}/api/conversations", params={"q": SQLITE_CONV}).json()["items"][0]
    assert listed["explained"]["summary"] == x["summary"]
    hostile = httpx.get(f"{twin_server}/api/conversations/{XSS_ID}").json()
    reply = [m for m in hostile["messages"] if m["role"] == "assistant"][0]["html"]
    assert "&lt;b onmouseover=alert(3)&gt;" in reply and "<b" not in reply


def test_graph_names_each_group_and_gives_drawable_edges(twin_server, serve_ws):
    g = httpx.get(f"{twin_server}/api/graph").json()
    labels = {c["id"]: c["label"] for c in g["concepts"]}
    for cm in g["communities"]:
        assert cm["name"] == " · ".join(labels[c] for c in cm["concepts"][:3])
    drawn = {c["id"] for c in g["concepts"][:g["drawn"]["nodes"]]}
    assert g["drawn"]["nodes"] == min(150, len(g["concepts"]))
    assert g["drawn"]["edges"] and all(e["source"] in drawn and e["target"] in drawn for e in g["drawn"]["edges"])
    pairs = rows(serve_ws, "SELECT count(*) FROM (SELECT DISTINCT a.concept, b.concept FROM memory_concepts a JOIN "
                 "memory_concepts b ON a.module_id = b.module_id AND a.concept < b.concept)")[0][0]
    assert len(g["drawn"]["edges"]) == pairs  # every co-occurrence (all concepts are drawn on the sample)


def test_persona_html_hides_markers_and_links_quotes(twin_server):
    p = httpx.get(f"{twin_server}/api/persona").json()
    assert "twinforge:begin" in p["markdown"]  # the source has them …
    html = p["html"]
    assert "twinforge:" not in html and "sha=" not in html and "<!--" not in html and "&lt;!--" not in html
    assert "<h2>Recurring themes</h2>" in html and "<h1>" not in html and '"corpus"' not in html
    assert re.search(r'<a href="#/c/[^"?]+\?m=[^"]+"', html)  # each quote links to its message


def test_example_questions(twin_server):
    items = httpx.get(f"{twin_server}/api/examples").json()["items"]
    assert 1 <= len(items) <= 4 and len(set(items)) == len(items)
    assert all(q.endswith("?") and len(q) > 10 for q in items)


def test_reports_summarise_each_eval_run(serve_copy, start_server):
    folder = serve_copy / "reports" / "eval-1"
    folder.mkdir(parents=True)
    (folder / "index.html").write_text("<h1>r</h1>", encoding="utf-8")
    run = {"models": [{"name": "base"}, {"name": "default-full"}], "probes": [{}, {}, {}], "seconds": 42.4,
           "active": [{"model": "default-full", "active": True, "outputs_differ": 2, "outputs_compared": 3}],
           "failures": [{"kind": "x"}]}
    (folder / "report.json").write_text(json.dumps(run), encoding="utf-8")
    broken = serve_copy / "reports" / "eval-2"
    broken.mkdir()
    (broken / "index.html").write_text("<h1>r</h1>", encoding="utf-8")
    (broken / "report.json").write_text("{not json", encoding="utf-8")
    url = start_server(serve_copy)
    items = {i["name"]: i for i in httpx.get(f"{url}/api/reports").json()["items"]}
    s = items["eval-1"]["summary"]
    assert s["models"] == ["base", "default-full"] and s["probes"] == 3
    assert s["metrics"] == {"default-full vs base": "2 of 3 answers differ", "failure modes flagged": "1",
                            "run time": "42 s"}
    assert items["eval-2"]["summary"] is None and items["eval-2"]["url"] == "/reports/eval-2/index.html"
