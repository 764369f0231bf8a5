"""Hostile input: deeply nested JSON, special files, repeated conversation ids, terminal escapes in the data."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

import pytest
from conftest import REPO, rows
from test_ingest_cli import conv, export, one_error_line, snapshot


def test_deeply_nested_objects_are_refused_fast_and_small(tf, tmp_path, workspace):
    """100,000 nested objects (600 KB) took the shape probe 35 s and 2.9 GB, then a misleading 'unknown shape'."""
    deep = tmp_path / "deep.json"
    deep.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    # the probe's own peak allocation (tracemalloc): ru_maxrss would carry the forking parent's high-water mark
    code = ("import sys, time, tracemalloc; from twinforge.ingest.jsonshape import probe; "
            "head = open(sys.argv[1], 'rb').read(256 * 1024); tracemalloc.start(); t = time.monotonic(); "
            "s = probe(head); took = time.monotonic() - t; "
            "print(took, tracemalloc.get_traced_memory()[1] // 1024, getattr(s, 'too_deep', None))")

    def limit_memory():  # the unbounded probe must not take the machine down when this test fails
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    out = subprocess.run([sys.executable, "-c", code, str(deep)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO / "src")}, preexec_fn=limit_memory)
    assert out.returncode == 0, out.stderr[-2000:]
    seconds, peak_kb, too_deep = out.stdout.split()
    assert float(seconds) < 2 and int(peak_kb) < 50_000 and too_deep != "None"  # was 9.6 s, 2.8 GB
    for name, data in (("deep.json", None), ("deep-arrays.json", "[" * 100_000 + "]" * 100_000)):
        path = tmp_path / name
        if data:
            path.write_text(data)
        start = time.monotonic()
        r = tf("ingest", path)
        assert r.exit_code == 1 and time.monotonic() - start < 10
        assert "nested deeper than" in one_error_line(r, name)


def test_special_files_are_skipped_with_a_warning_not_waited_on(tf, tmp_path, workspace, good):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "conversations.json").write_bytes(good.read_bytes())
    os.mkfifo(folder / "pipe.json")  # a read would block forever: no writer ever comes
    r = subprocess.run([sys.executable, "-m", "twinforge", "-w", str(workspace), "ingest", str(folder)],
                       capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert r.returncode == 0, r.stderr
    assert "pipe.json" in r.stderr and "named pipe" in r.stderr and "warning" in r.stderr
    assert snapshot(workspace)["conversations"] == 2
    r = subprocess.run([sys.executable, "-m", "twinforge", "-w", str(workspace), "ingest", str(folder / "pipe.json")],
                       capture_output=True, text=True, timeout=30, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "named pipe" in errors[0] and "Traceback" not in r.stderr


@pytest.fixture
def good(tmp_path):
    return export(tmp_path, "good.json", [conv("c1", "First", ["Привет", "Здравствуй"]),
                                          conv("c2", "Second", ["Why?", "Because."])])


def test_repeated_ids_in_one_file_warn_each_and_count_true(tf, tmp_path, workspace):
    copies = [conv("same", f"Copy {i}", [f"Question {i}", f"Answer {i}"], update_time=1_700_000_000.0 + i)
              for i in range(50)]
    copies.append(conv("other", "Other", ["Q", "A"]))
    r = tf("ingest", "--json", export(tmp_path, "dupes.json", copies))
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    t = report["totals"]
    stored = rows(workspace, "SELECT count(*) AS n FROM messages")[0]["n"]
    assert (t["added"], t["updated"], t["repeated"]) == (2, 0, 49)
    assert t["messages"] == stored == 4  # what the report says is what the store holds
    assert rows(workspace, "SELECT title FROM conversations WHERE id = 'same'")[0]["title"] == "Copy 49"  # newest
    warned = [w for w in report["sources"][0]["warnings"] if "appears again" in w]
    assert len(warned) == 49
    assert rows(workspace, "SELECT count(*) AS n FROM warnings WHERE message LIKE '%appears again%'")[0]["n"] == 49


HOSTILE = "\x1b]0;pwned\x07Title \x1b[2J\x1b[H\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\ \x9b31mred\x1b[0m"


def test_terminal_escapes_in_imported_data_never_reach_the_terminal(tf, tmp_path, workspace):
    path = tmp_path / "evil\x1b[2Jname.json"
    path.write_text(json.dumps([conv("esc", HOSTILE, [f"Hi {HOSTILE}", "Fine."])]), encoding="utf-8")
    outputs = [tf("ingest", "-v", path), tf("messages"), tf("stats"), tf("warnings"), tf("messages", "--json")]
    for r in outputs:
        assert r.exit_code == 0, r.output
        for text in (r.stdout, r.stderr):
            assert not set(text) & {"\x1b", "\x9b", "\x07"}, repr(text)
    assert "Title" in outputs[1].stdout and "click" in outputs[1].stdout and "pwned" not in outputs[1].stdout
    # the store keeps the text as imported
    assert rows(workspace, "SELECT title FROM conversations WHERE id = 'esc'")[0]["title"] == HOSTILE
