"""The report of one eval run: `index.html` (metric table, plots, failure catalogue, per-probe generations side by
side with a word-level diff against the base) and `report.json` (the same run for machines).

Built from the run as a dict (what `EvalRun.as_dict()` and `runs.load_run()` give), so it can be rebuilt from
the store. One self-contained file: plots are PNGs embedded as base64. Every piece of text is escaped — answers
are model output and may contain anything, `<script>` included.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from .diff import changed_share, diff_html
from .metrics import DIRECTION

BASE = "base"
# the order and labels of the metric table
LABELS = {
    "ppl_heldout": "perplexity: held-out turns", "ppl_own": "perplexity: person's held-out messages",
    "ppl_train": "perplexity: training examples", "ppl_control": "perplexity: general-text control",
    "style_similarity": "style similarity", "concept_coverage": "concept coverage", "distinct_1": "distinct-1",
    "distinct_2": "distinct-2", "repetition_rate": "repetition rate", "length_words": "length (words)",
    "language_consistency": "language consistency", "judge_win_rate": "judge: wins vs base",
    "generations_per_second": "generations/s",
}

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}
th{background:#f4f4f4;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.better{color:#0a6d1f}.worse{color:#b3261e}.delta{font-size:85%;display:block}
.banner{padding:.8em 1em;border-radius:6px;margin:1em 0;font-weight:600}
.bad{background:#fde7e7;border:1px solid #b3261e}.good{background:#e6f4ea;border:1px solid #0a6d1f}
.gen{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12.5px;min-width:18em}
ins{background:#d5f5dd;text-decoration:none}del{background:#fbd6d6;color:#7a1b1b}
.probe{border-top:2px solid #999;margin-top:1.5em;padding-top:.5em}.muted{color:#777}
"""


def e(x) -> str:
    return html.escape(str(x))


def fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


def metric_names(metrics: dict[str, dict]) -> list[str]:
    seen = {k for m in metrics.values() for k in m}
    return [k for k in LABELS if k in seen] + sorted(seen - set(LABELS))


def verdict(metric: str, delta: float) -> str:
    d = DIRECTION.get(metric, 0)
    if not d or delta == 0:
        return ""
    return "better" if delta * d > 0 else "worse"


