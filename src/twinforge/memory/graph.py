"""The concept graph (KAG): concepts named by modules, the modules naming them, and which concepts go together.

Nodes: every concept (normalised: lowercase, `ё`→`е`, each word lemmatised with simplemma — Russian for Cyrillic
words, English for Latin ones — so "Гиперфразы" and "гиперфраза" are one node) and every module. Edges:
concept–module (the module names the concept) and concept–concept with weight = the number of modules naming
both. Communities: greedy modularity over the weighted concept–concept graph (networkx), computed at build time
and stored, so they stay put between searches.

Query expansion: the concepts whose stems all occur in the query, their heaviest co-occurring neighbours, and the
modules naming any of them, ranked by how strongly they connect — a third ranking for the fusion.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from pathlib import Path

import networkx as nx

from ..distill.schema import Module
from ..errors import TwinforgeError
from ..store import Store, memory_reads
from ..text.stemming import stems

_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*", re.UNICODE)
_CYR = re.compile(r"[а-яё]")
MAX_CONCEPT_WORDS = 6  # longer "concepts" are sentences an extractive backend mistook for concepts


@lru_cache(maxsize=50_000)
def _lemma(word: str) -> str:
    import simplemma

    try:
        return simplemma.lemmatize(word, lang="ru" if _CYR.search(word) else "en").lower()
    except ValueError:
        return word


def normalize_concept(label: str) -> str:
    """'Гиперфразы ' → 'гиперфраза'; '' when nothing is left."""
    ws = _WORD.findall(label.lower().replace("ё", "е"))
    if not ws or len(ws) > MAX_CONCEPT_WORDS:
        return ""
    return " ".join(_lemma(w) for w in ws)


def module_concepts(m: Module) -> dict[str, str]:
    """{normalised concept: label as written}, in the module's order."""
    out: dict[str, str] = {}
    for label in m.concepts:
        c = normalize_concept(label)
        if c and c not in out:
            out[c] = label.strip()
    return out


def write_concepts(store: Store) -> int:
    """Refill memory_concepts from the modules table (cheap: no model); the number of distinct concepts. Call
    inside a transaction."""
    records = store.module_records()
    store.db.execute("DELETE FROM memory_concepts")
    data = []
    for r in records:
        m = Module.model_validate(r.data)
        data += [(r.id, c, label) for c, label in module_concepts(m).items()]
    store.db.executemany("INSERT INTO memory_concepts (module_id, concept, label) VALUES (?, ?, ?)", data)
    return len({c for _, c, _ in data})


def concept_graph(store: Store) -> nx.Graph:
    """Concept and module nodes, concept–module and weighted concept–concept edges."""
    g = nx.Graph()
    by_module: dict[str, list[str]] = defaultdict(list)
    labels: dict[str, str] = {}
    for r in store.db.execute("SELECT module_id, concept, label FROM memory_concepts ORDER BY module_id, rowid"):
        by_module[r[0]].append(r[1])
        labels.setdefault(r[1], r[2])
    communities = dict(store.db.execute("SELECT concept, community FROM memory_communities").fetchall())
    titles = {r.id: r.title for r in store.module_records()}
    mentions = Counter(c for cs in by_module.values() for c in cs)
    for c, n in mentions.items():
        g.add_node(c, type="concept", label=labels[c], modules=n, community=communities.get(c, -1))
    for mid, cs in by_module.items():
        g.add_node(f"module:{mid}", type="module", label=titles.get(mid, ""), community=-1)
        for c in cs:
            g.add_edge(c, f"module:{mid}", kind="names", weight=1)
        for a, b in combinations(sorted(set(cs)), 2):
            if g.has_edge(a, b):
                g[a][b]["weight"] += 1
            else:
                g.add_edge(a, b, kind="co-occurs", weight=1)
    return g


def cooccurrence(g: nx.Graph) -> nx.Graph:
    concepts = [n for n, d in g.nodes(data=True) if d["type"] == "concept"]
    sub = nx.Graph()
    sub.add_nodes_from(concepts)
    sub.add_edges_from((a, b, d) for a, b, d in g.edges(data=True) if d["kind"] == "co-occurs")
    return sub


