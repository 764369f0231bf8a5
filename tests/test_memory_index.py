"""Memory index: stemming, passages, reciprocal-rank fusion, BM25/dense search and the incremental build."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
from conftest import rows

from twinforge.memory import dense
from twinforge.memory.build import build_memory
from twinforge.memory.config import MemoryConfig
from twinforge.memory.fusion import rrf
from twinforge.memory.items import split_passages
from twinforge.memory.search import search
from twinforge.store import Store
from twinforge.text.stemming import stem_text, stems

# --- stemming -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("forms", [
    ["гиперфраза", "гиперфразы", "гиперфразой", "гиперфразу"],
    ["адаптер", "адаптеры", "адаптерами", "адаптеров"],
    ["дообучение", "дообучения", "дообучению"],
    ["adapter", "adapters"],
    ["compression", "compressions"],
    ["training", "trained", "trains"],
])
def test_word_forms_share_a_stem(forms):
    assert len({stem_text(f) for f in forms}) == 1, {f: stem_text(f) for f in forms}


def test_mixed_script_text_is_stemmed_per_word_and_e_folded():
    # Latin words in a Russian item get the English stemmer, Cyrillic ones the Russian stemmer
    assert stems("адаптерами adapters", "ru") == stems("адаптер adapter", "en")
    assert stem_text("ёлки") == stem_text("елки")
    assert stems("и в на the of what как") == []  # function words carry no topic


def test_bm25_matches_other_word_forms(memory_copy):
    with Store(memory_copy) as s:
        # "гиперфразами" is in no message; "гиперфраза"/"гиперфразы"/"гиперфразу" are
        assert not s.db.execute("SELECT 1 FROM memory_items WHERE text LIKE '%гиперфразами%'").fetchone()
        hits = search(s, "гиперфразами", k=3, mode="bm25")
        assert hits and all("гиперфраз" in (h.title + h.text).lower() for h in hits)
        # English inflection too
        en = search(s, "migrations numbered", k=3, mode="bm25")
        assert en[0].conversation_id == "6866aa23-8e90-8000-bf68-72da97af9daa"


# --- passages ---------------------------------------------------------------------------------------------------


def test_split_passages_overlap_and_cover_the_text():
    text = " ".join(f"Предложение номер {i} про адаптеры и сцены." for i in range(120))
    parts = split_passages(text, 400, 80)
    assert len(parts) > 5
    assert all(len(p) <= 400 for p in parts)
    for a, b in zip(parts, parts[1:]):
        assert b[:30] in a, "consecutive passages must overlap"
    assert parts[0].startswith("Предложение номер 0") and parts[-1].endswith("сцены.")
    assert split_passages("short", 400, 80) == ["short"] and split_passages("  ", 400, 80) == []


def test_message_passages_keep_their_message_id(memory_ws):
    items = rows(memory_ws, "SELECT i.message_id, i.conversation_id, m.conversation_id AS real, i.text, k.text AS full"
                            " FROM memory_items i JOIN messages m ON m.id = i.message_id"
                            " JOIN clean_messages k ON k.message_id = i.message_id WHERE i.kind = 'message'")
    assert items
    assert all(r["conversation_id"] == r["real"] for r in items)
    assert all(r["text"][:50] in r["full"] for r in items)
    long = [r for r in items if len(r["full"]) > MemoryConfig().passage_chars]
    assert long, "the sample has long messages: they must be split"
    split = rows(memory_ws, "SELECT message_id, count(*) AS n FROM memory_items WHERE kind = 'message'"
                            " GROUP BY message_id HAVING n > 1")
    assert split


def test_only_kept_canonical_dialog_is_indexed(memory_ws):
    bad = rows(memory_ws, "SELECT i.id FROM memory_items i JOIN clean_messages k ON k.message_id = i.message_id"
                          " JOIN messages m ON m.id = i.message_id"
                          " WHERE i.kind = 'message' AND (k.keep = 0 OR m.canonical = 0)")
    assert not bad
    borscht = "67d4450d-9222-8006-a8a0-cbce38b0eaca"
    chatter = rows(memory_ws, "SELECT 1 FROM memory_items WHERE conversation_id = ?", borscht)
    assert not chatter, "the borscht recipe (chatter) must not be in memory"
    modules = rows(memory_ws, "SELECT count(*) AS n FROM modules")[0]["n"]
    indexed = rows(memory_ws, "SELECT count(*) AS n FROM memory_items WHERE kind IN ('module', 'paper')")[0]["n"]
    assert indexed == modules


# --- fusion -----------------------------------------------------------------------------------------------------


def test_rrf_scores_are_sums_of_reciprocal_ranks():
    fused = dict(rrf([["a", "b", "c"], ["b", "d"]], k=60))
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["c"] == pytest.approx(1 / 63)
    assert fused["d"] == pytest.approx(1 / 62)
    order = [x for x, _ in rrf([["a", "b", "c"], ["b", "d"]], k=60)]
    assert order == ["b", "a", "d", "c"]  # d (rank 2) before c (rank 3); ties broken by first appearance


def test_rrf_k_and_repeats():
    # small k lets one ranking's top hit dominate; large k rewards agreement
    assert rrf([["x", "y"], ["y", "z"]], k=1)[0][0] == "y"
    assert dict(rrf([["a", "a", "b"]], k=60))["a"] == pytest.approx(1 / 61)  # a repeat counts once
    assert rrf([], k=60) == []
    with pytest.raises(ValueError):
        rrf([["a"]], k=0)


# --- dense --------------------------------------------------------------------------------------------------------


def test_matrix_top_is_exact_cosine_order():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(500, 16)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    m = dense.Matrix(np.arange(100, 600, dtype=np.int64), v)
    q = v[42]
    top = m.top(q, 5)
    brute = np.argsort(-(v @ q))[:5] + 100
    assert [r for r, _ in top] == list(brute) and top[0] == (142, pytest.approx(1.0, abs=1e-5))


def test_dense_finds_a_paraphrase_across_languages(memory_ws):
    with Store(memory_ws) as s:
        hits = search(s, "Should I keep pipeline data in one database file or in columnar files?", k=3, mode="dense")
        assert "6866aa23-8e90-8000-bf68-72da97af9daa" in [h.conversation_id for h in hits]
        ru = search(s, "стоит ли хранить данные пайплайна в одном файле базы или в колоночных файлах", k=5,
                    mode="dense")
        assert "6866aa23-8e90-8000-bf68-72da97af9daa" in [h.conversation_id for h in ru]


# --- incremental build ----------------------------------------------------------------------------------------------


class Counting:
    """Wraps an embedder's passages() and counts the texts it is asked to embed."""

    def __init__(self, monkeypatch, tag="use"):
        self.texts: list[str] = []
        emb = dense.get_embedder(tag)
        original = emb.passages

        def passages(texts):
            self.texts += list(texts)
            return original(texts)

        monkeypatch.setattr(emb, "passages", passages)