def _metric_table(run: dict) -> str:
    models = [m["name"] for m in run["models"]]
    mx = run["metrics"]
    rows = []
    for k in metric_names(mx):
        cells = [f"<th>{e(LABELS.get(k, k))}</th>"]
        b = mx.get(BASE, {}).get(k)
        for name in models:
            v = mx.get(name, {}).get(k)
            delta = ""
            if name != BASE and isinstance(v, (int, float)) and isinstance(b, (int, float)):
                d = v - b
                delta = f'<span class="delta {verdict(k, d)}">{d:+.3f}</span>'
            cells.append(f'<td class="num">{e(fmt(v))}{delta}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "<tr><th>metric</th>" + "".join(f"<th>{e(n)}</th>" for n in models) + "</tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def plots(run: dict) -> dict[str, str]:
    """name → base64 PNG: perplexities per set, and the answer metrics, per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m["name"] for m in run["models"]]
    mx = run["metrics"]
    out = {}
    groups = {"perplexity": [k for k in metric_names(mx) if k.startswith("ppl_")],
              "answers": [k for k in ("style_similarity", "concept_coverage", "distinct_1", "distinct_2",
                                      "repetition_rate", "language_consistency", "judge_win_rate")
                          if any(mx.get(m, {}).get(k) is not None for m in models)]}
    for name, keys in groups.items():
        if not keys:
            continue
        fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(keys) * max(1, len(models)) ** 0.5 + 2), 3.2))
        width = 0.8 / max(1, len(models))
        for i, model in enumerate(models):
            vals = [mx.get(model, {}).get(k) or 0 for k in keys]
            ax.bar([j + i * width for j in range(len(keys))], vals, width, label=model)
        ax.set_xticks([j + width * (len(models) - 1) / 2 for j in range(len(keys))])
        ax.set_xticklabels([LABELS.get(k, k).replace("perplexity: ", "") for k in keys], rotation=20, ha="right",
                           fontsize=8)
        if name == "perplexity":
            ax.set_yscale("log")
            ax.set_ylabel("perplexity (lower is better)")
        ax.legend(fontsize=7)
        ax.set_title(name)
        out[name] = _png(fig)
        plt.close(fig)
    return out


def _failures(run: dict) -> str:
    if not run["failures"]:
        return '<div class="banner good">No failure mode flagged.</div>'
    rows = []
    for f in run["failures"]:
        ex = "".join(f"<div class=muted>{e(x.get('probe_id'))} [{e(x.get('mode'))}]: {e(x.get('snippet', ''))}"
                     f"{' — ' + e(x['found']) if x.get('found') else ''}</div>" for x in f.get("examples", []))
        rows.append(f"<tr><td>{e(f['kind'])}</td><td>{e(f['model'])}</td><td>{e(f['evidence'])}{ex}</td></tr>")
    return "<table><tr><th>failure</th><th>model</th><th>evidence</th></tr>" + "".join(rows) + "</table>"


def _active(run: dict) -> str:
    dead = [a for a in run["active"] if not a["active"]]
    if dead:
        return "".join(f'<div class="banner bad">INACTIVE: {e(a["model"])} gives exactly the base\'s logits '
                       f'(max |Δlogit| = {a["max_logit_diff"]:.3g}) — the adapter is not doing anything.</div>'
                       for a in dead)
    if not run["active"]:
        return ""
    return ('<div class="banner good">Every adapter is active: ' + e("; ".join(
        f"{a['model']}: max |Δlogit| {a['max_logit_diff']:.3g}, {a['outputs_differ']}/{a['outputs_compared']} "
        "greedy answers differ" for a in run["active"])) + "</div>")


def _scenes(run: dict) -> str:
    """What each scene changed (eval/scenes.py): coverage own vs other scenes, scene items that newly appear in
    the answers (found by the module extractor), and forgetting on the control text."""
    effects = run.get("scenes") or {}
    if not effects:
        return ""
    head = ("<tr><th>model</th><th>scenes</th><th>own-scene coverage (base)</th><th>other scenes (base)</th>"
            "<th>scene items newly in answers</th><th>control perplexity (base)</th></tr>")
    rows, details = [], []
    for model, s in effects.items():
        forgot = ' <span class="worse">forgetting</span>' if s.get("forgetting") else ""
        rows.append(
            f"<tr><td>{e(model)}</td><td>{e(', '.join(s['scenes']))}</td>"
            f"<td class=num>{e(fmt(s['own_coverage']))} ({e(fmt(s['own_coverage_base']))}) · {s['own_probes']} "
            f"probes</td><td class=num>{e(fmt(s['other_coverage']))} ({e(fmt(s['other_coverage_base']))}) · "
            f"{s['other_probes']} probes</td><td class=num>{s['items_new']} of {len(s['items'])}</td>"
            f"<td class=num>{e(fmt(s['control_ppl']))} ({e(fmt(s['control_ppl_base']))}){forgot}</td></tr>")
        items = "".join(
            f"<tr><td>{e(it['scene'])}</td><td>{e(it['kind'])}</td><td>{e(it['item'])}</td>"
            f"<td class=num>{len(it['model'])}</td><td class=num>{len(it['base'])}</td>"
            f"<td>{'<b class=better>new</b>' if it['new'] else ''}</td></tr>" for it in s["items"])
        if items:
            details.append(f"<h3>{e(model)}</h3><table><tr><th>scene</th><th>kind</th><th>item</th>"
                           f"<th>answers with it</th><th>base answers with it</th><th></th></tr>{items}</table>")
    return ("<h2>What each scene changed</h2><p class=muted>Coverage: share of the probe's scene concepts an answer "
            "mentions. An axis, inversion or transition rule counts as in an answer when the module extractor "
            "(the offline distiller) finds one of that kind there sharing at least half its words; <b>new</b>: in "
            "the model's answers, in none of the base's.</p>"
            f"<table>{head}{''.join(rows)}</table>{''.join(details)}")


def _probes(run: dict) -> str:
    models = [m["name"] for m in run["models"]]
    gens: dict[tuple[str, str, str], dict] = {(g["model"], g["probe_id"], g["mode"]): g for g in run["generations"]}
    mode_list = sorted({g["mode"] for g in run["generations"]}, key=lambda m: (m != "greedy", m))
    out = []
    for p in run["probes"]:
        prompt = "\n\n".join(f"[{m['role']}] {m['content']}" for m in p["messages"])
        ref = f"<p><b>the person's answer:</b></p><div class=gen>{e(p['reference'])}</div>" if p.get("reference") else ""
        concepts = f"<p class=muted>concepts: {e(', '.join(p['concepts']))}</p>" if p.get("concepts") else ""
        table = ["<table><tr><th>mode</th>" + "".join(f"<th>{e(n)}</th>" for n in models) + "</tr>"]
        for mode in mode_list:
            base = gens.get((BASE, p["id"], mode), {}).get("text", "")
            cells = [f"<th>{e(mode)}</th>"]
            for n in models:
                g = gens.get((n, p["id"], mode))
                if g is None:
                    cells.append("<td class=muted>—</td>")
                elif n == BASE:
                    cells.append(f"<td class=gen>{e(g['text'])}</td>")
                else:
                    share = changed_share(base, g["text"])
                    cells.append(f"<td class=gen>{diff_html(base, g['text'])}"
                                 f"<div class=muted>{share:.0%} of words new vs base</div></td>")
            table.append("<tr>" + "".join(cells) + "</tr>")
        table.append("</table>")
        out.append(f"<div class=probe><h3>{e(p['id'])} <span class=muted>({e(p['kind'])}, {e(p['language'])})"
                   f"</span></h3><div class=gen>{e(prompt)}</div>{concepts}{ref}{''.join(table)}</div>")
    return "".join(out)


def render_html(run: dict) -> str:
    pics = plots(run)
    models = ", ".join(f"{m['name']} ({m['kind']}{', ' + m['engine'] if m.get('engine') else ''}"
                       f"{', layers ' + m['layers'] if m.get('layers') else ''})"
                       for m in run["models"])
    imgs = "".join(f'<img alt="{e(k)}" src="data:image/png;base64,{v}">' for k, v in pics.items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>twinforge eval {e(run.get('id'))}</title>
<style>{CSS}</style></head><body>
<h1>twinforge eval run {e(run.get('id'))}</h1>
<p class=muted>{e(run.get('created_at', ''))} · dataset {e(run['dataset'])} · {len(run['probes'])} probes ·
models: {e(models)} · {e(fmt(run.get('seconds')))} s</p>
{_active(run)}
<h2>Metrics</h2><p class=muted>Deltas are against the base; green is better, red worse.</p>{_metric_table(run)}
{imgs}
{_scenes(run)}
<h2>Failure catalogue</h2>{_failures(run)}
<h2>Generations</h2><p class=muted><ins>inserted</ins> and <del>dropped</del> words are against the base's answer
in the same mode.</p>{_probes(run)}
</body></html>"""


def write_report(folder: Path, run: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(run, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    index = folder / "index.html"
    index.write_text(render_html(run), encoding="utf-8")
    return index
