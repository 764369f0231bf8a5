"""Memory benchmark: index N synthetic items (default 50,000), then time queries in each retrieval mode.

Generates a workspace in bench/out/ws-memory-<n>-seed<seed>/ (deterministic for --seed; rebuilt each run unless
--keep-ws) holding N kept canonical messages — 60% Russian, 40% English, 20–60 words each from the topic
vocabulary of bench/ingest.py, in 1,000-message conversations — and runs `build_memory` on it: the full build,
then a re-run with nothing changed (must embed nothing). Then --queries questions (half Russian, half English:
6 words sampled from a random item, shuffled, so each has a known source) through `search` in bm25, dense and
hybrid mode, after one warm-up query each (the first dense query loads the vector matrix: reported apart).
Reports build time, p50/p95/max latency per mode and recall@5 of the known source. Results go to
bench/out/memory-results.json. This is a benchmark, not a test. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

from ingest import EN_WORDS, RU_WORDS  # noqa: E402  (bench/ingest.py's topic vocabulary)

from twinforge.memory.build import build_memory  # noqa: E402
from twinforge.memory.config import MemoryConfig  # noqa: E402
from twinforge.memory.search import search  # noqa: E402
from twinforge.store import Store  # noqa: E402

RU = list(RU_WORDS)
EN = list(EN_WORDS)
RU_GLUE = "и в на не что это как но если то для".split()
EN_GLUE = "the a of to and in is that for it with as".split()


def sentence(rng: random.Random, ru: bool) -> str:
    words, glue = (RU, RU_GLUE) if ru else (EN, EN_GLUE)
    n = rng.randint(20, 60)
    out = [rng.choice(words) if rng.random() < 0.7 else rng.choice(glue) for _ in range(n)]
    return " ".join(out).capitalize() + "."


def populate(store: Store, n: int, seed: int) -> list[tuple[str, str, bool]]:
    """N kept canonical messages; returns (message id, text, russian) per message."""
    rng = random.Random(seed)
    msgs = []
    per_conv = 1000
    with store.transaction() as db:
        db.execute("INSERT INTO sources (id, path, sha256, format, size, imported_at) VALUES"
                   " (1, 'bench', 'bench', 'bench', 0, 'now')")
        for c in range((n + per_conv - 1) // per_conv):
            cid = f"bench-{c:05d}"
            db.execute("INSERT INTO conversations (id, source_id, provider, title, created_at, content_hash,"
                       " message_count) VALUES (?, 1, 'bench', ?, ?, 'x', ?)",
                       (cid, f"Беседа {c}" if c % 2 else f"Conversation {c}", 1.7e9 + c * 3600, per_conv))
            rows_m, rows_k = [], []
            for p in range(min(per_conv, n - c * per_conv)):
                ru = rng.random() < 0.6
                text = sentence(rng, ru)
                mid = f"{cid}-{p:04d}"
                msgs.append((mid, text, ru))
                role = "user" if p % 2 == 0 else "assistant"
                rows_m.append((mid, cid, p, mid, role, "text", text, 1.7e9 + c * 3600 + p, len(text)))
                rows_k.append((mid, cid, "ru" if ru else "en", text, len(text)))
            db.executemany("INSERT INTO messages (id, conversation_id, position, uid, role, kind, text, created_at,"
                           " canonical, chars) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)", rows_m)
            db.executemany("INSERT INTO clean_messages (message_id, conversation_id, keep, reason, language, text,"
                           " chars) VALUES (?, ?, 1, 'kept', ?, ?, ?)", rows_k)
    return msgs


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--embedder", choices=["use", "e5"], default="use")
    ap.add_argument("--keep-ws", action="store_true", help="reuse the workspace (and its index) if it exists")
    ap.add_argument("--fake-vectors", action="store_true", help="index seeded random unit vectors instead of "
                    "embedding every item (queries are still embedded for real): times the index and the search "
                    "on a busy machine; dense recall is then meaningless")
    args = ap.parse_args()

    ws = OUT / f"ws-memory-{args.items}-seed{args.seed}"
    fresh = not (args.keep_ws and (ws / "twin.db").exists())
    if fresh:
        shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True, exist_ok=True)
    cfg = MemoryConfig(embedder=args.embedder)
    if args.fake_vectors:
        import numpy as np

        from twinforge.memory.dense import get_embedder

        emb = get_embedder(args.embedder)
        vrng = np.random.default_rng(args.seed)

        def fake(texts):
            v = vrng.normal(size=(len(texts), emb.dim)).astype(np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)

        emb.passages = fake
    with Store(ws) as store:
        t = time.perf_counter()
        msgs = populate(store, args.items, args.seed) if fresh else [
            (r[0], r[1], r[2] == "ru") for r in store.db.execute(
                "SELECT message_id, text, language FROM clean_messages ORDER BY message_id")]
        gen_s = time.perf_counter() - t
        t = time.perf_counter()
        first = build_memory(store, cfg, progress=True)
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        again = build_memory(store, cfg)
        rebuild_s = time.perf_counter() - t
        assert again.embedded == 0, "a re-run with nothing changed embedded something"

        rng = random.Random(args.seed + 1)
        ru_msgs = [m for m in msgs if m[2]]
        en_msgs = [m for m in msgs if not m[2]]
        queries = []
        for i in range(args.queries):
            mid, text, _ = rng.choice(ru_msgs if i % 2 == 0 else en_msgs)
            words = [w.strip(".") for w in text.split() if len(w) > 3]
            queries.append((mid, " ".join(rng.sample(words, min(6, len(words))))))
        results = {}
        for mode in ("bm25", "dense", "hybrid"):
            t = time.perf_counter()
            search(store, "warm-up query модель", k=5, mode=mode)
            warm_ms = (time.perf_counter() - t) * 1000
            lat, hits = [], 0
            for mid, q in queries:
                t = time.perf_counter()
                found = search(store, q, k=5, mode=mode)
                lat.append((time.perf_counter() - t) * 1000)
                hits += mid in [h.message_id for h in found]
            results[mode] = {"p50_ms": round(pct(lat, 50), 2), "p95_ms": round(pct(lat, 95), 2),
                             "max_ms": round(max(lat), 2), "mean_ms": round(statistics.mean(lat), 2),
                             "first_query_ms": round(warm_ms, 1), "recall@5": round(hits / len(queries), 3)}
    db_mb = (ws / "twin.db").stat().st_size / 2**20
    report = {
        "items": first.items, "embedder": args.embedder, "fake_vectors": args.fake_vectors,
        "queries": args.queries, "seed": args.seed,
        "generate_s": round(gen_s, 1), "build_s": round(build_s, 1), "embedded": first.embedded,
        "rebuild_noop_s": round(rebuild_s, 2), "db_mb": round(db_mb, 1), "modes": results,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    (OUT / "memory-results.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"\n{first.items:,} items ({args.embedder}): build {build_s:.1f} s ({first.items / build_s:.0f} items/s),"
          f" no-op rebuild {rebuild_s:.2f} s, twin.db {db_mb:.0f} MiB")
    print("| mode | p50 ms | p95 ms | max ms | first query ms | recall@5 |\n|---|---:|---:|---:|---:|---:|")
    for mode, r in results.items():
        print(f"| {mode} | {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | {r['first_query_ms']} | {r['recall@5']} |")


if __name__ == "__main__":
    main()