def test_rebuild_with_nothing_changed_embeds_nothing(memory_copy, monkeypatch):
    count = Counting(monkeypatch)
    with Store(memory_copy) as s:
        before = rows(memory_copy, "SELECT id, hash, rowid FROM memory_items ORDER BY id")
        r = build_memory(s, MemoryConfig())
    assert count.texts == [] and r.embedded == 0 and r.added == r.changed == r.removed == 0
    assert r.unchanged == r.items == len(before)
    assert [tuple(x) for x in rows(memory_copy, "SELECT id, hash, rowid FROM memory_items ORDER BY id")] == \
        [tuple(x) for x in before]


def test_changed_and_removed_items_only(memory_copy, monkeypatch):
    db = sqlite3.connect(memory_copy / "twin.db")
    mid, cid = db.execute("SELECT i.message_id, i.conversation_id FROM memory_items i WHERE kind = 'message'"
                          " AND length(text) < 600 LIMIT 1").fetchone()
    db.execute("UPDATE clean_messages SET text = 'Новая мысль про квантовые огурцы и ортогональные адаптеры.'"
               " WHERE message_id = ?", (mid,))
    gone_module = db.execute("SELECT id FROM modules LIMIT 1").fetchone()[0]
    db.execute("DELETE FROM modules WHERE id = ?", (gone_module,))
    db.commit()
    db.close()
    count = Counting(monkeypatch)
    with Store(memory_copy) as s:
        r = build_memory(s, MemoryConfig())
        assert r.changed == 1 and r.removed == 1 and r.added == 0
        assert r.embedded == 1 and len(count.texts) == 1 and "огурцы" in count.texts[0]
        hits = search(s, "квантовые огурцы", k=1, mode="bm25")
        assert hits[0].message_id == mid and hits[0].conversation_id == cid
        assert not search(s, "квантовые огурцы", k=1, mode="dense")[0].text.startswith("Предложение")
        assert not s.db.execute("SELECT 1 FROM memory_items WHERE module_id = ?", (gone_module,)).fetchone()
        n_items = s.db.execute("SELECT count(*) FROM memory_items").fetchone()[0]
        assert s.db.execute("SELECT count(*) FROM memory_vectors WHERE model = 'use'").fetchone()[0] == n_items
        # the FTS index agrees with the items table (no orphans left by the delete)
        s.db.execute("INSERT INTO memory_fts(memory_fts, rank) VALUES ('integrity-check', 1)")


def test_e5_embedder_and_switching_back(memory_copy, monkeypatch):
    # modules only (messages: false), so the slower e5 embeds a dozen items, not hundreds
    with Store(memory_copy) as s:
        rep = build_memory(s, MemoryConfig(embedder="e5", messages=False))
        assert rep.embedder == "e5" and rep.embedded == rep.items == rep.modules > 0 and rep.removed > 0
        v = s.db.execute("SELECT vec FROM memory_vectors WHERE model = 'e5' LIMIT 1").fetchone()[0]
        assert len(v) == 384 * 4
        hits = search(s, "what storage did I choose for the workspace: one database file?", k=3, mode="dense")
        assert "6866aa23-8e90-8000-bf68-72da97af9daa" in [h.conversation_id for h in hits]
    count = Counting(monkeypatch)
    with Store(memory_copy) as s:
        back = build_memory(s, MemoryConfig(embedder="use", messages=False))
    assert back.embedded == 0 and count.texts == []  # the modules' USE vectors were kept


def test_memory_stats_cli(memory_ws, tf):
    r = tf("memory", "stats", "--json", ws=memory_ws)
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["items"] == sum(s["kinds"].values()) and s["vectors"]["use"] == s["items"]
    assert set(s["languages"]) >= {"ru", "en"} and s["embedder"] == "use"
    text = tf("memory", "stats", ws=memory_ws).output
    assert f"items: {s['items']}" in text


def test_recipe_stage_runs_the_build(memory_copy):
    from twinforge.config import Recipe
    from twinforge.runner import run_recipe

    with Store(memory_copy) as s:
        [res] = run_recipe(s, Recipe(stages=["memory"])).results
    assert res.stage == "memory" and res.ok and res.summary["embedded"] == 0 and res.summary["items"] > 0
