"""Grok export parser. Expected values read from openwebui-importer/grok_example.json: one conversation,
10 responses alternating human / ASSISTANT, each linked to the one before by parent_response_id."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from conftest import FIXTURES

from twinforge.ingest import grok
from twinforge.ingest.jsonshape import iter_items, probe

SAMPLE = FIXTURES / "openwebui-importer/grok_example.json"
NOT_GROK = [
    "LibreChat/chatgpt-export.json",
    "LibreChat/chatbotui-export.json",
    "chatgpt-conversation-extractor/conversations.json",
    "openwebui-importer/gpt_example.json",
    "openwebui-importer/claude_example.json",
    "openwebui-importer/aistudio_example.json",
    "deepseek-chat-export/sample_conversation.json",
    "claude-to-sqlite/example.json",
]

pytestmark = pytest.mark.usefixtures("fixtures")  # skips without ../shared, fails on CI (conftest)


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def shape_of(path: Path):
    with open(path, "rb") as f:
        return probe(f.read()[:262144])


def parse_sample():
    with open(SAMPLE, "rb") as f:
        (obj,) = list(iter_items(f, shape_of(SAMPLE)))
    return grok.parse(obj)


def test_sniff_claims_sample():
    shape = shape_of(SAMPLE)
    assert shape.container == "wrapper" and grok.sniff(shape)


@pytest.mark.parametrize("name", NOT_GROK)
def test_sniff_leaves_others(name):
    assert not grok.sniff(shape_of(FIXTURES / name))


def test_sample_conversation_fields():
    conv = parse_sample()
    assert conv.provider == "grok"
    assert conv.uid == "9592deb7-27bc-4359-abb5-0967736999e9"
    assert conv.title == "Photosynthesis Simplified: Process and Importance"
    assert conv.created_at == ts("2025-06-21T19:28:21.177720Z")
    assert conv.updated_at == ts("2025-06-21T19:30:01.846938Z")
    assert conv.warnings == []


def test_sample_messages():
    msgs = parse_sample().messages
    assert len(msgs) == 10
    assert [m.role for m in msgs] == ["user", "assistant"] * 5
    assert all(m.kind == "dialog" and m.canonical for m in msgs)
    assert msgs[0].uid == "4b6b1683-fbcb-4600-8b48-9fa20ba311d0"
    assert msgs[0].text == "Can you explain how photosynthesis works in simple terms?"
    assert msgs[1].text.startswith("Photosynthesis is the process plants, algae, and some bacteria use")
    assert [m.text for m in msgs if m.role == "user"][1:] == [
        "Why is sunlight important?", "What is an ecosystem", "Are ponds sentient?", "What about forests?"
    ]
    assert msgs[-1].text.startswith("Forests, like ponds, are not sentient.")
    assert msgs[0].parent_uid is None and msgs[1].parent_uid == msgs[0].uid
    assert msgs[0].created_at == ts("2025-06-21T19:28:21.194663Z")


def test_model_comes_from_the_request():
    msgs = parse_sample().messages
    assert {m.model for m in msgs if m.role == "assistant"} == {"grok-3"}
    assert {m.model for m in msgs if m.role == "user"} == {None}


# --- hand-made edge cases ---------------------------------------------------------------------------------


def response(rid, sender, text, parent=None, at="2025-06-21T19:28:21Z", **extra):
    return {"response": {"response_id": rid, "sender": sender, "message": text, "create_time": at,
                         "parent_response_id": parent, **extra}, "share_link": None}


def test_backend_dump_shape_mongo_dates_and_render_cards():
    obj = {
        "conversation": {"id": "grok-conv-1", "create_time": "2026-03-15T19:19:26.203416Z", "title": "Batch APIs"},
        "responses": [
            {"response": {"_id": "m1", "message": "Do they have batch apis ?", "sender": "human",
                          "create_time": {"$date": {"$numberLong": "1773602366234"}}, "model": "grok-4"}},
            {"response": {"_id": "m2", "sender": "ASSISTANT", "model": "grok-4",
                          "message": '**Yes**.<grok:render card_id="02a86c" type="render_inline_citation">'
                                     '</grok:render>',
                          "create_time": {"$date": {"$numberLong": "1773602386619"}},
                          "web_search_results": [{"url": "https://docs.x.ai/batch"}]}},
        ],
    }
    conv = grok.parse(obj)
    assert conv.uid == "grok-conv-1"
    assert [(m.uid, m.role, m.text) for m in conv.messages] == [("m1", "user", "Do they have batch apis ?"),
                                                                   ("m2", "assistant", "**Yes**.")]
    assert conv.messages[0].created_at == 1773602366.234
    assert conv.messages[1].model == "grok-4"
    assert conv.messages[1].meta["citations"] == [{"url": "https://docs.x.ai/batch"}]


def test_thinking_trace_becomes_reasoning():
    obj = {"conversation": {"conversation_id": "c", "title": "t"}, "responses": [
        response("q", "human", "hi"),
        response("a", "assistant", "hello", "q", thinking_trace="They greet; greet back."),
        response("b", "assistant", "hey", "q", thinking_trace=""),
    ]}
    conv = grok.parse(obj)
    assert [(m.uid, m.kind) for m in conv.messages] == [("q", "dialog"), ("a#thinking", "reasoning"),
                                                        ("a", "dialog"), ("b", "dialog")]


def test_regenerations_follow_leaf_response_id():
    obj = {"conversation": {"conversation_id": "c", "title": "t", "leaf_response_id": "a1"}, "responses": [
        response("q", "human", "hi"),
        response("a1", "assistant", "first", "q", at="2025-06-21T19:28:22Z"),
        response("a2", "assistant", "second", "q", at="2025-06-21T19:28:30Z"),
    ]}
    conv = grok.parse(obj)
    assert [m.uid for m in conv.messages if m.canonical] == ["q", "a1"]
    assert [m.uid for m in conv.messages if not m.canonical] == ["a2"]


def test_unknown_sender_and_odd_entries():
    obj = {"conversation": None, "responses": [None, response("q", None, "hi"), response("a", "", "yo", "q"),
                                                  {"response": {"response_id": "x", "message": 5}}]}
    conv = grok.parse(obj)
    assert conv.title == "Untitled" and conv.uid is None
    assert [m.role for m in conv.messages][:2] == ["user", "assistant"]
    assert any("skipped" in w for w in conv.warnings) and any("guessed" in w for w in conv.warnings)


def test_attachments_are_noted():
    obj = {"conversation": {"conversation_id": "c", "title": "t"}, "responses": [
        response("q", "human", "", image_attachments=["img-1"]),
    ]}
    conv = grok.parse(obj)
    assert conv.messages[0].kind == "dialog" and conv.messages[0].meta["image_attachments"] == ["img-1"]
    assert any("not in the export" in w for w in conv.warnings)
