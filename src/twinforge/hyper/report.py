"""`twinforge hyper report`: on held-out scenes, how much shorter a hyperphrase is, and how much of the meaning
comes back when it is decoded — by the plain backend and by the bridge adapter.

- compression: characters and tokens of the original over those of its hyperphrase, both as a ratio of totals
  and as the median per scene. Tokens are Qwen's (the target model's) and the concept tokenizer's (one per
  concept: the "1 symbol = 1 semantic word" the claim is about).
- fidelity: embedding cosine (twinforge.text.embed, multilingual USE) of decode(encode(x)) to x.
- concept recall: the share of x's hyperphrase concepts found among the content lemmas of the decoded text.
- "preserved": fidelity at or above `hyper.fidelity_threshold`. For scale the report shows two reference
  cosines on the same scenes: x against an unrelated held-out scene (the floor) and x against its hyperphrase
  read as text (what the concepts alone keep, before any decoder).

The verdict is computed: the claim "5–30× compression at preserved meaning" holds for a decoder when most scenes
(≥ 50%) are preserved and, over those scenes, the original takes at least 5× the tokens of the hyperphrase.
"""

from __future__ import annotations

import html
import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..backends.config import BackendConfig
from ..text.tokens import count_tokens_batch
from .config import HyperConfig
from .dataset import heldout
from .encode import HyperError, content_lemmas, encoder_for

CLAIM_LOW, CLAIM_HIGH = 5.0, 30.0
MAJORITY = 0.5


@dataclass
class Item:
    text: str
    hyperphrase: str
    concepts: list[str]
    chars_text: int
    chars_hyper: int  # as configured (sep or concat)
    chars_concat: int  # concepts written together, as in the user's seed
    qwen_text: int
    qwen_hyper: int
    concept_tokens: int


@dataclass
class Ratio:
    total: float  # sum over scenes of the original / sum of the hyperphrase
    median: float  # median of the per-scene ratios

    def __str__(self) -> str:
        return f"{self.total:.2f}× (median {self.median:.2f}×)"


def ratio(num: list[int], den: list[int]) -> Ratio:
    per = [n / d for n, d in zip(num, den) if d]
    return Ratio(round(sum(num) / sum(den), 3) if sum(den) else 0.0,
                 round(statistics.median(per), 3) if per else 0.0)


def compression(items: list[Item]) -> dict[str, Ratio]:
    return {
        "chars": ratio([i.chars_text for i in items], [i.chars_hyper for i in items]),
        "chars_concat": ratio([i.chars_text for i in items], [i.chars_concat for i in items]),
        "qwen_tokens": ratio([i.qwen_text for i in items], [i.qwen_hyper for i in items]),
        "concept_tokens": ratio([i.qwen_text for i in items], [i.concept_tokens for i in items]),
    }


def recall(concepts: list[str], found: set[str]) -> float:
    return sum(c in found for c in set(concepts)) / len(set(concepts)) if concepts else 0.0


@dataclass
class DecoderResult:
    name: str
    scenes: int
    failed: int
    fidelity_mean: float
    fidelity_median: float
    recall_mean: float
    preserved: int  # scenes with fidelity >= threshold
    preserved_share: float
    compression_preserved: Ratio | None  # Qwen tokens of x / concept tokens of h, over the preserved scenes
    qwen_compression_preserved: Ratio | None  # Qwen tokens of x / Qwen tokens of h, same scenes
    holds: bool
    per_scene: list[dict] = field(default_factory=list)


def judge(name: str, items: list[Item], decoded: list[str | None], fidelity: list[float], recalls: list[float],
          threshold: float) -> DecoderResult:
    """A decoder's summary from its per-scene numbers (pure arithmetic: the tests check it by hand)."""
    keep = [i for i, f in enumerate(fidelity) if f >= threshold]
    kept = [items[i] for i in keep]
    comp = ratio([i.qwen_text for i in kept], [i.concept_tokens for i in kept]) if kept else None
    qcomp = ratio([i.qwen_text for i in kept], [i.qwen_hyper for i in kept]) if kept else None
    share = len(keep) / len(items) if items else 0.0
    return DecoderResult(
        name=name, scenes=len(items), failed=sum(d is None for d in decoded),
        fidelity_mean=round(statistics.fmean(fidelity), 4) if fidelity else 0.0,
        fidelity_median=round(statistics.median(fidelity), 4) if fidelity else 0.0,
        recall_mean=round(statistics.fmean(recalls), 4) if recalls else 0.0,
        preserved=len(keep), preserved_share=round(share, 4), compression_preserved=comp,
        qwen_compression_preserved=qcomp,
        holds=bool(share >= MAJORITY and comp is not None and comp.total >= CLAIM_LOW),
        per_scene=[{"text": it.text, "hyperphrase": it.hyperphrase, "decoded": d, "fidelity": round(f, 4),
                    "recall": round(r, 4)} for it, d, f, r in zip(items, decoded, fidelity, recalls)])


