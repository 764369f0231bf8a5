"""Retrieval quality: recall@5 of the hand-written question set (tests/data/retrieval.yaml) over the sample archive,
the seeds and the shared fixtures. Fusion must reach 0.9; BM25-only and dense-only are printed beside it."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import rows

from twinforge.memory.search import search
from twinforge.store import Store

SET = Path(__file__).parent / "data" / "retrieval.yaml"
K = 5


def questions() -> list[dict]:
    return yaml.safe_load(SET.read_text(encoding="utf-8"))["questions"]


def test_the_set_is_well_formed():
    qs = questions()
    assert len(qs) >= 30
    langs = [q["lang"] for q in qs]
    assert langs.count("ru") >= 10 and langs.count("en") >= 10
    assert len({q["q"] for q in qs}) == len(qs)
    assert len({q["conversation"] for q in qs}) >= 15


def recall(ws: Path, mode: str) -> tuple[float, list[str]]:
    misses = []
    with Store(ws) as s:
        for q in questions():
            got = [h.conversation_id for h in search(s, q["q"], k=K, mode=mode)]
            if q["conversation"] not in got:
                misses.append(q["q"])
    return 1 - len(misses) / len(questions()), misses


def test_recall_at_5(retrieval_ws, capsys):
    indexed = {r["conversation_id"] for r in rows(retrieval_ws, "SELECT DISTINCT conversation_id FROM memory_items")}
    missing = {q["conversation"] for q in questions()} - indexed
    assert not missing, f"source conversations not in memory (ingest ids changed?): {missing}"
    figures = {mode: recall(retrieval_ws, mode) for mode in ("hybrid", "bm25", "dense")}
    with capsys.disabled():
        print(f"\nrecall@{K} over {len(questions())} questions: "
              + ", ".join(f"{m} {r:.3f}" for m, (r, _) in figures.items()))
        for m, (_, miss) in figures.items():
            for q in miss:
                print(f"  {m} missed: {q}")
    assert figures["hybrid"][0] >= 0.9
    # fusion must not be worse than the better of its two inputs by more than one question
    assert figures["hybrid"][0] >= max(figures["bm25"][0], figures["dense"][0]) - 1 / len(questions())