def compute_communities(store: Store) -> int:
    """Greedy-modularity communities of the concept co-occurrence graph → memory_communities. Community ids are
    numbered largest first (ties by their smallest concept), so they are stable for the same graph."""
    sub = cooccurrence(concept_graph(store))
    store.db.execute("DELETE FROM memory_communities")
    if not sub.number_of_nodes():
        return 0
    if sub.number_of_edges():
        groups = [set(c) for c in nx.community.greedy_modularity_communities(sub, weight="weight")]
    else:
        groups = [{n} for n in sub.nodes]
    groups.sort(key=lambda s: (-len(s), min(s)))
    store.db.executemany("INSERT INTO memory_communities (concept, community) VALUES (?, ?)",
                         [(c, i) for i, grp in enumerate(groups) for c in grp])
    return len(groups)


# --- expansion at search time ---------------------------------------------------------------------------------


@dataclass
class Expansion:
    concepts: list[str] = field(default_factory=list)  # concepts named in the query
    neighbours: list[str] = field(default_factory=list)  # their strongest co-occurring concepts
    modules: list[str] = field(default_factory=list)  # module ids naming any of them, strongest first
    terms: list[str] = field(default_factory=list)  # stems of the neighbours, for BM25


_cache: dict[str, tuple[str, nx.Graph, dict[str, frozenset[str]]]] = {}
_lock = threading.Lock()


def _cached_graph(store: Store) -> tuple[nx.Graph, dict[str, frozenset[str]]]:
    key = str(store.path.resolve())
    gen = memory_reads.generation(store.db)
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == gen:
            return hit[1], hit[2]
        g = concept_graph(store)
        concept_stems = {n: frozenset(stems(n)) for n, d in g.nodes(data=True) if d["type"] == "concept"}
        _cache[key] = (gen, g, concept_stems)
        return g, concept_stems


def expand(store: Store, query: str, neighbours: int = 5) -> Expansion:
    g, concept_stems = _cached_graph(store)
    q = set(stems(query))
    matched = [c for c, s in concept_stems.items() if s and s <= q]
    if not matched:
        return Expansion()
    near: Counter[str] = Counter()
    for c in matched:
        for nb, d in g[c].items():
            if d["kind"] == "co-occurs" and nb not in matched:
                near[nb] += d["weight"]
    top = [c for c, _ in near.most_common(neighbours)]
    strength: Counter[str] = Counter()
    for c in matched:
        for nb, d in g[c].items():
            if d["kind"] == "names":
                strength[nb] += 2  # naming a query concept counts more than naming a neighbour
    for c in top:
        for nb, d in g[c].items():
            if d["kind"] == "names":
                strength[nb] += 1
    modules = [m.removeprefix("module:") for m, _ in sorted(strength.items(), key=lambda kv: (-kv[1], kv[0]))]
    terms = list(dict.fromkeys(t for c in top for t in concept_stems[c]))
    return Expansion(sorted(matched), top, modules, terms)


# --- export ---------------------------------------------------------------------------------------------------


def graph_json(store: Store) -> dict:
    g = concept_graph(store)
    nodes = [{"id": n, **d} for n, d in g.nodes(data=True)]
    edges = [{"source": a, "target": b, **d} for a, b, d in g.edges(data=True)]
    groups: dict[int, list[str]] = defaultdict(list)
    for n, d in g.nodes(data=True):
        if d["type"] == "concept":
            groups[d["community"]].append(n)
    communities = [{"id": cid, "size": len(cs), "concepts": sorted(cs, key=lambda c: (-g.nodes[c]["modules"], c))}
                   for cid, cs in sorted(groups.items())]
    concepts = sum(1 for n in nodes if n["type"] == "concept")
    stats = {"concepts": concepts, "modules": len(nodes) - concepts, "edges": len(edges),
             "communities": len(communities)}
    return {"stats": stats, "communities": communities, "nodes": nodes, "edges": edges}


def write_graphml(store: Store, path: str | Path) -> Path:
    """The graph as GraphML (Gephi, yEd, Cytoscape), written to a temporary file then renamed."""
    path = Path(path)
    if path.is_dir():
        raise TwinforgeError(f"{path} is a folder", "give a file path, e.g. graph.graphml")
    if not path.parent.exists():
        raise TwinforgeError(f"folder {path.parent} does not exist", "create it first or pick another path")
    tmp = path.with_name(f".{path.name}.tmp")
    nx.write_graphml(concept_graph(store), tmp)
    tmp.replace(path)
    return path
