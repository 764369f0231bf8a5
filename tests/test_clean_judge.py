"""The optional LLM judge, through the OpenAI-compatible backend, against a real llama.cpp server."""

from __future__ import annotations

import json

from conftest import SAMPLE, free_port

from twinforge.clean.run import clean
from twinforge.config import BackendConfig, CleanConfig, JudgeConfig
from twinforge.ingest.run import ingest_paths
from twinforge.store import Store


def small_export(tmp_path, n=3):
    """The first n conversations of the sample export: enough to judge, quick on the small model."""
    convs = json.loads((SAMPLE / "chatgpt-export" / "conversations.json").read_text(encoding="utf-8"))[:n]
    p = tmp_path / "small.json"
    p.write_text(json.dumps(convs, ensure_ascii=False), encoding="utf-8")
    return p


def judged_config(url: str, band=(0.0, 1.0)) -> CleanConfig:
    backend = BackendConfig(name="openai", base_urls=[url], max_tokens=80, temperature=0, timeout=60, retries=1)
    return CleanConfig(judge=JudgeConfig(enabled=True, band=band, backend=backend))


def test_judge_gives_second_opinions_and_its_verdicts_are_cached(llama_server, tmp_path):
    with Store(tmp_path / "ws") as store:
        ingest_paths(store, [small_export(tmp_path)])
        cfg = judged_config(llama_server)
        report = clean(store, cfg)
        conversations = sum(report.conversations.values())
        assert report.judged == conversations > 0  # the band [0, 1] sends every conversation
        reasons = [r[0] for r in store.db.execute("SELECT reason FROM clean_conversations")]
        assert all(r.startswith("LLM judge") or "judge answered" in r for r in reasons)
        assert any(r.startswith("LLM judge") for r in reasons)  # the small model answers usable JSON
        again = clean(store, cfg)
        assert again.judged == 0 and again.verdicts_reused == conversations


def test_unreachable_judge_keeps_the_classifier_verdict(tmp_path):
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with Store(tmp_path / "ws") as store:
        ingest_paths(store, [SAMPLE / "chatgpt-export"])
        plain = clean(store, CleanConfig())
        labels = dict(store.db.execute("SELECT conversation_id, label FROM clean_conversations"))
        cfg = judged_config(dead)
        cfg.judge.backend.timeout = 2
        report = clean(store, cfg)
        assert report.judged == sum(report.conversations.values())
        rows = store.db.execute("SELECT conversation_id, label, reason FROM clean_conversations").fetchall()
        assert {cid: label for cid, label, _ in rows} == labels
        assert all("judge failed" in reason for _, _, reason in rows)
        assert plain.conversations == report.conversations
