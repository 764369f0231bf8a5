"""Claude export parser (and the shared branch helper it leans on) against real exports and hand-made edge cases.

Expected values were read from the fixture files, not from the parser's output.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from conftest import FIXTURES

from twinforge.ingest import claude, tree
from twinforge.ingest.jsonshape import iter_items, probe

CLAUDE_FILES = [
    "openwebui-importer/claude_example.json",
    "openwebui-importer/claude_thinking_example.json",
    "openwebui-importer/invalid_unicode.json",
    "claude-to-sqlite/artifacts.json",
    "claude-to-sqlite/example.json",
]
OTHER_FILES = [
    "LibreChat/chatgpt-export.json",
    "LibreChat/chatbotui-export.json",
    "LibreChat/chatgpt-tree.json",
    "LibreChat/chatgpt-modern-export.json",
    "chatgpt-conversation-extractor/conversations.json",
    "openwebui-importer/gpt_example.json",
    "openwebui-importer/grok_example.json",
    "openwebui-importer/aistudio_example.json",
    "deepseek-chat-export/sample_conversation.json",
]

pytestmark = pytest.mark.usefixtures("fixtures")  # skips without ../shared, fails on CI (conftest)


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def shape_of(path: Path):
    with open(path, "rb") as f:
        return probe(f.read()[:262144])


def conversations(name: str) -> list:
    path = FIXTURES / name
    shape = shape_of(path)
    with open(path, "rb") as f:
        return [claude.parse(obj) for obj in iter_items(f, shape)]


def only(name: str):
    (conv,) = conversations(name)
    return conv


def dialog(conv) -> list:
    return [m for m in conv.messages if m.kind == "dialog"]


# --- sniff -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CLAUDE_FILES)
def test_sniff_claims_claude_files(name):
    assert claude.sniff(shape_of(FIXTURES / name))


@pytest.mark.parametrize("name", OTHER_FILES)
def test_sniff_leaves_other_formats(name):
    assert not claude.sniff(shape_of(FIXTURES / name))


def test_sniff_single_object_dump():
    obj = {"uuid": "c1", "name": "x", "chat_messages": [{"uuid": "m1", "sender": "human", "text": "hi"}]}
    shape = probe(json.dumps(obj).encode())
    assert shape.container == "single" and claude.sniff(shape)


# --- openwebui-importer/claude_example.json: 85 anonymised conversations ---------------------------------


def test_claude_example_counts():
    convs = conversations("openwebui-importer/claude_example.json")
    assert len(convs) == 85
    assert all(c.provider == "claude" for c in convs)
    roles = Counter(m.role for c in convs for m in c.messages)
    assert roles == {"user": 283, "assistant": 274}  # 557 messages, senders as in the file
    assert all(not c.warnings for c in convs)


def test_claude_example_blank_names_fall_back_to_untitled():
    convs = conversations("openwebui-importer/claude_example.json")
    titles = Counter(c.title for c in convs)
    assert titles["Untitled"] == 84
    assert convs[84].title == "How Photosynthesis Works"
    assert convs[0].uid == "636f35a1-13bb-479e-836b-e320aec9c6ac"


def test_claude_example_blanked_texts_are_kept_but_not_dialog():
    convs = conversations("openwebui-importer/claude_example.json")
    kinds = Counter(m.kind for c in convs for m in c.messages)
    # only the last conversation kept its text (10 messages); the anonymised ones are empty
    assert kinds == {"hidden": 547, "dialog": 10}
    assert [len(c.messages) for c in convs[11:13]] == [0, 0]


def test_claude_example_named_conversation():
    conv = conversations("openwebui-importer/claude_example.json")[84]
    msgs = dialog(conv)
    assert len(msgs) == 10
    assert [m.role for m in msgs] == ["user", "assistant"] * 5
    assert msgs[0].text == "Can you explain how photosynthesis works in simple terms?"
    # 2024 assistant texts start with a space in the export
    assert msgs[1].text.startswith("Photosynthesis is how plants make their own food")
    assert msgs[-2].text == "What about forests?"
    assert msgs[-1].text.startswith("No, forests aren't sentient either.")
    assert conv.created_at == ts("2025-06-21T20:48:38.467685Z")
    assert conv.updated_at == ts("2025-06-21T20:49:35.584322Z")
    assert msgs[0].created_at == ts("2025-06-21T20:48:39.029572Z")
    assert all(m.canonical for m in conv.messages)


def test_claude_example_consecutive_human_turns_keep_their_sender():
    conv = conversations("openwebui-importer/claude_example.json")[14]
    assert [m.role for m in conv.messages] == ["user", "user"]


# --- claude_thinking_example.json: thinking block → reasoning message ------------------------------------


def test_thinking_block_becomes_reasoning_message():
    conv = only("openwebui-importer/claude_thinking_example.json")
    assert conv.title == "Thinking Demo"
    assert conv.uid == "11111111-2222-3333-4444-555555555555"
    assert conv.created_at == ts("2025-01-01T00:00:00Z")
    assert [(m.role, m.kind) for m in conv.messages] == [
        ("user", "dialog"), ("assistant", "reasoning"), ("assistant", "dialog")
    ]
    user, thought, answer = conv.messages
    assert user.text == "Can you greet me?"  # flat `text` is "" here: the content block wins
    assert thought.uid == "ffffffff-1111-2222-3333-444444444444#thinking"
    assert thought.text.startswith("The user asked for a greeting.")
    assert thought.meta["summaries"] == ["Planning a warm greeting"]
    assert answer.uid == "ffffffff-1111-2222-3333-444444444444"
    assert answer.text == "Hello there! It's great to hear from you."
    assert "greeting" not in answer.text  # the thought stays out of the answer


# --- invalid_unicode.json: Claude-like, no senders, private-use characters -------------------------------


def test_invalid_unicode_roles_guessed_and_pua_stripped():
    conv = only("openwebui-importer/invalid_unicode.json")
    assert conv.uid == "conv1"
    assert conv.title == "Invalid unicode test"
    assert conv.created_at == 1000.0
    assert [(m.role, m.text) for m in conv.messages] == [("user", "Hello"), ("assistant", "World")]
    assert len({m.uid for m in conv.messages}) == 2
    assert any("guessed" in w for w in conv.warnings)


# --- claude-to-sqlite: 2024 exports, text only, array order not chronological ----------------------------


def test_artifacts_sorted_by_time_not_array_order():
    conv = only("claude-to-sqlite/artifacts.json")
    assert conv.title == "LLM Pricing Calculator"
    msgs = conv.messages
    assert len(msgs) == 20
    # array element 0 (03:37) comes after the 03:28, 03:30 and 03:32 pairs
    assert msgs[0].uid == "287b1868-17d4-4660-9089-b3eb4ddecb1b"
    assert msgs[0].text.startswith("Built me an artifact with no react")
    assert msgs[1].text.startswith("Certainly! I'll create an HTML artifact")
    assert msgs[6].uid == "083850f6-fca7-40c3-916a-e57f7ae5f0fe"
    assert msgs[6].text.startswith("Add a onkeyup event too")
    assert msgs[7].text.startswith("Certainly! I'll update the calculator to include the onkeyup event")
    # pairs share one created_at: array order keeps the question before its answer
    assert [m.role for m in msgs] == ["user", "assistant"] * 10
    times = [m.created_at for m in msgs]
    assert times == sorted(times)


def test_artifacts_file_names_kept_and_loss_reported():
    conv = only("claude-to-sqlite/artifacts.json")
    files = conv.messages[6].meta["files"]
    assert [f["file_name"] for f in files][0] == "CleanShot 20241016 at 20.34.122x.png"
    assert len(files) == 5
    assert any("5 attached file(s)" in w for w in conv.warnings)


def test_example_json_two_messages():
    conv = only("claude-to-sqlite/example.json")
    assert conv.title == "Bash Command for OpenAI API"
    user, answer = conv.messages
    assert user.text == "Turn this into a bash command"
    assert user.meta["files"] == [{"file_name": "CleanShot 20241017 at 22.29.542x.png"}]
    assert answer.text.startswith("To turn this into a bash command")


# --- hand-made edge cases ---------------------------------------------------------------------------------

ROOT = "00000000-0000-4000-8000-000000000000"


def msg(uuid, sender, at, text="", parent=None, **extra):
    m = {"uuid": uuid, "sender": sender, "created_at": at, "text": text, **extra}
    if parent is not None:
        m["parent_message_uuid"] = parent
    return m


def test_parent_links_build_branches_and_follow_current_leaf():
    obj = {
        "uuid": "c", "name": "", "summary": "A chat about soup.\nMore summary.",
        "current_leaf_message_uuid": "a1",
        "chat_messages": [
            msg("u1", "human", "2026-01-01T00:00:00Z", "first question", ROOT),
            msg("a2", "assistant", "2026-01-01T00:02:00Z", "regenerated answer", "u1"),
            msg("a1", "assistant", "2026-01-01T00:01:00Z", "chosen answer", "u1"),
        ],
    }
    conv = claude.parse(obj)
    assert conv.title == "A chat about soup."
    by_uid = {m.uid: m for m in conv.messages}
    assert by_uid["u1"].canonical and by_uid["a1"].canonical
    assert not by_uid["a2"].canonical
    assert by_uid["u1"].parent_uid is None  # the sentinel root is no message
    assert by_uid["a2"].parent_uid == "u1"
    assert [m.uid for m in conv.messages] == ["u1", "a1", "a2"]  # siblings oldest first
    assert not conv.warnings


def test_without_current_leaf_the_newest_branch_is_canonical():
    obj = {
        "uuid": "c", "name": "n",
        "chat_messages": [
            msg("u1", "human", "2026-01-01T00:00:00Z", "q", ROOT),
            msg("a1", "assistant", "2026-01-01T00:01:00Z", "old", "u1"),
            msg("a2", "assistant", "2026-01-01T00:02:00Z", "new", "u1"),
        ],
    }
    conv = claude.parse(obj)
    assert [m.uid for m in conv.messages if m.canonical] == ["u1", "a2"]
    assert any("newest" in w for w in conv.warnings)


def test_parent_cycle_does_not_hang():
    obj = {
        "uuid": "c", "name": "n", "current_leaf_message_uuid": "b",
        "chat_messages": [
            msg("a", "human", "2026-01-01T00:00:00Z", "x", "b"),
            msg("b", "assistant", "2026-01-01T00:01:00Z", "y", "a"),
        ],
    }
    conv = claude.parse(obj)
    assert sorted(m.uid for m in conv.messages) == ["a", "b"]
    assert any("cycle" in w for w in conv.warnings)


def test_null_entries_skipped_with_warning():
    obj = {"uuid": "c", "name": "n", "chat_messages": [None, msg("m", "human", "2026-01-01T00:00:00Z", "hi")]}
    conv = claude.parse(obj)
    assert [m.text for m in conv.messages] == ["hi"]
    assert any("null" in w for w in conv.warnings)


def test_missing_chat_messages_is_a_warning_not_an_error():
    conv = claude.parse({"uuid": "c", "name": "n", "chat_messages": None})
    assert conv.messages == [] and conv.warnings


def test_tool_blocks_become_tool_messages_and_answer_text_is_joined():
    content = [
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "t1", "name": "web_search", "input": {"query": "soup recipes"}},
        {"type": "tool_result", "tool_use_id": "t1", "name": "web_search",
         "content": [{"type": "text", "text": "Tomato soup — example.com"}], "is_error": False},
        {"type": "token_budget"},
        {"type": "text", "text": "Tomato soup is ", "citations": []},
        {"type": "text", "text": "easy.", "citations": [{"url": "https://example.com", "title": "Soup"}]},
    ]
    obj = {"uuid": "c", "name": "n", "model": "claude-sonnet-4", "chat_messages": [
        msg("u", "human", "2026-01-01T00:00:00Z", "soup?"),
        msg("a", "assistant", "2026-01-01T00:00:05Z",
            "```\nThis block is not supported on your current device yet.\n```", content=content),
    ]}
    conv = claude.parse(obj)
    kinds = [(m.uid, m.role, m.kind) for m in conv.messages]
    assert kinds == [
        ("u", "user", "dialog"),
        ("a#tool", "assistant", "tool"),
        ("a#tool-2", "tool", "tool"),
        ("a", "assistant", "dialog"),
    ]
    use, result, answer = conv.messages[1:]
    assert use.text == "web_search\nquery: soup recipes" and use.meta["tool"] == "web_search"
    assert result.text == "Tomato soup — example.com"
    assert answer.text == "Let me look.\n\nTomato soup is easy."  # citation-split blocks join without a gap
    assert answer.meta["citations"] == [{"url": "https://example.com", "title": "Soup"}]
    assert answer.model == "claude-sonnet-4" and conv.messages[0].model is None
    assert all(m.parent_uid is None for m in conv.messages)


def test_tool_only_turn_is_kept_as_hidden_not_dropped():
    content = [{"type": "tool_use", "id": None, "name": "artifacts", "input": {"id": "x", "command": "create"}}]
    turn = msg("a", "assistant", "2026-01-01T00:00:00Z", "stub", content=content)
    obj = {"uuid": "c", "name": "n", "chat_messages": [turn]}
    conv = claude.parse(obj)
    assert [(m.uid, m.kind, m.text) for m in conv.messages] == [
        ("a#tool", "tool", "artifacts\nid: x\ncommand: create"), ("a", "hidden", "")
    ]


def test_pasted_attachment_kept_in_meta():
    attachment = {"file_name": "", "file_type": "txt", "file_size": 12, "extracted_content": "pasted words"}
    obj = {"uuid": "c", "name": "n", "chat_messages": [
        msg("u", "human", "2026-01-01T00:00:00Z", "see paste", attachments=[attachment]),
    ]}
    conv = claude.parse(obj)
    assert conv.messages[0].meta["attachments"] == [{"file_name": "", "file_type": "txt", "file_size": 12,
                                                     "extracted_content": "pasted words"}]
    assert conv.messages[0].text == "see paste"
    assert not conv.warnings  # nothing lost: the content is inline


def test_repeated_and_missing_uuids_made_unique():
    obj = {"uuid": "c", "name": "n", "chat_messages": [
        msg("same", "human", "2026-01-01T00:00:00Z", "a"),
        msg("same", "assistant", "2026-01-01T00:00:01Z", "b"),
        {"sender": "human", "text": "c", "created_at": "2026-01-01T00:00:02Z"},
    ]}
    conv = claude.parse(obj)
    uids = [m.uid for m in conv.messages]
    assert len(set(uids)) == 3 and uids[0] == "same"
    assert any("repeated" in w for w in conv.warnings)


def test_odd_values_do_not_raise():
    obj = {"uuid": "c", "name": None, "created_at": "not a date", "chat_messages": [
        {"uuid": "m", "sender": 7, "content": "not a list", "attachments": 3, "files": "x", "text": None},
        {"uuid": "n", "sender": "assistant", "content": [None, {"type": "thinking", "summaries": "x"}]},
    ]}
    conv = claude.parse(obj)
    assert conv.title == "Untitled" and conv.created_at is None
    assert [m.kind for m in conv.messages] == ["hidden", "reasoning", "hidden"]


# --- tree.py: the shared branch helper ---------------------------------------------------------------------


def test_tree_flat_list_is_chronological_and_all_canonical():
    b = tree.resolve({"a": None, "b": None, "c": None}, None, {"a": 2.0, "b": None, "c": 1.0})
    # b has no time: it stays right after a, its neighbour in the source
    assert b.order == ["c", "a", "b"] and b.canonical == {"a", "b", "c"} and not b.warnings


def test_tree_canonical_path_to_leaf():
    parents = {"r": None, "x": "r", "y": "r", "z": "y"}
    path, warnings = tree.canonical_path(parents, "z")
    assert path == ["r", "y", "z"] and warnings == []


def test_tree_missing_leaf_falls_back_to_newest():
    parents = {"r": None, "x": "r", "y": "r"}
    path, warnings = tree.canonical_path(parents, "gone", {"x": 5.0, "y": 3.0})
    assert path == ["r", "x"] and "missing" in warnings[0]


def test_tree_equal_times_later_in_source_wins():
    path, _ = tree.canonical_path({"r": None, "x": "r", "y": "r"}, None, {})
    assert path == ["r", "y"]


def test_tree_dangling_parent_and_cycle():
    parents = {"a": "lost", "b": "a", "c": "d", "d": "c", "e": "e"}
    b = tree.resolve(parents, "b")
    assert b.order[:2] == ["a", "b"] and sorted(b.order[2:]) == ["c", "d", "e"]
    assert b.canonical == {"a", "b"}
    assert any("missing from the export" in w for w in b.warnings)
    assert any("cycle" in w for w in b.warnings)


def test_tree_links_all_dangling_is_flat_but_warned():
    b = tree.resolve({"a": "gone", "b": "gone"}, None, {"a": 2.0, "b": 1.0})
    assert b.order == ["b", "a"] and b.canonical == {"a", "b"}
    assert any("missing from the export" in w for w in b.warnings)


def test_tree_deep_chain_needs_no_recursion():
    parents = {str(i): (str(i - 1) if i else None) for i in range(20000)}
    b = tree.resolve(parents, "19999")
    assert len(b.order) == 20000 and len(b.canonical) == 20000
