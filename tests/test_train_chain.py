"""Chained training (train/chain.py): batches one after another, replay, the forgetting gate, resume, registry."""

from __future__ import annotations

import json
import shutil

import pytest
from fx_train import write_jsonl

from twinforge.adapters import registry
from twinforge.models.perplexity import control_texts
from twinforge.store import Store
from twinforge.train import replay
from twinforge.train.config import TrainConfig
from twinforge.train.forgetting import judge
from twinforge.train.stage import run_stage, train_in_workspace

# a couple of steps on short rows: the embedded 270M base, a few seconds a step on a 2-core CPU
FAST = {"max_len": 96, "batch_size": 2, "max_steps": 2, "lr": 1e-3, "save_steps": 1, "gate_examples": 3,
        "gate_probes": 0}


@pytest.fixture
def ws(train_workspace, tmp_path):
    dst = tmp_path / "ws"
    shutil.copytree(train_workspace, dst, ignore=shutil.ignore_patterns("adapters"))
    return dst


def _person(train_examples, n: int) -> list[dict]:
    return [e for e in train_examples][:n]


def test_replay_mixes_the_asked_share_deterministically_and_never_the_control_set():
    own = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
           for i in range(8)]
    earlier = [{"messages": [{"role": "user", "content": f"old{i}"}, {"role": "assistant", "content": "x"}]}
               for i in range(5)]
    mixed, counts = replay.mix(own, earlier, 0.2, seed=0, batch_no=2)
    assert counts == {"own": 8, "earlier": 1, "general": 1} and len(mixed) == 10
    assert replay.mix(own, earlier, 0.2, seed=0, batch_no=2)[0] == mixed, "a resumed chain must write the same batch"
    assert replay.mix(own, earlier, 0.5, seed=0, batch_no=2)[1] == {"own": 8, "earlier": 4, "general": 4}
    assert replay.mix(own, [], 0.5, seed=0, batch_no=1)[1] == {"own": 8, "earlier": 0, "general": 8}
    assert replay.mix(own, earlier, 0.0, seed=0, batch_no=2) == (own, {"own": 8, "earlier": 0, "general": 0})
    general = {m["content"] for e in replay.general_examples() for m in e["messages"]}
    assert not any(t[:60] in g or g[:60] in t for t in control_texts() for g in general), \
        "replaying the control texts would hide the forgetting the gate measures"


def test_judge_flags_cost_on_control_and_earlier_batches_not_gains():
    before = {"heldout": 20.0, "control": 30.0, "batch:b1": 10.0, "batch:b2": 50.0, "coverage:b1": 0.5}
    fine = {"heldout": 12.0, "control": 31.0, "batch:b1": 10.5, "batch:b2": 9.0, "coverage:b1": 0.45}
    assert judge(before, fine, "b2", 0.10) == []
    bad = {"heldout": 12.0, "control": 40.0, "batch:b1": 13.0, "batch:b2": 9.0, "coverage:b1": 0.2}
    problems = judge(before, bad, "b2", 0.10)
    assert len(problems) == 3 and "control" in problems[0] and "+33%" in problems[0]
    assert any("b1" in p and "coverage" in p for p in problems)


@pytest.mark.slow
def test_chain_resumes_where_it_was_stopped_and_records_each_batch(ws, train_examples):
    write_jsonl(ws / "datasets" / "c" / "train.jsonl", _person(train_examples, 4))
    cfg = TrainConfig(dataset="c", batch_lines=2, chain=True, chain_mode="continue", replay=0.2, gate="off",
                      **FAST)
    with Store(ws) as store:
        first = train_in_workspace(store, cfg, stop_after=1)  # killed after one step of batch 1
        assert [(a.id, a.status) for a in first.adapters] == [("c-batch-0001", "stopped")]
        second = train_in_workspace(store, cfg)
        assert [a.status for a in second.adapters] == ["resumed", "trained"]
        assert second.adapters[0].result.resumed_from_step == 1
        third = train_in_workspace(store, cfg)
        assert [a.status for a in third.adapters] == ["skipped", "skipped"], "finished batches skip by data hash"
        b1, b2 = registry.get(store, "c-batch-0001"), registry.get(store, "c-batch-0002")
    assert (b1.chain, b1.chain_parent, b2.chain_parent) == ("c", None, "c-batch-0001")
    assert b1.data_hash and b1.data_hash != b2.data_hash and b2.status == "ok"
    assert b2.metrics["steps"] == 2
    meta = json.loads((b2.path / "twinforge.json").read_text())
    assert meta["init_from"] == "c-batch-0001" and meta["parents"] == [], "continue mode: one adapter to load"
    seen = [json.loads(x) for x in (b2.path / "train.jsonl").read_text().splitlines()]
    assert len(seen) == 3 and {(e.get("meta") or {}).get("replay") for e in seen} == {None, "earlier"}


def test_stack_mode_is_the_default_and_trains_over_the_frozen_earlier_batches(ws, train_examples):
    write_jsonl(ws / "datasets" / "s" / "train.jsonl", _person(train_examples, 4))
    cfg = TrainConfig(dataset="s", batch_lines=2, chain=True, gate="off",
                      **{**FAST, "max_steps": 1})
    with Store(ws) as store:
        report = train_in_workspace(store, cfg)
        assert [a.status for a in report.adapters] == ["trained", "trained"]
        b2 = registry.get(store, "s-batch-0002")
    assert b2.parents == ["s-batch-0001"] and b2.chain_parent == "s-batch-0001"
    assert json.loads((b2.path / "twinforge.json").read_text())["init_from"] is None


@pytest.mark.slow
def test_strict_gate_rejects_a_harmful_batch_and_the_chain_goes_on_from_its_parent(ws, train_examples):
    junk = {"role": "assistant", "content": "Invoice 4471 paid. " * 12}
    harmful = [{"messages": [{"role": "user", "content": "Next."}, junk], "meta": {"module_id": "junk"}}] * 3
    person = _person(train_examples, 5)
    write_jsonl(ws / "datasets" / "h" / "train.jsonl", person[:3] + harmful + person[3:5])
    # continue mode: there the junk batch costs batch 1 ~+29% (stack: ~+13%, too close to the 10% tolerance)
    cfg = TrainConfig(dataset="h", batch_lines=3, chain=True, chain_mode="continue", gate="strict",
                      **{**FAST, "lr": 2e-3, "max_steps": 3})
    with Store(ws) as store:
        result = run_stage(store, cfg)
        rows = {a.id: a for a in registry.list_adapters(store)}
    print("\n".join(result.notes))
    assert result.ok, "a batch the gate rejects is the gate working, not a failed stage"
    assert rows["h-batch-0001"].status == "ok"
    assert rows["h-batch-0002"].status == "rejected"
    assert any("control" in p or "earlier batch" in p for p in rows["h-batch-0002"].gate["problems"])
    assert rows["h-batch-0003"].chain_parent == "h-batch-0001", "after a rejection the chain goes on from its parent"
    assert any(n.startswith("h-batch-0002 rejected") for n in result.notes)
    assert "worst earlier batch" in result.notes[-1] and "h-batch-0002" in result.notes[-1]


def test_chain_without_batch_lines_is_one_error_line(tf, ws):
    r = tf("train", "--chain", ws=ws)
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "batch_lines" in lines[0], r.output
