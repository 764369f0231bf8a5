"""Two commands on one workspace, and commands killed mid-run: no traceback, no stale state, no orphans."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, rows

from twinforge.config import CleanConfig, DistillConfig
from twinforge.store import Store

SRC = str(REPO / "src")


def chatgpt_export(path: Path, ids: list[str]) -> Path:
    convs = []
    for cid in ids:
        mapping = {"root": {"id": "root", "parent": None, "children": [f"{cid}-u"], "message": None}}
        for nid, parent, role, text in ((f"{cid}-u", "root", "user", f"Why does {cid} matter for the index?"),
                                        (f"{cid}-a", f"{cid}-u", "assistant", f"Because {cid} changes the plan.")):
            mapping[nid] = {"id": nid, "parent": parent, "children": [], "message": {
                "id": nid, "author": {"role": role}, "create_time": 1_700_000_000.0,
                "content": {"content_type": "text", "parts": [text]}, "metadata": {}}}
        mapping[f"{cid}-u"]["children"] = [f"{cid}-a"]
        convs.append({"id": cid, "title": cid, "create_time": 1_700_000_000.0, "update_time": 1_700_000_000.0,
                      "current_node": f"{cid}-a", "mapping": mapping})
    path.write_text(json.dumps(convs), encoding="utf-8")
    return path


def python(code: str, *args: str) -> subprocess.Popen:
    """A child python running `code` on this tree's sources, its stdout piped."""
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)


def gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # a zombie (dead, not reaped by its dead parent yet) counts as gone
        try:
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z"):
                return True
        except (FileNotFoundError, IndexError):
            return True
        time.sleep(0.1)
    return False


# --- item 1: a stage beside another one ----------------------------------------------------------------------


def test_clean_reads_its_snapshot_inside_its_transaction(tmp_path, workspace, monkeypatch):
    """An ingest that commits after clean set up but before its transaction must not crash clean (it did:
    KeyError on a conversation hash read too early)."""
    from twinforge.clean import run as clean_run
    from twinforge.ingest.run import ingest_paths

    with Store(workspace) as s:
        ingest_paths(s, [chatgpt_export(tmp_path / "a.json", ["nexus-a1", "nexus-a2"])])
    later = chatgpt_export(tmp_path / "b.json", ["nexus-b1", "nexus-b2"])
    setup = clean_run._ChatterJudge.__init__

    def set_up_then_ingest(self, *args, **kwargs):
        setup(self, *args, **kwargs)
        with Store(workspace) as other:  # another command, committing in between
            ingest_paths(other, [later])

    monkeypatch.setattr(clean_run._ChatterJudge, "__init__", set_up_then_ingest)
    with Store(workspace) as s:
        clean_run.clean(s, CleanConfig(dedupe=False, boilerplate=False, redact=False))
    judged = {r["conversation_id"] for r in rows(workspace, "SELECT conversation_id FROM clean_conversations")}
    assert judged == {"nexus-a1", "nexus-a2", "nexus-b1", "nexus-b2"}


