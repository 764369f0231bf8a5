"""`eval compare A B`: per model (matched by name) and metric, what got better or worse from run A to run B,
and which failures appeared or went away."""

from __future__ import annotations

from .report import metric_names, verdict


def compare(a: dict, b: dict) -> dict:
    rows = []
    models = [m["name"] for m in b["models"] if m["name"] in a["metrics"]]
    for model in models:
        ma, mb = a["metrics"].get(model, {}), b["metrics"].get(model, {})
        for k in metric_names({"a": ma, "b": mb}):
            va, vb = ma.get(k), mb.get(k)
            if not isinstance(va, (int, float)) or not isinstance(vb, (int, float)):
                continue
            d = vb - va
            rows.append({"model": model, "metric": k, "a": va, "b": vb, "delta": d,
                         "relative": d / abs(va) if va else None,
                         "verdict": verdict(k, d) or ("same" if d == 0 else "changed")})
    fa = {(f["model"], f["kind"]) for f in a["failures"]}
    fb = {(f["model"], f["kind"]) for f in b["failures"]}
    return {
        "a": a["id"], "b": b["id"], "models": models,
        "only_in_a": sorted({m["name"] for m in a["models"]} - {m["name"] for m in b["models"]}),
        "only_in_b": sorted({m["name"] for m in b["models"]} - {m["name"] for m in a["models"]}),
        "rows": rows,
        "better": sum(r["verdict"] == "better" for r in rows), "worse": sum(r["verdict"] == "worse" for r in rows),
        "failures_new": [{"model": m, "kind": k} for m, k in sorted(fb - fa)],
        "failures_gone": [{"model": m, "kind": k} for m, k in sorted(fa - fb)],
    }

