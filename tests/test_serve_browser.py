"""The web UI in a real headless Chromium (Debian's, driven by Playwright): browse, ask, follow a citation.

Skipped when Chromium or Playwright is missing, unless TWINFORGE_REQUIRE_BROWSER=1 (CI), where that fails.
The server answers with the extractive backend, so asking is instant; the `page` fixture fails a test on any
JavaScript dialog (an executed alert()) or script error.
"""

from __future__ import annotations

from urllib.parse import unquote

from conftest import rows
from fx_serve import XSS_ID, XSS_TITLE, XSS_USER

BRANCHY = "68381a57-0c81-8008-9619-5537f94f39f9"
BRANCHY_TITLE = "Дистилляция архива в модули мышления"
DUPLICATE_CONV = "687d4702-7a54-800c-bd74-777ab8565a0d"  # its first question repeats BRANCHY's exactly


def ready(page, name: str) -> None:
    """Wait until the page named `name` rendered for the current hash (not a previous page of the same name)."""
    page.wait_for_function(
        """name => {
             const raw = location.hash.replace(/^#/, "") || "/chat";
             const b = document.body.dataset;
             return b.ready === name && (raw.startsWith("msg-") || b.route === raw);
           }""", arg=name, timeout=15000)


def test_browse_conversations_branches_and_rejects(page, twin_server, serve_ws):
    page.goto(f"{twin_server}/#/conversations")
    ready(page, "conversations")
    links = page.locator("#conversations a.conv-link")
    assert links.count() == rows(serve_ws, "SELECT count(*) FROM conversations")[0][0]
    page.get_by_role("link", name=BRANCHY_TITLE).click()
    page.wait_for_function("location.hash.startsWith('#/c/')")
    ready(page, "c")
    assert page.locator("#conv-title").text_content() == BRANCHY_TITLE
    canonical = rows(serve_ws, "SELECT count(*) FROM messages WHERE conversation_id = ? AND canonical = 1 AND "
                     "kind = 'dialog'", BRANCHY)[0][0]
    assert page.locator("#canonical article.msg").count() == canonical
    branches = page.locator("#branches")
    assert "Other branches (3" in branches.locator("summary").text_content()
    assert not branches.locator("article.msg").first.is_visible()  # folded until asked for
    branches.locator("summary").click()
    assert branches.locator("article.msg").first.is_visible()
    assert branches.locator(".badge.rejected", has_text="other-branch").count() == 3
    # a conversation whose question was dropped as a duplicate shows the reject and its reason
    page.goto(f"{twin_server}/#/c/{DUPLICATE_CONV}")
    ready(page, "c")
    assert page.locator("#rejects li", has_text="duplicate").count() >= 1
    assert page.locator("#canonical .badge.rejected", has_text="duplicate").count() >= 1


def test_hostile_title_and_messages_render_as_text(page, twin_server):
    page.goto(f"{twin_server}/#/conversations?q=%3Cscript%3E")
    ready(page, "conversations")
    link = page.locator("#conversations a.conv-link")
    assert link.count() == 1 and link.text_content() == XSS_TITLE
    assert page.locator("#view script").count() == 0
    link.click()
    ready(page, "c")
    assert page.locator("#conv-title").text_content() == XSS_TITLE
    assert page.title() == "twinforge"
    texts = page.locator("#canonical .text").all_text_contents()
    assert any(XSS_USER in t for t in texts)
    assert page.locator("#view img, #view b, #view script").count() == 0  # the markup stayed text
    assert page.evaluate("document.querySelectorAll('[onerror],[onmouseover]').length") == 0
    page.locator("#canonical .text").last.hover()  # the assistant's <b onmouseover=…> would fire here
    # `page` fails the test if any alert() ran


def test_ask_and_follow_a_citation_to_the_message(page, twin_server, serve_ws):
    page.goto(f"{twin_server}/")
    ready(page, "chat")
    page.fill("#question", "Что я решил про хранилище: SQLite или Parquet?")
    page.check("#evidence-only")
    page.click("#ask")
    answer = page.locator(".turn.twin").last
    answer.locator("ol.sources li").first.wait_for(timeout=30000)
    assert answer.locator("a.cite").count() >= 2  # the [n] markers became links
    cite = answer.locator("a.cite").first
    href = cite.get_attribute("href")
    conv_id, _, mid = unquote(href.removeprefix("#/c/")).partition("?m=")
    assert rows(serve_ws, "SELECT conversation_id FROM messages WHERE id = ?", mid)[0][0] == conv_id
    cite.click()
    ready(page, "c")
    target = page.locator(f"#msg-{mid}")
    assert "highlight" in target.get_attribute("class")
    assert target.is_visible() and target.evaluate(
        "n => { const r = n.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0; }")
    assert page.locator("#conv-title").text_content() == rows(
        serve_ws, "SELECT title FROM conversations WHERE id = ?", conv_id)[0][0]
    # back to the chat: the exchange is still there, and its source list links to the same place
    page.go_back()
    ready(page, "chat")
    assert page.locator(".turn.user").last.text_content().endswith("SQLite или Parquet?")
    assert page.locator(".turn.twin a.source-link").count() >= 2


def test_chat_with_the_backend_streams_an_answer(page, twin_server):
    page.goto(f"{twin_server}/#/chat")
    ready(page, "chat")
    page.fill("#question", "Why one LoRA adapter per scene?")
    page.keyboard.press("Control+Enter")
    answer = page.locator(".turn.twin").last
    answer.locator("ol.sources li").first.wait_for(timeout=30000)
    assert answer.locator(".text").text_content().strip()
    assert not answer.locator(".error").count()
    assert answer.locator("a.source-link").first.get_attribute("href").startswith("#/c/")


def test_modules_graph_funnel_persona_reports_pages(page, twin_server, serve_ws):
    page.goto(f"{twin_server}/#/modules")
    ready(page, "modules")
    cards = page.locator("article.module")
    assert cards.count() == rows(serve_ws, "SELECT count(*) FROM modules WHERE kind = 'dialog'")[0][0]
    cards.first.locator("h3 a").click()
    ready(page, "m")
    assert page.locator(".phrase").text_content().strip()
    chip = page.locator("a.chip").first
    concept = chip.text_content()
    chip.click()
    ready(page, "graph")
    assert page.locator("#concept h2").text_content().lower() == concept.lower()
    assert page.locator(".community").count() > 0
    page.goto(f"{twin_server}/#/funnel")
    ready(page, "funnel")
    assert page.locator("#funnel tbody tr").count() >= 5 and page.locator(".bar").count() >= 5
    page.goto(f"{twin_server}/#/persona")
    ready(page, "persona")
    assert "Recurring themes" in page.locator("#persona-md").text_content()
    page.goto(f"{twin_server}/#/reports")
    ready(page, "reports")
    assert "No reports yet" in page.locator("#view").text_content()
    page.goto(f"{twin_server}/#/papers")
    ready(page, "papers")
    assert page.locator("#view .error").count() == 0
    page.goto(f"{twin_server}/#/c/{XSS_ID}?m=no-such-message")
    ready(page, "c")
    assert "is not in this conversation" in page.locator("#view .error").text_content()
