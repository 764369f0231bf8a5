"""The bundled sample archive runs through the demo pipeline; expectations from examples/sample-archive/README.md."""

from __future__ import annotations

import json
import re

from conftest import SAMPLE


def stage_counts(output: str) -> dict[str, dict[str, str]]:
    """The runner's lines `[stage] ok: key value, key value (12.3 s, 20 CPU-s)` → {stage: {key: value}}."""
    out = {}
    for line in output.splitlines():
        m = re.match(r"\[(\w+)\] ok: (.*) \((?:[\d.]+ s|\d+ min \d+ s), \d+ CPU-s\)$", line)
        if m:
            out[m.group(1)] = dict(re.match(r"(.+) (\S+)$", part).groups() for part in m.group(2).split(", "))
    return out


def test_demo_on_sample_archive(tf):
    r = tf("demo", "--input", SAMPLE, "--backend", "extractive")  # the embedded model is tested elsewhere
    assert r.exit_code == 0, r.output + r.stderr
    counts = stage_counts(r.output)
    assert list(counts) == ["ingest", "clean", "distill", "expand", "dataset", "train", "eval", "memory", "persona"]
    assert int(counts["ingest"]["added"]) == 13
    assert int(counts["clean"]["kept"]) > 0
    assert int(counts["distill"]["modules"]) >= 8 and "failed" not in counts["distill"]
    assert int(counts["expand"]["examples"]) > 100
    assert int(counts["dataset"]["train"]) > 0 and int(counts["dataset"]["val"]) > 0
    assert int(counts["train"]["trained"]) == 1
    assert int(counts["eval"]["models"]) == 2
    assert int(counts["memory"]["items"]) > 0 and int(counts["memory"]["concepts"]) > 0
    assert int(counts["persona"]["themes"]) > 0
    assert "[train] running…" in r.stderr  # each stage is announced as it starts
    s = json.loads(tf("stats", "--json").output)
    # 11 conversations from the JSON export + 2 that exist only as Nexus notes; the Nexus copy of #2 is not a 14th
    assert s["conversations"] == 13
    assert {b["format"] for b in s["by_source"]} == {"chatgpt", "nexus"}


def test_nexus_copy_is_matched_to_the_json_conversation(tf):
    r = tf("ingest", "--json", SAMPLE)
    report = json.loads(r.output)
    copy = [x for x in report["sources"] if "LoRA" in x["path"] and x["path"].endswith(".md")][0]
    assert copy["counts"]["duplicate"] == 1 and copy["counts"]["added"] == 0
    lora = [json.loads(x) for x in tf("messages", "--json", "-c", "68564364-5ddb-8000-bc0c-75e5e20c599e").output.splitlines()]
    # the JSON copy is kept: it has the reasoning nodes the Nexus note lost
    assert any(m["kind"] == "reasoning" for m in lora)


def test_double_encoded_note_is_repaired(tf):
    tf("ingest", SAMPLE)
    msgs = [json.loads(x) for x in tf("messages", "--json", "-c", "6821815b-9399-800e-8117-8ac043216eae").output.splitlines()]
    assert len(msgs) == 4
    text = "\n".join(m["text"] for m in msgs)
    assert "–æ" not in text and "Хочу" in text


def test_edit_and_regeneration_branches(tf):
    tf("ingest", SAMPLE)
    cid = "68381a57-0c81-8008-9619-5537f94f39f9"
    canon = [json.loads(x) for x in tf("messages", "--json", "-c", cid, "--kind", "dialog").output.splitlines()]
    every = [json.loads(x) for x in tf("messages", "--json", "-c", cid, "--kind", "dialog", "--all-branches").output.splitlines()]
    assert len(canon) == 6
    assert len(every) - len(canon) == 3
    assert all(m["canonical"] for m in canon)


def test_citations_are_stripped_and_tool_traffic_kept_apart(tf):
    tf("ingest", SAMPLE)
    cites = [json.loads(x) for x in tf("messages", "--json", "-c", "686b6468-b737-800e-9ecb-91af0fc806fa").output.splitlines()]
    assert not any("【" in m["text"] or "\ue200" in m["text"] for m in cites)
    calc = [json.loads(x) for x in tf("messages", "--json", "-c", "683df050-0654-8003-8205-988f86e8de81").output.splitlines()]
    assert [m["kind"] for m in calc].count("tool") == 2
