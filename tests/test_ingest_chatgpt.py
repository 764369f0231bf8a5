"""ChatGPT export parsing on real fixtures; expectations written from reading the files."""

from __future__ import annotations

import json

from twinforge.ingest import chatgpt
from twinforge.ingest.jsonshape import iter_items, probe


def _convs(path):
    shape = probe(path.read_bytes()[:262144])
    assert chatgpt.sniff(shape)
    with open(path, "rb") as f:
        return [chatgpt.parse(o) for o in iter_items(f, shape)]


def _dialog(conv, canonical=True):
    return [m for m in conv.messages if m.kind == "dialog" and (m.canonical or not canonical)]


def test_branch_choice_follows_current_node(fixtures):
    (conv,) = _convs(fixtures / "LibreChat/chatgpt-tree.json")
    texts = [m.text for m in _dialog(conv)]
    # current_node f63b8e17 is the 2nd regeneration under "tell me a joke", on the "hi again" edit branch
    assert texts[0] == "hi there"
    assert texts[2] == "hi again"
    assert texts[4] == "tell me a joke"
    assert len(texts) == 6
    assert conv.messages[[m.uid for m in conv.messages].index("f63b8e17-aa5c-4ca6-a1bf-d4d285e269b8")].canonical
    others = [m.text for m in conv.messages if m.kind == "dialog" and not m.canonical]
    # the abandoned edit branch ("so cool bro" …) and the first regeneration are kept, not canonical
    assert "so cool bro" in others and "tell me a story" in others
    assert len(others) == 5
    interrupted = [m for m in conv.messages if m.meta.get("status") == "in_progress"]
    assert len(interrupted) == 1 and not interrupted[0].canonical


def test_regenerate_and_linear(fixtures):
    convs = {c.uid: c for c in _convs(fixtures / "chatgpt-conversation-extractor/conversations.json")}
    assert [m.text for m in _dialog(convs["linear"])] == ["Hello", "Hi there"]
    regen = convs["regenerate"]
    assert [m.text for m in _dialog(regen)] == ["Give me an answer", "NEW ACTIVE ANSWER"]
    assert [m.text for m in regen.messages if not m.canonical] == ["OLD BRANCH ANSWER"]


def test_cycles_and_missing_parents_are_salvaged_with_warnings(fixtures):
    convs = {c.uid: c for c in _convs(fixtures / "chatgpt-conversation-extractor/conversations.json")}
    broken = convs["missingParent"]
    assert [m.text for m in _dialog(broken)] == ["Partial"]
    assert any("missing" in w for w in broken.warnings)
    cycle = convs["cycle"]
    assert sorted(m.text for m in cycle.messages) == ["A", "B"]
    assert any("cycle" in w for w in cycle.warnings)


def test_hidden_tool_and_reasoning_kinds(fixtures):
    convs = {c.uid: c for c in _convs(fixtures / "chatgpt-conversation-extractor/conversations.json")}
    tech = convs["structuralHidden"]
    kinds = {m.text: m.kind for m in tech.messages}
    assert kinds["Hidden system"] == "system"
    assert kinds["Hidden tool"] == "tool"
    assert kinds["Visible user"] == "dialog"
    unknown = convs["unknownPart"]
    assert _dialog(unknown)[-1].text == "Visible text"
    assert any("future_widget" in w for w in unknown.warnings)
    hard = {c.uid: c for c in _convs(fixtures / "chatgpt-conversation-extractor/hardening.json")}
    assert {m.kind for m in hard["reasoning"].messages} == {"dialog", "reasoning"}
    assert len(_dialog(hard["internalRecipient"])) == 2


def test_custom_instructions_and_missing_mapping(fixtures):
    convs = _convs(fixtures / "LibreChat/chatgpt-modern-export.json")
    assert [c.title for c in convs] == ["Deploying the staging cluster", "Corrupted entry", "Weeknight pasta"]
    assert [m.kind for m in convs[0].messages].count("custom-instructions") == 1
    assert convs[1].messages == [] and "mapping" in convs[1].warnings[0]


def test_browsing_export_keeps_tool_traffic_out_of_dialog(fixtures):
    convs = _convs(fixtures / "LibreChat/chatgpt-export.json")
    assert len(convs) == 2
    web = convs[0]
    dialog = _dialog(web)
    assert all(m.role in ("user", "assistant") for m in dialog)
    assert all("【" not in m.text for m in dialog)
    tool_types = {m.content_type for m in web.messages if m.kind == "tool"}
    assert {"code", "tether_browsing_display", "tether_quote"} <= tool_types


def test_code_interpreter_export(fixtures):
    (conv,) = _convs(fixtures / "chatgpt2graph/conversations.json")
    assert conv.title == "Average Distance in U(0,1)"
    tools = [m for m in conv.messages if m.kind == "tool"]
    assert {m.content_type for m in tools} == {"code", "execution_output"}
    assert len(tools) == 22  # 11 code calls + 11 outputs


def test_citation_markers_are_cleaned():
    obj = {
        "id": "c1", "title": "t", "current_node": "a",
        "mapping": {
            "u": {"id": "u", "parent": None, "children": ["a"],
                  "message": {"id": "u", "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["q"]}}},
            "a": {"id": "a", "parent": "u", "children": [],
                  "message": {"id": "a", "author": {"role": "assistant"},
                              "content": {"content_type": "text",
                                          "parts": ["Fact 【12†source】 and more \ue200cite\ue202turn0search3\ue201."]}}},
        },
    }
    conv = chatgpt.parse(obj)
    assert conv.messages[1].text == "Fact  and more ."


def test_continue_generating_fragments_are_merged():
    def node(nid, parent, children, role, text):
        return {"id": nid, "parent": parent, "children": children,
                "message": {"id": nid, "author": {"role": role}, "content": {"content_type": "text", "parts": [text]}}}

    obj = {"id": "c2", "title": "long", "current_node": "a2", "mapping": {
        "u": node("u", None, ["a1"], "user", "write a long essay"),
        "a1": node("a1", "u", ["a2"], "assistant", "First half, "),
        "a2": node("a2", "a1", [], "assistant", "second half."),
    }}
    conv = chatgpt.parse(obj)
    dialog = _dialog(conv)
    assert [m.text for m in dialog] == ["write a long essay", "First half, second half."]
    assert conv.messages[2].meta["merged_into"] == "a1"


def test_media_parts_do_not_crash():
    obj = {"id": "c3", "title": "voice", "current_node": "a", "mapping": {
        "u": {"id": "u", "parent": None, "children": ["a"], "message": {
            "id": "u", "author": {"role": "user"}, "content": {"content_type": "multimodal_text", "parts": [
                {"content_type": "audio_transcription", "text": "привет", "direction": "in"},
                {"content_type": "audio_asset_pointer", "asset_pointer": "sediment://file_1"},
                {"content_type": "image_asset_pointer", "asset_pointer": "file-service://file-2"},
                None, 7,
            ]}}},
        "a": {"id": "a", "parent": "u", "children": [], "message": {
            "id": "a", "author": {"role": "assistant"}, "content": {"content_type": "text", "parts": ["ok"]}}},
    }}
    conv = chatgpt.parse(json.loads(json.dumps(obj)))
    user = conv.messages[0]
    assert user.text == "привет\n7"
    assert [a["type"] for a in user.meta["attachments"]] == ["audio_asset_pointer", "image_asset_pointer"]
