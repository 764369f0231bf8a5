"""Distill benchmark: our `openai` backend's distill against the raw throughput of the same server.

    .venv/bin/python bench/distill.py                  # 4 sample dialogs, 2 in flight, 3 rounds (~6-10 min on 2 cores)
    .venv/bin/python bench/distill.py --n 8 --concurrency 4 --max-tokens 384

Starts `python -m llama_cpp.server --model <embedded GGUF> --n_ctx 4096` on a free localhost port (a child, as
bench/child.py's measured processes are; its log goes to bench/out/distill-server.log). The sample archive
(examples/sample-archive) is ingested and cleaned into bench/out/ws-distill (each in a child, with wall time and
peak RSS), then, over the first N dialogs clean kept, R rounds (default 3) of raw and ours, alternating which goes
first so that drift in the machine's load hits both alike, pooled at the end, and one cached re-run:

  ours     twinforge.distill.run.distill with the `openai` backend (render, chunk, call, repair, retry, merge,
           store, md/yaml export): output tokens / wall
  raw      (first) the same requests (the very messages and response_format the backend sends, rendered by the same
           code), POSTed with httpx at the same concurrency: output tokens / wall
  rerun    `distill --force` of the same dialogs again: every answer comes from the call cache, no server call

and prints ours/raw (target ≥ 0.9). Temperature 0 and a fixed seed, so both see the same answers. Results go to
bench/out/distill-results.json. This is a benchmark, not a test.

llama-cpp-python's server has no parallel slots (its --help lists no --parallel / --n_parallel: it runs one
completion at a time behind a lock), so "several slots" is not available with it: concurrency > 1 only queues
requests at the server. llama.cpp's own `llama-server --parallel N`, vLLM or SGLang give real slots; pass
--base-url to bench one of those instead of the embedded server.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
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


def prepare(ws: Path) -> list[dict]:
    """The sample archive ingested and cleaned into a fresh workspace, each step a measured child."""
    shutil.rmtree(ws, ignore_errors=True)
    tf = [sys.executable, "-m", "twinforge"] if not (ROOT / ".venv/bin/twinforge").exists() \
        else [str(ROOT / ".venv/bin/twinforge")]
    steps = [run_child("ingest", [*tf, "-w", str(ws), "ingest", str(SAMPLE)]),
             run_child("clean", [*tf, "-w", str(ws), "clean"])]
    if any(s["rc"] for s in steps):
        raise SystemExit("preparing the workspace failed")
    return steps


def _pooled(runs: list[dict]) -> dict:
    wall = sum(r["wall_s"] for r in runs)
    tokens = sum(r["output_tokens"] for r in runs)
    return {"wall_s": round(wall, 2), "output_tokens": tokens, "calls": sum(r["calls"] for r in runs),
            "output_tok_s": round(tokens / wall, 2) if wall else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4, help="dialogs to distill (default 4)")
    ap.add_argument("--concurrency", type=int, default=2, help="requests in flight, ours and raw (default 2)")
    ap.add_argument("--max-tokens", type=int, default=256, help="answer tokens per call (default 256)")
    ap.add_argument("--ctx", type=int, default=4096, help="server context (default 4096)")
    ap.add_argument("--rounds", type=int, default=3, help="raw/ours rounds, alternating which goes first (default 3)")
    ap.add_argument("--base-url", help="bench this OpenAI-compatible server instead of starting llama_cpp.server")
    ap.add_argument("--model", help="model name on --base-url (default: the server's first)")
    args = ap.parse_args()
    # a `timeout` or kill must still stop the server this starts (finally runs on SystemExit, not on a bare SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    from twinforge.backends import get_backend
    from twinforge.backends.base import Request
    from twinforge.config import BackendConfig, DistillConfig
    from twinforge.distill.render import PromptStrategy
    from twinforge.distill.run import _jobs, distill, load_dialogs
    from twinforge.store import Store

    OUT.mkdir(parents=True, exist_ok=True)
    ws = OUT / "ws-distill"
    results: dict = {"n": args.n, "concurrency": args.concurrency, "max_tokens": args.max_tokens, "ctx": args.ctx}
    t0 = time.perf_counter()
    results["prepare"] = prepare(ws)
    proc = None
    if args.base_url:
        url = args.base_url.rstrip("/")
        results["server"] = {"base_url": url, "parallel_slots": None}
    else:
        proc, url = start_server(args.ctx, OUT / "distill-server.log")
        results["server"] = {"base_url": url, "kind": "llama_cpp.server (llama-cpp-python)", "parallel_slots": 1,
                             "note": "llama-cpp-python's server has no --parallel option: one completion at a time",
                             "start_s": round(time.perf_counter() - t0, 1)}
    try:
        bcfg = BackendConfig(name="openai", base_urls=[url], model=args.model, concurrency=args.concurrency,
                             max_tokens=args.max_tokens, temperature=0.0, seed=0, timeout=600, retries=1)
        cfg = DistillConfig(backend=bcfg, chunk_chars=4000, overlap_chars=400, limit=args.n)
        backend = get_backend(bcfg)
        # warm-up (model in memory, and which response_format rung this server takes)
        probe = backend.complete(Request([{"role": "user", "content": "Say hi as JSON."}],
                                         json_schema={"type": "object", "properties": {"hi": {"type": "string"}},
                                                      "required": ["hi"]}, max_tokens=16))
        mode = probe.meta.get("response_format", "json_schema")
        results["response_format"] = mode
        results["model"] = backend.model

        with Store(ws) as store:
            dialogs = load_dialogs(store, cfg)[: args.n]
            strategy = PromptStrategy()
            requests = [j.request for d in dialogs for j in _jobs(d, cfg, strategy)]
        print(f"server {url} ({backend.model}, response_format {mode}); {len(dialogs)} dialogs, "
              f"{len(requests)} requests, concurrency {args.concurrency}, max_tokens {args.max_tokens}, "
              f"{args.rounds} rounds (raw and ours alternate which goes first)")
        bodies = [backend._body(backend.model, r, mode) for r in requests]

        def run_raw() -> dict:
            """The same first-pass requests, same bodies, same concurrency, POSTed directly."""
            client = httpx.Client(timeout=600)

            def post(body: dict) -> dict:
                r = client.post(f"{url}/chat/completions", json=body)
                r.raise_for_status()
                return r.json().get("usage") or {}

            t = time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool:
                usages = list(pool.map(post, bodies))
            wall = time.perf_counter() - t
            client.close()
            tokens = sum(u.get("completion_tokens") or 0 for u in usages)
            return {"wall_s": round(wall, 2), "calls": len(bodies), "output_tokens": tokens,
                    "prompt_tokens": sum(u.get("prompt_tokens") or 0 for u in usages),
                    "output_tok_s": round(tokens / wall, 2)}

        def run_ours(i: int) -> dict:
            """The whole stage on a fresh copy of the cleaned workspace (empty call cache)."""
            ws_i = OUT / f"ws-distill-round{i}"
            shutil.rmtree(ws_i, ignore_errors=True)
            shutil.copytree(ws, ws_i)
            with Store(ws_i) as store:
                t = time.perf_counter()
                report = distill(store, cfg, backend=backend)
                wall = time.perf_counter() - t
            return {"wall_s": round(wall, 2), "calls": report.calls, "retries": report.retries,
                    "distilled": report.distilled, "failed": report.failed, "prompt_tokens": report.prompt_tokens,
                    "output_tokens": report.output_tokens, "output_tok_s": round(report.output_tokens / wall, 2),
                    "workspace": str(ws_i)}

        rounds = []
        for i in range(args.rounds):
            order = ("raw", "ours") if i % 2 == 0 else ("ours", "raw")
            r = {}
            for which in order:
                r[which] = run_raw() if which == "raw" else run_ours(i)
            r["ratio"] = round(r["ours"]["output_tok_s"] / r["raw"]["output_tok_s"], 3)
            rounds.append(r)
            print(f"  round {i + 1}: raw {r['raw']['output_tok_s']:6.2f} tok/s ({r['raw']['wall_s']:.1f} s), "
                  f"ours {r['ours']['output_tok_s']:6.2f} tok/s ({r['ours']['wall_s']:.1f} s, "
                  f"{r['ours']['calls']} calls, {r['ours']['retries']} retries, {r['ours']['failed']} failed) "
                  f"→ {r['ratio']:.3f}")
        raw = _pooled([r["raw"] for r in rounds])
        ours = _pooled([r["ours"] for r in rounds])

        # re-run of the last round's dialogs (--force: redone, every answer from the call cache, no server call)
        with Store(rounds[-1]["ours"]["workspace"]) as store:
            t = time.perf_counter()
            forced = distill(store, cfg, backend=backend, force=True)
            forced_s = time.perf_counter() - t
        backend.close()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    ratio = ours["output_tok_s"] / raw["output_tok_s"] if raw["output_tok_s"] else None
    ratios = sorted(r["ratio"] for r in rounds)
    # greedy answers still differ a little between runs (llama.cpp reuses a prompt prefix's KV cache): the same
    # requests' wall times compare the work too, at unequal output lengths
    wall_ratio = raw["wall_s"] / ours["wall_s"] if ours["wall_s"] else None
    results |= {"rounds": rounds, "ours": ours, "raw": raw, "ratio": round(ratio, 3) if ratio else None,
                "ratio_median_of_rounds": ratios[len(ratios) // 2], "target": 0.9,
                "wall_ratio_raw_over_ours": round(wall_ratio, 3) if wall_ratio else None,
                "rerun_cached": {"wall_s": round(forced_s, 3), "calls": forced.calls, "cache_hits": forced.cache_hits,
                                 "distilled": forced.distilled},
                "total_s": round(time.perf_counter() - t0, 1)}
    print(f"  pooled over {len(rounds)} rounds: ours/raw = {ratio:.3f} output tok/s (median of rounds "
          f"{ratios[len(ratios) // 2]:.3f}; target ≥ 0.9); raw wall / ours wall = {wall_ratio:.3f}"
          if ratio else "  ratio: no raw tokens")
    print(f"  re-run --force of the same dialogs: {forced_s:.2f} s ({forced.cache_hits} cache hits, "
          f"{forced.calls} calls)")
    (OUT / "distill-results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"results: {OUT / 'distill-results.json'} (total {results['total_s']} s)")


if __name__ == "__main__":
    main()
