"""Ingest end to end through the CLI into a real SQLite store: bad input, idempotency, updates, zips."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile

import pytest

from twinforge.store import Store


def snapshot(ws):
    """Everything ingest writes, to prove a failed import left the store as it was."""
    db = sqlite3.connect(ws / "twin.db")
    try:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("sources", "conversations", "messages", "conversation_sources", "warnings")}
    finally:
        db.close()


def one_error_line(result, name):
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert name in errors[0]
    assert "Traceback" not in result.output + result.stderr
    return errors[0]


def export(tmp_path, name, convs):
    p = tmp_path / name
    p.write_text(json.dumps(convs, ensure_ascii=False), encoding="utf-8")
    return p


def conv(cid, title, turns, update_time=1_700_000_000.0, current=None):
    """A ChatGPT conversation object with a linear user/assistant chain."""
    mapping = {"root": {"id": "root", "parent": None, "children": [], "message": None}}
    parent = "root"
    for i, text in enumerate(turns):
        nid = f"{cid}-n{i}"
        role = "user" if i % 2 == 0 else "assistant"
        mapping[parent]["children"].append(nid)
        mapping[nid] = {"id": nid, "parent": parent, "children": [], "message": {
            "id": nid, "author": {"role": role}, "create_time": update_time - 100 + i,
            "content": {"content_type": "text", "parts": [text]}, "metadata": {}}}
        parent = nid
    return {"id": cid, "title": title, "create_time": update_time - 100, "update_time": update_time,
            "current_node": current or parent, "mapping": mapping}


@pytest.fixture
def good(tmp_path):
    return export(tmp_path, "good.json", [conv("c1", "First", ["Привет", "Здравствуй"]),
                                          conv("c2", "Second", ["Why?", "Because."])])


def test_ingest_then_again_adds_nothing(tf, good, workspace):
    r = tf("ingest", good)
    assert r.exit_code == 0, r.output
    assert "2 new" in r.output
    before = snapshot(workspace)
    assert before["conversations"] == 2 and before["messages"] == 4
    r2 = tf("ingest", good)
    assert r2.exit_code == 0
    assert "already imported" in r2.output
    assert snapshot(workspace) == before


def test_newer_export_adds_new_and_updates_changed(tf, tmp_path, workspace, good):
    tf("ingest", good)
    newer = export(tmp_path, "newer.json", [
        conv("c1", "First", ["Привет", "Здравствуй", "Как дела?", "Хорошо"], update_time=1_800_000_000.0),
        conv("c2", "Second", ["Why?", "Because."]),
        conv("c3", "Third", ["New one", "Yes"]),
    ])
    r = tf("ingest", "--json", newer)
    totals = json.loads(r.output)["totals"]
    assert (totals["added"], totals["updated"], totals["unchanged"]) == (1, 1, 1)
    snap = snapshot(workspace)
    assert snap["conversations"] == 3 and snap["messages"] == 4 + 2 + 2
    # an older snapshot arriving later does not roll the conversation back
    r = tf("ingest", "--json", export(tmp_path, "old-again.json", [conv("c1", "First", ["Привет", "x"])]))
    assert json.loads(r.output)["totals"]["older"] == 1
    assert snapshot(workspace)["messages"] == 8


@pytest.mark.parametrize("case", ["truncated", "empty", "binary", "unknown-shape", "encoding",
                                  "zip-escape", "zip-bomb", "big-truncated", "invalid-json"])
def test_bad_input_one_line_nonzero_store_unchanged(case, tf, tmp_path, workspace, good, fixtures):
    tf("ingest", good)
    before = snapshot(workspace)
    name = f"bad-{case}"
    if case == "truncated":
        data = (fixtures / "LibreChat/chatgpt-export.json").read_bytes()
        bad = tmp_path / f"{name}.json"
        bad.write_bytes(data[: len(data) // 2])
        expect = "ends early"
    elif case == "big-truncated":
        # bigger than the detection probe: the first conversations parse fine, then the file stops
        convs = [conv(f"b{i}", f"Big {i}", ["вопрос " * 500, "ответ " * 500]) for i in range(60)]
        data = json.dumps(convs, ensure_ascii=False).encode()
        assert len(data) > 300_000
        bad = tmp_path / f"{name}.json"
        bad.write_bytes(data[: int(len(data) * 0.9)])
        expect = "ends early"
    elif case == "invalid-json":
        bad = tmp_path / f"{name}.json"
        bad.write_text('[{"id": "x", "title": "t", "mapping": {}} oops]')
        expect = "invalid JSON"
    elif case == "empty":
        bad = tmp_path / f"{name}.json"
        bad.write_bytes(b"")
        expect = "empty file"
    elif case == "binary":
        bad = tmp_path / f"{name}.bin"
        bad.write_bytes(bytes(range(256)) * 8)
        expect = "binary file"
    elif case == "unknown-shape":
        bad = tmp_path / f"{name}.json"
        bad.write_bytes((fixtures / "LibreChat/chatbotui-export.json").read_bytes())
        expect = "shape"
    elif case == "encoding":
        bad = tmp_path / f"{name}.txt"
        bad.write_bytes("Привет, это заметка в старой кодировке".encode("cp1251"))
        expect = "not UTF-8"
    elif case == "zip-escape":
        bad = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(bad, "w") as z:
            z.writestr("conversations.json", json.dumps([conv("z1", "ok", ["a", "b"])]))
            z.writestr("../../evil.json", "[]")
        expect = "escape"
    elif case == "zip-bomb":
        bad = tmp_path / f"{name}.zip"
        with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("conversations.json", b"[" + b" " * 30_000_000 + b"]")
        expect = "zip bomb"
    r = tf("ingest", bad)
    assert r.exit_code != 0
    line = one_error_line(r, bad.name)
    assert expect in line
    assert snapshot(workspace) == before
    assert not (tmp_path / "evil.json").exists()


def test_partial_failure_still_imports_the_good_file(tf, tmp_path, good, workspace):
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    r = tf("ingest", good, empty)
    assert r.exit_code == 0  # something was ingested
    one_error_line(r, "empty.json")
    assert snapshot(workspace)["conversations"] == 2
    assert tf("ingest", "--strict", empty).exit_code == 1


def test_crash_mid_file_rolls_back_that_file(tf, good, workspace, monkeypatch):
    from twinforge.store.conversations import ConversationWriter

    original = ConversationWriter.write
    calls = {"n": 0}

    def crash_on_second(self, c):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, c)

    monkeypatch.setattr(ConversationWriter, "write", crash_on_second)
    r = tf("ingest", good)
    assert r.exit_code == 130
    assert snapshot(workspace)["conversations"] == 0 and snapshot(workspace)["sources"] == 0
    monkeypatch.setattr(ConversationWriter, "write", original)
    assert tf("ingest", good).exit_code == 0
    assert snapshot(workspace)["conversations"] == 2


def test_dry_run_writes_nothing(tf, good, workspace):
    r = tf("ingest", "--dry-run", good)
    assert r.exit_code == 0 and "would import" in r.output and "2 new" in r.output
    assert snapshot(workspace)["conversations"] == 0


def test_zip_shards_wrapper_and_single_object(tf, tmp_path, workspace):
    a, b, c = (conv(f"s{i}", f"Shard conv {i}", ["q", "a"]) for i in range(3))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("export/conversations-000.json", json.dumps([a]))
        z.writestr("export/conversations-001.json", json.dumps([b]))
        z.writestr("export/user.json", json.dumps({"id": "user-1"}))
        z.writestr("export/chat.html", "<html></html>")
    # exports sometimes arrive renamed (.dat) or nested in another zip
    outer = tmp_path / "download.dat"
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("part1.zip", buf.getvalue())
    wrapper = export(tmp_path, "wrapped.json", {"conversations": [c]})
    single = tmp_path / "single.json"
    single.write_text(json.dumps(conv("s9", "Single", ["one", "two"])))
    r = tf("ingest", "--json", outer, wrapper, single)
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    imported = [s["path"] for s in report["sources"] if s["status"] == "imported"]
    assert any(p.endswith("conversations-000.json") for p in imported)
    assert any(p.endswith("conversations-001.json") for p in imported)
    assert {s["status"] for s in report["sources"] if "user.json" in s["path"] or "chat.html" in s["path"]} == {"skipped"}
    assert snapshot(workspace)["conversations"] == 4


def test_stats_and_messages_json(tf, good, workspace):
    tf("ingest", good)
    r = tf("stats", "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert {"conversations", "messages", "characters", "pages", "tokens", "by_source"} <= set(s)
    assert s["conversations"] == 2 and s["messages"] == 4
    chars = len("Привет") + len("Здравствуй") + len("Why?") + len("Because.")
    assert s["characters"] == chars
    assert s["pages"] == round(chars / 1800, 1)
    assert 4 <= s["tokens"] <= chars
    assert s["by_role"] == {"user": 2, "assistant": 2}
    assert s["by_source"][0]["conversations"] == 2
    lines = [json.loads(x) for x in tf("messages", "--json").output.splitlines()]
    assert len(lines) == 4
    assert set(lines[0]) >= {"conversation_id", "message_id", "role", "kind", "text", "created_at", "canonical"}
    assert [x["text"] for x in lines if x["conversation_id"] == "c1"] == ["Привет", "Здравствуй"]
    only = tf("messages", "--json", "--conversation", "c2").output.splitlines()
    assert len(only) == 2


def test_workspace_from_environment(tmp_path, good, monkeypatch):
    from click.testing import CliRunner

    from twinforge.cli.main import cli

    monkeypatch.setenv("TWINFORGE_WORKSPACE", str(tmp_path / "envws"))
    r = CliRunner().invoke(cli, ["ingest", str(good)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "envws" / "twin.db").exists()


def test_stats_on_missing_workspace_is_one_clear_line(tf, tmp_path):
    r = tf("stats", ws=tmp_path / "nowhere")
    assert r.exit_code == 1
    assert r.stderr.strip().startswith("error: no workspace at")


def test_store_migrations_are_recorded(tmp_path):
    with Store(tmp_path / "w") as s:
        names = [r[0] for r in s.db.execute("SELECT name FROM _migrations")]
    assert names[0] == "m001_initial"
    with Store(tmp_path / "w") as s:  # reopening applies nothing twice
        assert [r[0] for r in s.db.execute("SELECT name FROM _migrations")] == names


def test_conversations_without_ids_do_not_collide(tf, tmp_path, workspace):
    def idless(title, q):
        c = conv("x", title, [q, "answer"])
        del c["id"]
        # node ids repeat across conversations, as in DeepSeek exports
        return json.loads(json.dumps(c).replace('"x-n', '"n'))

    p = export(tmp_path, "idless.json", [idless("One", "first question"), idless("Two", "second question")])
    assert tf("ingest", p).exit_code == 0
    assert snapshot(workspace)["conversations"] == 2


def test_seeds_come_out_as_clean_russian(tf, seeds, workspace):
    r = tf("ingest", "--json", seeds)
    assert r.exit_code == 0, r.output
    totals = json.loads(r.output)["totals"]
    assert totals["added"] == 5
    assert totals["repaired"] == 10  # every message of the five double-encoded notes
    msgs = [json.loads(x) for x in tf("messages", "--json").output.splitlines()]
    assert len(msgs) == 10
    first = [m for m in msgs if m["uid"] == "8f945ddb-c849-4c90-bead-83f66ae9f1de"][0]
    assert first["text"].startswith("У меня есть 15 000 А4 страниц бесед")
    assert first["role"] == "user" and first["created_at"].startswith("2025-05-29T11:27")
    for m in msgs:  # no Mac Roman debris left anywhere
        assert not any(s in m["text"] for s in ("–∞", "—Ç", "–æ", "‚Äî"))
