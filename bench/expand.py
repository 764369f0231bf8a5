"""Expand benchmark: our `openai` backend generating over several servers against the same servers driven directly.

    .venv/bin/python bench/expand.py                      # 2 embedded llama_cpp.server, 8 requests, 3 rounds
    .venv/bin/python bench/expand.py --n 4 --max-tokens 32 --prompt-chars 600 --rounds 2   # a short run
    .venv/bin/python bench/expand.py --fake-delay 0.2 --per-url 16 --n 256   # client side alone (stand-in servers)
    .venv/bin/python bench/expand.py --base-url http://gpu1:8000/v1 --base-url http://gpu2:8000/v1 --per-url 32

Starts `--servers` llama-cpp-python servers on the embedded GGUF (one thread each, logs in bench/out/) unless
--base-url names servers (vLLM, SGLang, `llama-server --parallel N`). The requests are generated-view requests:
one per module of the sample archive (ingested, cleaned, distilled with the extractive backend, into
bench/out/ws-expand), the module's JSON and an instruction to write a new question and answer it in the person's
voice — the shape of expand's model-written views. R rounds (default 3) alternate which side goes first:

  ours   the same requests through twinforge's backend behind the call cache (CachedBackend, as expand's
         generation calls it, each round a fresh workspace so nothing is cached): least-loaded dispatch over every
         URL, `--per-url` requests in flight on each, answers written to llm_calls
  raw    the same bodies POSTed with httpx, `--per-url` × servers threads, URL i % servers for request i
         (perfect round-robin, no retries, nothing stored)

and prints each round, the median and spread of ours/raw (answer tokens per second), and the pooled ratio
(target ≥ 0.9). Temperature 0 and a fixed seed. Results in bench/out/expand-results.json. Not a test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
SAMPLE = ROOT / "examples" / "sample-archive"

sys.path.insert(0, str(HERE))
from child import run_child  # bench/child.py: a measured child process
from llama_server import (
    start_server,  # bench/llama_server.py: the embedded model served
)


def start_fake(delay: float, tokens: int) -> tuple[object, str]:
    """A stdlib OpenAI-compatible stand-in that answers every request after `delay` seconds with `tokens` answer
    tokens and serves any number at once: what is left to compare is the client side alone."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(delay)
            data = json.dumps({"model": "fake", "choices": [{"message": {"content": "x " * tokens},
                                                             "finish_reason": "length"}],
                               "usage": {"prompt_tokens": 100, "completion_tokens": tokens}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/v1"


def prepare(ws: Path) -> list[dict]:
    """The sample archive ingested, cleaned and distilled (extractive) into a fresh workspace, each step a child."""
    shutil.rmtree(ws, ignore_errors=True)
    tf = [sys.executable, "-m", "twinforge"]
    steps = [run_child(name, [*tf, "-w", str(ws), *args])
             for name, args in (("ingest", ["ingest", str(SAMPLE)]), ("clean", ["clean"]), ("distill", ["distill"]))]
    if any(s["rc"] for s in steps):
        raise SystemExit("preparing the workspace failed")
    return steps


def requests_of(ws: Path, n: int, max_tokens: int, prompt_chars: int) -> list:
    from twinforge.backends.base import Request
    from twinforge.store import Store

    with Store(ws) as store:
        rows = store.db.execute("SELECT json FROM modules ORDER BY id").fetchall()
    out = []
    for i in range(n):
        module = rows[i % len(rows)][0][:prompt_chars]
        out.append(Request([{"role": "user", "content": f"Here is a thinking module of one person:\n{module}\n\n"
                             f"Write new question number {i + 1} this person might ask about it, and answer it in "
                             "their voice."}], max_tokens=max_tokens, temperature=0.0))
    return out


def main() -> None:  # noqa: PLR0915  (a benchmark script reads top to bottom)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=8, help="requests per round (default 8)")
    ap.add_argument("--servers", type=int, default=2, help="embedded servers to start (default 2)")
    ap.add_argument("--base-url", action="append", default=[], help="bench these servers instead (repeatable)")
    ap.add_argument("--model", help="model name on --base-url (default: the server's first)")
    ap.add_argument("--per-url", type=int, default=1, help="requests in flight per server, ours and raw (default 1: "
                    "llama-cpp-python's server runs one completion at a time)")
    ap.add_argument("--max-tokens", type=int, default=64, help="answer tokens per request (default 64)")
    ap.add_argument("--prompt-chars", type=int, default=2500, help="characters of module JSON per prompt "
                    "(default 2500, ~800 tokens)")
    ap.add_argument("--ctx", type=int, default=2048, help="server context (default 2048)")
    ap.add_argument("--fake-delay", type=float, help="bench against --servers in-process stand-ins that answer "
                    "after this many seconds (the client side alone: dispatch, call cache), not llama.cpp")
    ap.add_argument("--rounds", type=int, default=3, help="raw/ours rounds, alternating which goes first")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from twinforge.backends import get_backend
    from twinforge.backends.cache import CachedBackend
    from twinforge.config import BackendConfig
    from twinforge.store import Store

    OUT.mkdir(parents=True, exist_ok=True)
    ws = OUT / "ws-expand"
    t0 = time.perf_counter()
    results: dict = {"n": args.n, "per_url": args.per_url, "max_tokens": args.max_tokens, "prepare": prepare(ws)}
    procs = []
    try:
        if args.base_url:
            urls = [u.rstrip("/") for u in args.base_url]
            results["servers"] = {"base_urls": urls, "kind": "given"}
        elif args.fake_delay is not None:
            fakes = [start_fake(args.fake_delay, args.max_tokens) for _ in range(args.servers)]
            urls = [u for _, u in fakes]
            results["servers"] = {"base_urls": urls, "kind": f"in-process stand-ins, {args.fake_delay} s a request"}
        else:
            started = [start_server(args.ctx, OUT / f"expand-server{i}.log", threads=1) for i in range(args.servers)]
            procs = [p for p, _ in started]
            urls = [u for _, u in started]
            results["servers"] = {"base_urls": urls, "kind": "llama_cpp.server (llama-cpp-python), 1 thread, 1 slot "
                                  "each", "start_s": round(time.perf_counter() - t0, 1)}
        bcfg = BackendConfig(name="openai", base_urls=urls, model=args.model, per_url_concurrency=args.per_url,
                             max_tokens=args.max_tokens, temperature=0.0, seed=0, timeout=600, retries=1)
        backend = get_backend(bcfg)
        requests = requests_of(ws, args.n, args.max_tokens, args.prompt_chars)
        bodies = [backend._body(backend.model, r, None) for r in requests]
        for url in urls:  # warm-up: model in memory on every server
            httpx.post(f"{url}/chat/completions", json=bodies[0] | {"max_tokens": 4}, timeout=600)
        print(f"{len(urls)} server(s) {urls} ({backend.model}); {len(requests)} requests, {args.per_url} per "
              f"server in flight, max_tokens {args.max_tokens}, {args.rounds} rounds", flush=True)

        def run_raw() -> dict:
            client = httpx.Client(timeout=600)

            def post(i: int) -> dict:
                r = client.post(f"{urls[i % len(urls)]}/chat/completions", json=bodies[i])
                r.raise_for_status()
                return r.json().get("usage") or {}

            t = time.perf_counter()
            with ThreadPoolExecutor(args.per_url * len(urls)) as pool:
                usages = list(pool.map(post, range(len(bodies))))
            wall = time.perf_counter() - t
            client.close()
            tokens = sum(u.get("completion_tokens") or 0 for u in usages)
            return {"wall_s": round(wall, 2), "output_tokens": tokens, "output_tok_s": round(tokens / wall, 2)}

        def run_ours(i: int) -> dict:
            ws_i = OUT / f"ws-expand-round{i}"
            shutil.rmtree(ws_i, ignore_errors=True)
            shutil.copytree(ws, ws_i)
            with Store(ws_i) as store:
                cached = CachedBackend(store, backend, "bench-expand.v1")
                t = time.perf_counter()
                answers = cached.complete_many(requests)
                wall = time.perf_counter() - t
            failed = sum(a.text is None for a in answers)
            return {"wall_s": round(wall, 2), "output_tokens": cached.completion_tokens, "failed": failed,
                    "output_tok_s": round(cached.completion_tokens / wall, 2)}

        rounds = []
        for i in range(args.rounds):
            order = ("raw", "ours") if i % 2 == 0 else ("ours", "raw")
            r = {w: (run_raw() if w == "raw" else run_ours(i)) for w in order}
            r["ratio"] = round(r["ours"]["output_tok_s"] / r["raw"]["output_tok_s"], 3)
            rounds.append(r)
            print(f"  round {i + 1}: raw {r['raw']['output_tok_s']:7.2f} tok/s ({r['raw']['wall_s']:.1f} s), ours "
                  f"{r['ours']['output_tok_s']:7.2f} tok/s ({r['ours']['wall_s']:.1f} s, {r['ours']['failed']} "
                  f"failed) → {r['ratio']:.3f}", flush=True)
        backend.close()
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    ratios = [r["ratio"] for r in rounds]
    raw_tokens = sum(r["raw"]["output_tokens"] for r in rounds)
    ours_tokens = sum(r["ours"]["output_tokens"] for r in rounds)
    raw_wall = sum(r["raw"]["wall_s"] for r in rounds)
    ours_wall = sum(r["ours"]["wall_s"] for r in rounds)
    pooled = (ours_tokens / ours_wall) / (raw_tokens / raw_wall) if raw_tokens and ours_wall else None
    results |= {"rounds": rounds, "ratio_median": statistics.median(ratios),
                "ratio_spread": [min(ratios), max(ratios)], "ratio_pooled": round(pooled, 3) if pooled else None,
                "raw_tok_s_median": statistics.median(r["raw"]["output_tok_s"] for r in rounds),
                "ours_tok_s_median": statistics.median(r["ours"]["output_tok_s"] for r in rounds),
                "target": 0.9, "total_s": round(time.perf_counter() - t0, 1)}
    print(f"  ours/raw: median {results['ratio_median']:.3f} (spread {min(ratios):.3f}–{max(ratios):.3f}), pooled "
          f"{results['ratio_pooled']}; target ≥ 0.9")
    (OUT / "expand-results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"results: {OUT / 'expand-results.json'} (total {results['total_s']} s)")


if __name__ == "__main__":
    main()