def verdict(comp: dict[str, Ratio], decoders: list[DecoderResult], threshold: float) -> str:
    """One plain sentence from the numbers."""
    head = (f"The hyperphrase is {comp['chars'].total:.1f}× shorter than the text in characters, "
            f"{comp['qwen_tokens'].total:.1f}× in Qwen tokens and {comp['concept_tokens'].total:.1f}× counted "
            f"in concept tokens (one per concept)")
    if not decoders:
        return head + "; no decoder ran, so whether meaning survives is unmeasured."
    parts = []
    for d in decoders:
        comp_txt = (f"{d.compression_preserved.total:.1f}× in concept tokens" if d.compression_preserved
                    else "no scene to compress")
        parts.append(f"decoded by {d.name}, meaning is preserved (cosine ≥ {threshold:.2f}) in "
                     f"{d.preserved_share:.0%} of scenes ({comp_txt} over those), so the claimed "
                     f"{CLAIM_LOW:.0f}–{CLAIM_HIGH:.0f}× compression at preserved meaning "
                     + ("holds" if d.holds else "does not hold")
                     + ("" if d.holds else _why(d)))
    return head + "; " + "; ".join(parts) + " on this data."


def _why(d: DecoderResult) -> str:
    if d.preserved_share < MAJORITY:
        return " (most scenes lose their meaning)"
    return f" (the preserved scenes compress only {d.compression_preserved.total:.1f}×)"


@dataclass
class HyperReport:
    scenes: int
    join: str
    threshold: float
    compression: dict[str, Ratio]
    tokens_per_idea: dict[str, float]
    reference: dict[str, float]
    decoders: list[DecoderResult]
    verdict: str
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self, per_scene: bool = True) -> dict:
        d = asdict(self)
        if not per_scene:
            for dec in d["decoders"]:
                dec.pop("per_scene")
        return d


def measure_items(scenes: list[dict], enc, ctok) -> list[Item]:
    hypers = [enc.encode(s["text"], s.get("language")) for s in scenes]
    texts = [s["text"] for s in scenes]
    qx = count_tokens_batch(texts, threads=1)
    qh = count_tokens_batch([h.text for h in hypers], threads=1)
    return [Item(t, h.text, h.concepts, len(t), len(h.text), len("\n".join("".join(s) for s in h.scenes)), a, b,
                 ctok.count(h) if ctok else len(h.concepts))
            for t, h, a, b in zip(texts, hypers, qx, qh)]


def build_report(store, cfg: HyperConfig, *, backend: BackendConfig | None = None, adapter: str | None = None,
                 limit: int | None = None, use_backend: bool = True, use_bridge: bool = True,
                 progress: bool = False, write: bool = True) -> HyperReport:
    from ..text.embed import embed
    from .decode import decoder
    from .vocab import load_tokenizer

    scenes = heldout(store, limit or cfg.report_limit)
    enc = encoder_for(store, cfg)
    ctok = load_tokenizer(store)
    items = measure_items(scenes, enc, ctok)
    ideas = sum(len(i.concepts) for i in items)
    per_idea = {"qwen_text": round(sum(i.qwen_text for i in items) / ideas, 3),
                "qwen_hyper": round(sum(i.qwen_hyper for i in items) / ideas, 3),
                "concept": round(sum(i.concept_tokens for i in items) / ideas, 3),
                "oov": round(sum(ctok.unknown(i.concepts) for i in items) / ideas, 4)}
    vx = embed([i.text for i in items])
    vh = embed([" ".join(i.concepts) for i in items])
    unrelated = [float(vx[k] @ vx[(k + 1) % len(items)]) for k in range(len(items))] if len(items) > 1 else []
    reference = {"unrelated_scene": round(statistics.fmean(unrelated), 4) if unrelated else 0.0,
                 "hyperphrase_as_text": round(float(statistics.fmean(float(a @ b) for a, b in zip(vx, vh))), 4)}

    which: list[tuple[str, dict]] = []
    if use_backend:
        which.append(("backend", {"backend": backend}))
    bridge = adapter or (_recorded_bridge(store) if use_bridge else None)
    if bridge:
        which.append(("adapter", {"adapter": bridge}))
    results = []
    for _, kw in which:
        dec = decoder(store, cfg, **kw)
        outs = []
        for k in tqdm(range(0, len(items), 8), desc=f"decode {dec.name}", unit="batch", disable=not progress):
            outs.extend(dec.decode_many([i.hyperphrase for i in items[k : k + 8]]))
        texts = [o.text for o in outs]
        vy = embed([t or "" for t in texts])
        fid = [float(vx[k] @ vy[k]) if t else 0.0 for k, t in enumerate(texts)]
        rec = [recall(i.concepts, content_lemmas(t, cfg)) if t else 0.0 for i, t in zip(items, texts)]
        results.append(judge(dec.name, items, texts, fid, rec, cfg.fidelity_threshold))
    comp = compression(items)
    report = HyperReport(len(items), cfg.join, cfg.fidelity_threshold, comp, per_idea, reference, results,
                         verdict(comp, results, cfg.fidelity_threshold))
    if write:
        report.files = write_report(store, report)
    return report