def test_stats_beside_a_writer_neither_waits_nor_writes(tf, tmp_path, workspace):
    assert tf("ingest", chatgpt_export(tmp_path / "a.json", ["c1", "c2"])).exit_code == 0
    holder = sqlite3.connect(workspace / "twin.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another stage is writing
    try:
        start = time.monotonic()
        r = tf("stats", "--json")
        took = time.monotonic() - start
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["tokens"] > 0 and took < 4
    # read only: the token counts it needed were not stored
    assert rows(workspace, "SELECT count(*) AS n FROM messages WHERE tokens IS NOT NULL")[0]["n"] == 0


def test_a_command_blocked_by_a_running_stage_names_it_in_one_line(tf, tmp_path, workspace, monkeypatch):
    assert tf("ingest", chatgpt_export(tmp_path / "a.json", ["c1"])).exit_code == 0
    monkeypatch.setenv("TWINFORGE_BUSY_TIMEOUT", "1")
    with Store(workspace) as holder:
        holder.start_run("ingest", {})
        holder.db.execute("BEGIN EXCLUSIVE")  # mid-commit: nobody may even read
        try:
            r = tf("stats")
        finally:
            holder.db.execute("ROLLBACK")
    assert r.exit_code == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "busy" in errors[0] and "`ingest`" in errors[0] and f"pid {os.getpid()}" in errors[0]
    assert "Traceback" not in r.output + r.stderr


def test_a_write_waits_with_a_note_then_goes_ahead(workspace, monkeypatch, capsys):
    monkeypatch.setenv("TWINFORGE_BUSY_TIMEOUT", "10")
    Store(workspace).close()
    holder = sqlite3.connect(workspace / "twin.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(1.0, lambda: holder.execute("COMMIT")).start()
    with Store(workspace) as s, s.transaction() as db:
        db.execute("INSERT INTO runs (stage, started_at, status) VALUES ('x', 'now', 'ok')")
    holder.close()
    assert "waiting up to 10 s" in capsys.readouterr().err
    monkeypatch.setenv("TWINFORGE_BUSY_TIMEOUT", "1")
    holder = sqlite3.connect(workspace / "twin.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        from twinforge.errors import WorkspaceError

        with Store(workspace) as s, pytest.raises(WorkspaceError, match="busy"):
            with s.transaction():
                pass
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# --- item 3: runs of killed processes ------------------------------------------------------------------------

RUN_AND_WAIT = """
    import sys, time
    from twinforge.store import Store
    s = Store(sys.argv[1])
    print(s.start_run("ingest", {}), flush=True)
    time.sleep(60)
"""


def test_a_later_run_marks_killed_runs_interrupted_and_leaves_live_ones(workspace):
    Store(workspace).close()
    killed, live = python(RUN_AND_WAIT, str(workspace)), python(RUN_AND_WAIT, str(workspace))
    try:
        killed_id, live_id = int(killed.stdout.readline()), int(live.stdout.readline())
        killed.kill()
        killed.wait(5)
        with Store(workspace) as s:
            s.finish_run(s.start_run("clean", {}), "ok")
        status = {r["id"]: r["status"] for r in rows(workspace, "SELECT id, status FROM runs")}
        assert status[killed_id] == "interrupted" and status[live_id] == "running"
    finally:
        for p in (killed, live):
            p.kill()
            p.wait(5)


# --- item 2: the ingest parser child dies with its parent ----------------------------------------------------

PARSER_PARENT = """
    import multiprocessing, sys, time
    from twinforge.ingest import parallel

    def produce(on_bytes):
        yield from ["x" * 1000] * parallel.BATCH
        while sys.argv[1] == "full-pipe":  # fills the pipe, then blocks writing to it
            yield "x" * 1000
        while True:  # parses on, never writing
            time.sleep(0.05)
            yield from ()

    items = parallel.in_children([produce, produce], "x.json", 100, "x", False)
    next(items)
    time.sleep(0.5)
    print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("mode", ["full-pipe", "parsing"])
def test_parser_children_die_with_a_killed_parent(mode):
    parent = python(PARSER_PARENT, mode)
    children: list[int] = []
    try:
        children = [int(x) for x in parent.stdout.readline().split()]
        assert len(children) == 2, parent.stderr.read() if parent.poll() is not None else children
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        assert all(gone(pid, 5) for pid in children), "a parser child outlived its killed parent"
    finally:
        parent.kill()
        parent.wait(5)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# --- item 4: a module row never without its files ------------------------------------------------------------


def test_a_kill_before_the_files_are_written_leaves_no_module_row(cleaned, monkeypatch):
    from twinforge.distill import export
    from twinforge.distill.run import distill

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(export, "write_files", killed)
    with Store(cleaned) as store, pytest.raises(KeyboardInterrupt):
        distill(store, DistillConfig())
    assert rows(cleaned, "SELECT count(*) AS n FROM modules")[0]["n"] == 0
