"""DeepSeek export parser. Expected values read from deepseek-chat-export/sample_conversation.json:
root → "1" (REQUEST) → "2" (THINK + RESPONSE), and
root → "3" (REQUEST) → "4" (THINK + RESPONSE) → "5" (REQUEST); current_node "5"."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path

import pytest
from conftest import FIXTURES

from twinforge.ingest import deepseek
from twinforge.ingest.jsonshape import iter_items, probe

SAMPLE = FIXTURES / "deepseek-chat-export/sample_conversation.json"
NOT_DEEPSEEK = [
    "LibreChat/chatgpt-export.json",
    "LibreChat/chatgpt-citations.json",
    "LibreChat/chatgpt-tree.json",
    "LibreChat/chatgpt-modern-export.json",
    "LibreChat/chatbotui-export.json",
    "chatgpt-conversation-extractor/conversations.json",
    "chatgpt-conversation-extractor/hardening.json",
    "chatgpt-export-parser/example-conversation.json",
    "chatgpt2graph/conversations.json",
    "openwebui-importer/gpt_example.json",
    "openwebui-importer/claude_example.json",
    "openwebui-importer/grok_example.json",
    "claude-to-sqlite/artifacts.json",
]

pytestmark = pytest.mark.usefixtures("fixtures")  # skips without ../shared, fails on CI (conftest)


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def shape_of(path: Path):
    with open(path, "rb") as f:
        return probe(f.read()[:262144])


def sample_obj() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def parse_sample():
    with open(SAMPLE, "rb") as f:
        (obj,) = list(iter_items(f, shape_of(SAMPLE)))
    return deepseek.parse(obj)


# --- sniff ---------------------------------------------------------------------------------------------------


def test_sniff_claims_sample():
    assert deepseek.sniff(shape_of(SAMPLE))


@pytest.mark.parametrize("name", NOT_DEEPSEEK)
def test_sniff_leaves_chatgpt_and_others(name):
    assert not deepseek.sniff(shape_of(FIXTURES / name))


def test_sniff_real_export_array_shape():
    conv = {"id": "d1", "title": "t", "inserted_at": "2025-02-01T10:00:00.000+00:00",
            "updated_at": "2025-02-01T10:00:00Z",
            "mapping": {"root": {"id": "root", "parent": None, "children": []}}}
    assert deepseek.sniff(probe(json.dumps([conv]).encode()))


# --- the sample: two branches from the root ---------------------------------------------------------------


def test_sample_conversation_fields():
    conv = parse_sample()
    assert conv.provider == "deepseek"
    assert conv.uid == "sample_123"
    assert conv.title == "Пример обсуждения философии и кода"
    assert conv.created_at == ts("2024-12-31T10:30:00+03:00")
    assert conv.updated_at == ts("2024-12-31T11:15:00+03:00")
    assert conv.warnings == []


def test_sample_messages_in_tree_order():
    conv = parse_sample()
    got = [(m.uid, m.role, m.kind) for m in conv.messages]
    assert got == [
        ("1", "user", "dialog"),
        ("2#think", "assistant", "reasoning"),
        ("2", "assistant", "dialog"),
        ("3", "user", "dialog"),
        ("4#think", "assistant", "reasoning"),
        ("4", "assistant", "dialog"),
        ("5", "user", "dialog"),
    ]


def test_sample_canonical_branch_is_current_node():
    conv = parse_sample()
    assert [m.uid for m in conv.messages if m.canonical] == ["3", "4#think", "4", "5"]
    assert [m.uid for m in conv.messages if not m.canonical] == ["1", "2#think", "2"]


def test_sample_texts_models_parents_times():
    by_uid = {m.uid: m for m in parse_sample().messages}
    assert by_uid["1"].text == "Объясни концепцию 'вещи' у древнегреческих философов"
    assert by_uid["2"].text.startswith("Отличный вопрос! Древние греки использовали несколько терминов:")
    assert by_uid["2#think"].text.startswith("Пользователь спрашивает о концепции 'вещи'")
    assert "Пользователь" not in by_uid["2"].text  # the thinking stays out of the answer
    assert by_uid["4"].text.endswith("**Рекомендация**: Используйте итеративную версию для надёжности.")
    assert by_uid["5"].text == "Спасибо! А можешь добавить таблицу с примерами?"
    assert by_uid["4"].model == "deepseek-reasoner" and by_uid["4#think"].model == "deepseek-reasoner"
    assert by_uid["1"].parent_uid is None and by_uid["3"].parent_uid is None  # the root node has no message
    assert by_uid["4"].parent_uid == "3" and by_uid["5"].parent_uid == "4"
    assert by_uid["4"].created_at == ts("2024-12-31T10:46:50+03:00")


def test_current_node_elsewhere_switches_branch():
    obj = sample_obj()
    obj["current_node"] = "2"
    conv = deepseek.parse(obj)
    assert [m.uid for m in conv.messages if m.canonical] == ["1", "2#think", "2"]


def test_without_current_node_newest_leaf_wins():
    obj = sample_obj()
    del obj["current_node"]
    obj["mapping"]["2"]["message"]["inserted_at"] = "2025-01-01T00:00:00+03:00"  # now the newest leaf
    conv = deepseek.parse(obj)
    assert [m.uid for m in conv.messages if m.canonical] == ["1", "2#think", "2"]
    assert any("newest" in w for w in conv.warnings)


def test_missing_current_node_warns():
    obj = sample_obj()
    obj["current_node"] = "99"
    conv = deepseek.parse(obj)
    assert [m.uid for m in conv.messages if m.canonical][-1] == "5"
    assert any("missing" in w for w in conv.warnings)


# --- hand-made edge cases ---------------------------------------------------------------------------------


def real_shape(fragments: list[dict]) -> dict:
    return {
        "id": "d1", "title": "", "inserted_at": "2025-02-01T10:00:00.000+00:00", "updated_at": "2025-02-01T10:05:00Z",
        "mapping": {
            "root": {"id": "root", "parent": None, "children": ["1"], "message": None},
            "1": {"id": "1", "parent": "root", "children": ["2"], "message": {
                "files": [], "model": "deepseek-chat", "inserted_at": "2025-02-01T10:00:01Z",
                "fragments": [{"type": "REQUEST", "content": "what is new?"}]}},
            "2": {"id": "2", "parent": "1", "children": [], "message": {
                "files": [], "model": "deepseek-chat", "inserted_at": "2025-02-01T10:00:09Z", "fragments": fragments}},
        },
    }


def test_search_fragment_is_tool_and_citation_markers_go():
    conv = deepseek.parse(real_shape([
        {"type": "SEARCH", "results": [{"url": "https://a.example", "title": "A"}]},
        {"type": "RESPONSE", "content": "News here[citation:1]."},
    ]))
    assert conv.title == "Untitled" and conv.uid == "d1"
    assert [(m.uid, m.kind) for m in conv.messages] == [("1", "dialog"), ("2#search", "tool"), ("2", "dialog")]
    search, answer = conv.messages[1:]
    assert search.text == "A — https://a.example"
    assert search.meta["results"] == [{"title": "A", "url": "https://a.example"}]
    assert answer.text == "News here."
    assert all(m.canonical for m in conv.messages) and not conv.warnings


def test_unknown_fragment_kept_with_warning():
    conv = deepseek.parse(real_shape([{"type": "TIP", "content": "hint"}, {"type": "RESPONSE", "content": "ok"}]))
    assert [(m.uid, m.kind, m.text) for m in conv.messages][1] == ("2#tip", "tool", "hint")
    assert any("TIP" in w for w in conv.warnings)


def test_missing_mapping_and_odd_nodes_do_not_raise():
    conv = deepseek.parse({"id": "x", "title": "t"})
    assert conv.messages == [] and conv.warnings
    obj = real_shape("not a list")  # type: ignore[arg-type]
    obj["mapping"]["junk"] = "not a node"
    obj["mapping"]["1"]["message"]["fragments"].append(None)
    conv = deepseek.parse(obj)
    assert [m.text for m in conv.messages if m.kind == "dialog"] == ["what is new?"]


def test_nested_copy_is_untouched():
    obj = sample_obj()
    before = copy.deepcopy(obj)
    deepseek.parse(obj)
    assert obj == before
