"""The concept graph (KAG): normalisation, communities, query expansion, JSON and GraphML export."""

from __future__ import annotations

import json

import networkx as nx
from conftest import rows

from twinforge.distill.schema import Module
from twinforge.memory import graph
from twinforge.memory.build import build_memory
from twinforge.memory.config import MemoryConfig
from twinforge.memory.search import search
from twinforge.store import Store


def test_concepts_are_lemmatised_lowercase():
    assert graph.normalize_concept("Гиперфразы") == graph.normalize_concept("гиперфраза") == "гиперфраза"
    assert graph.normalize_concept(" Адаптеры ") == "адаптер"
    assert graph.normalize_concept("LoRA adapters") == "lora adapter"
    assert graph.normalize_concept("Ёмкость") == graph.normalize_concept("емкость")
    assert graph.normalize_concept("—") == ""
    assert graph.normalize_concept("a very long sentence mistaken for a concept here") == ""


def _module(i: int, concepts: list[str]) -> Module:
    return Module(id=f"m-{i}", conversation_id=f"c-{i}", title=f"t{i}", language="ru", phrase=f"фраза {i}",
                  concepts=concepts, meta_move="other")


def _store_with_modules(ws, modules: list[Module]) -> Store:
    s = Store(ws)
    with s.transaction() as db:
        for m in modules:
            db.execute("INSERT INTO modules (id, conversation_id, kind, language, json, backend, model, prompt_version,"
                       " input_hash, created_at) VALUES (?, ?, 'dialog', 'ru', ?, 'x', 'x', 'x', 'x', 'now')",
                       (m.id, m.conversation_id, m.model_dump_json()))
    return s


def test_two_topics_make_two_communities(tmp_path):
    lora = ["LoRA", "адаптер", "сцена", "дообучение"]
    food = ["борщ", "свёкла", "рецепт", "капуста"]
    mods = [_module(i, lora[i % 4:] + lora[:i % 4]) for i in range(4)]
    mods += [_module(10 + i, food[i % 4:] + food[:i % 4]) for i in range(4)]
    mods.append(_module(99, ["адаптеры", "сцены"]))  # other forms of the same concepts join their nodes
    with _store_with_modules(tmp_path / "ws", mods) as s:
        r = build_memory(s, MemoryConfig(messages=False))
        assert r.concepts == 8 and r.communities == 2
        com = dict(s.db.execute("SELECT concept, community FROM memory_communities").fetchall())
        assert len({com[c] for c in ("lora", "адаптер", "сцена", "дообучение")}) == 1
        assert len({com[c] for c in ("борщ", "свекла", "рецепт", "капуста")}) == 1
        assert com["lora"] != com["борщ"]
        g = graph.concept_graph(s)
        assert g["адаптер"]["сцена"]["weight"] == 5  # named together by five modules
        assert g.has_edge("адаптер", "module:m-99")
        ex = graph.expand(s, "что я думал про адаптеры?")
        assert ex.concepts == ["адаптер"] and set(ex.neighbours) <= {"lora", "сцена", "дообучение"}
        assert ex.modules[0] == "m-99" or set(ex.modules[:5]) >= {"m-0", "m-1", "m-2", "m-3"}
        assert not set(ex.modules) & {f"m-{10 + i}" for i in range(4)}
        # expansion adds modules that name the query's concepts even when plain search ranks them lower
        hits = search(s, "адаптеры", k=5, expand_graph=True)
        assert {h.module_id for h in hits} <= {f"m-{i}" for i in range(4)} | {"m-99"}


def test_graph_json_and_graphml(memory_ws, tf, tmp_path):
    r = tf("graph", "--json", ws=memory_ws)
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["stats"]["concepts"] > 10 and d["stats"]["communities"] == len(d["communities"]) > 1
    concepts = {n["id"]: n for n in d["nodes"] if n["type"] == "concept"}
    modules = {n["id"] for n in d["nodes"] if n["type"] == "module"}
    assert len(modules) == rows(memory_ws, "SELECT count(*) AS n FROM modules")[0]["n"]
    assert all(n["community"] >= 0 for n in concepts.values())
    assert sum(c["size"] for c in d["communities"]) == len(concepts)
    for e in d["edges"]:
        assert e["kind"] in ("names", "co-occurs") and e["weight"] >= 1
        if e["kind"] == "names":
            assert {e["source"], e["target"]} & modules
    out = tmp_path / "g.graphml"
    r = tf("graph", "--graphml", out, ws=memory_ws)
    assert r.exit_code == 0 and "communities" in r.output
    g = nx.read_graphml(out)
    assert g.number_of_nodes() == len(d["nodes"]) and g.number_of_edges() == len(d["edges"])


def test_graph_errors_are_one_line(memory_ws, tf, tmp_path):
    r = tf("graph", "--graphml", tmp_path / "missing" / "g.graphml", ws=memory_ws)
    assert r.exit_code == 1 and r.output.startswith("error:") and len(r.output.strip().splitlines()) == 1
    r = tf("graph", ws=tmp_path / "nowhere")
    assert r.exit_code == 1 and r.output.startswith("error:")