def _recorded_bridge(store) -> str | None:
    path = store.ws.hyper / "bridge.json"
    if not path.is_file():
        return None
    adapter_id = json.loads(path.read_text(encoding="utf-8")).get("adapter_id")
    return adapter_id if adapter_id and (store.ws.adapter(adapter_id)).is_dir() else None


# --- rendering ------------------------------------------------------------------------------------------


def markdown(r: HyperReport) -> str:
    c = r.compression
    lines = [
        "# Hyperphrase report", "",
        f"**Verdict.** {r.verdict}", "",
        f"Held-out scenes: {r.scenes} (from conversations not used to build the vocabulary or train the bridge); "
        f"join: {r.join}; meaning counts as preserved at embedding cosine ≥ {r.threshold:.2f}.", "",
        "## Compression (original ÷ hyperphrase)", "",
        "| measure | ratio of totals | median per scene |", "|---|---:|---:|",
        f"| characters | {c['chars'].total:.2f}× | {c['chars'].median:.2f}× |",
        f"| characters, concepts written together | {c['chars_concat'].total:.2f}× | {c['chars_concat'].median:.2f}× |",
        f"| Qwen tokens | {c['qwen_tokens'].total:.2f}× | {c['qwen_tokens'].median:.2f}× |",
        f"| Qwen tokens ÷ concept tokens | {c['concept_tokens'].total:.2f}× | {c['concept_tokens'].median:.2f}× |",
        "",
        f"Tokens per idea (one idea = one concept): the text takes {r.tokens_per_idea['qwen_text']:.2f} Qwen tokens, "
        f"the hyperphrase {r.tokens_per_idea['qwen_hyper']:.2f} Qwen tokens or {r.tokens_per_idea['concept']:.2f} "
        f"concept tokens; {r.tokens_per_idea['oov']:.0%} of held-out concepts are outside the concept vocabulary.",
        "",
        "## Round trip: decode(encode(x)) against x", "",
        f"Reference cosines on the same scenes: an unrelated scene {r.reference['unrelated_scene']:.3f}; the "
        f"hyperphrase itself read as text {r.reference['hyperphrase_as_text']:.3f}.", "",
        "| decoder | fidelity mean | median | concept recall | preserved | × at preserved (concept tok.) "
        "| × at preserved (Qwen tok.) | failed | claim |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for d in r.decoders:
        cp = str(d.compression_preserved) if d.compression_preserved else "–"
        qp = str(d.qwen_compression_preserved) if d.qwen_compression_preserved else "–"
        lines.append(f"| {d.name} | {d.fidelity_mean:.3f} | {d.fidelity_median:.3f} | {d.recall_mean:.1%} | "
                     f"{d.preserved}/{d.scenes} ({d.preserved_share:.0%}) | {cp} | {qp} | {d.failed} | "
                     f"{'holds' if d.holds else 'does not hold'} |")
    for d in r.decoders:
        lines += ["", f"### Examples: {d.name}", ""]
        for s in d.per_scene[:5]:
            lines += [f"- **text:** {_one_line(s['text'])}", f"  **hyper:** `{_one_line(s['hyperphrase'])}`",
                      f"  **decoded:** {_one_line(s['decoded'] or '(failed)')} — cosine {s['fidelity']:.2f}, "
                      f"recall {s['recall']:.0%}"]
    return "\n".join(lines) + "\n"


def _one_line(s: str, n: int = 220) -> str:
    s = " ".join(s.split()).replace("|", "/")
    return s if len(s) <= n else s[: n - 1] + "…"


def to_html(md: str) -> str:
    """The markdown above as a standalone page (headings, paragraphs, tables, lists): no dependency needed."""
    out, table = [], False
    for line in md.splitlines():
        esc = html.escape(line)
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-:"):
                continue
            tag = "th" if not table else "td"
            if not table:
                out.append("<table>")
                table = True
            out.append("<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>")
            continue
        if table:
            out.append("</table>")
            table = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{esc.replace('**', '')}</p>")
    if table:
        out.append("</table>")
    style = ("body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Hyperphrase report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")


def write_report(store, r: HyperReport) -> dict[str, str]:
    folder = store.ws.reports
    folder.mkdir(parents=True, exist_ok=True)
    md = markdown(r)
    files = {"markdown": folder / "hyper.md", "html": folder / "hyper.html", "json": folder / "hyper.json"}
    for kind, path in files.items():
        text = {"markdown": md, "html": to_html(md)}.get(kind) or json.dumps(r.as_dict(), ensure_ascii=False,
                                                                            indent=2, default=str)
        tmp = Path(str(path) + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return {k: str(v) for k, v in files.items()}


__all__ = ["HyperError", "HyperReport", "build_report", "compression", "judge", "markdown", "ratio", "recall",
           "verdict"]
