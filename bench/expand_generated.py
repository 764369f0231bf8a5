"""The generated views on a workspace's modules: the gate's pass rate per view, the reasons, and the CPU time.

    PYTHONPATH=src .venv/bin/python bench/expand_generated.py WORKSPACE --modules 2 \
        --views paraphrase,new_question,walkthrough,transfer,depth --per-view 1 --backend llamacpp

WORKSPACE is one `make demo` (or any pipeline) left, with modules and their template examples. It is copied
first (the original is never written), the copy keeps its first `--modules` modules (by id), and expand runs
with the generated views through the backend (the embedded model for llamacpp without --model), each item asked
up to `generated.tries` times while the gate sets it aside. Prints the gate's verdicts per view (per item, after
the retries), the seconds (wall and CPU) the generation took and per kept example, and the unique pages out
(template and generated views) over the pages in of the modules kept;
writes them to bench/out/expand-generated.json. The calls are cached in the copy: point --keep at a folder to
rerun on the same copy for free.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

from twinforge.expand.config import ExpandConfig
from twinforge.expand.run import expand
from twinforge.store import Store
from twinforge.store.example_rejects import rejects

OUT = Path(__file__).resolve().parent.parent / "bench" / "out"


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--modules", type=int, default=2, help="keep the first N modules")
    ap.add_argument("--views", default="paraphrase,new_question,walkthrough,transfer,depth")
    ap.add_argument("--per-view", type=int, default=1)
    ap.add_argument("--tries", type=int, default=3, help="requests at most per item (generated.tries)")
    ap.add_argument("--backend", default="llamacpp")
    ap.add_argument("--model")
    ap.add_argument("--max-tokens", type=int, default=700)
    ap.add_argument("--keep", type=Path, help="work in this folder (reused when it exists)")
    args = ap.parse_args()
    ws = args.keep or Path(tempfile.mkdtemp()) / "ws"
    if not ws.exists():
        shutil.copytree(args.workspace, ws, ignore=shutil.ignore_patterns("adapters", "datasets", "reports"))
    store = Store(ws)
    with store.transaction() as db:
        keep = [r[0] for r in db.execute("SELECT id FROM modules ORDER BY id LIMIT ?", (args.modules,))]
        db.execute(f"DELETE FROM modules WHERE id NOT IN ({','.join('?' * len(keep))})", keep)
        db.execute("DELETE FROM generated_modules")  # gate every module again (a rerun's answers come cached)
    cfg = ExpandConfig(generated={"views": args.views.split(","), "per_view": args.per_view, "tries": args.tries, "backend": {
        "name": args.backend, "model": args.model, "max_tokens": args.max_tokens, "temperature": 0.2}})
    wall, cpu = time.time(), cpu_seconds()
    report = expand(store, cfg)
    wall, cpu = time.time() - wall, cpu_seconds() - cpu
    gen = report.generated
    vol = report.volumes
    kinds = vol.get("kinds", {})
    out = {"modules": len(keep), "seconds": round(wall, 1), "cpu_seconds": round(cpu, 1), "generated": gen,
           "pages_in": vol.get("pages_in"), "kinds": kinds, "total": vol.get("total"),
           "notes": report.notes, "rejects": [{k: r[k] for k in ("module_id", "view", "reason", "detail", "messages")}
                                              for r in rejects(store)]}
    first = dict(store.db.execute("SELECT view, count(*) FROM examples WHERE json_extract(meta, '$.try') = 1"
                                  " GROUP BY view"))
    for view, b in (gen.get("views") or {}).items():
        print(f"{view:<14} kept {b['kept']:>3}  rejected {b['rejected']:>3}  pass rate {b['pass_rate']}"
              f"  (on the first try: {first.get(view, 0)})")
    kept = gen.get("kept") or 0
    print(f"reasons: {gen.get('reasons')}\n{wall:.0f} s wall, {cpu:.0f} CPU-s, {gen.get('calls')} calls "
          f"({gen.get('retries', 0)} retries); {cpu / kept if kept else float('nan'):.0f} CPU-s per kept example")
    for kind, b in kinds.items():
        print(f"{kind:<10} {b['examples']:>4} examples, {b['pages']} pages, unique ×{b['unique_ratio']}")
    total = vol.get("total") or {}
    print(f"{vol.get('pages_in')} pages in → {total.get('unique_pages')} unique pages out "
          f"(×{total.get('unique_ratio')}) over the modules kept")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "expand-generated.json").write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
