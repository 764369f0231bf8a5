"""What each scene changed: for every evaluated adapter (or stack, or chain) that learned scenes, three measures
against the base on the same probes.

- Own vs other scenes: concept coverage of the answers to its own scenes' probes, and to the other scenes' probes
  (a scene adapter should talk about its scene, not about everything).
- Items that appear: the module extractor — the offline distiller (distill/offline.py), the same code that makes
  modules from the person's text — is run on every generated answer; a scene's axis, inversion or transition rule
  *appears* when the extractor finds one of that kind in an answer sharing at least half of its content words
  (by stem). `new` marks those found in the model's answers and in none of the base's.
- Forgetting: perplexity on the general-text control, against the base's (ratio above the forgetting threshold
  is flagged, as in the failure catalogue).
"""

from __future__ import annotations

from functools import lru_cache

from ..distill.offline import candidates
from ..distill.schema import Module
from ..scenes.catalog import scenes_of
from ..store import Store
from .metrics.answer import Answer
from .metrics.coverage import answer_coverage, covered, stems
from .probes import Probe

BASE = "base"
KINDS = {"axis": "axes", "inversion": "inversions", "transition_rule": "transition_rules"}  # kind → Module field


def model_scenes(store: Store, specs) -> dict[str, list[Module]]:
    """model name → the scenes its adapters learned (own first, then those under a chained adapter)."""
    out: dict[str, list[Module]] = {}
    for spec in specs:
        found: dict[str, Module] = {}
        for folder, _ in spec.adapters:
            for m in scenes_of(store, folder):
                found.setdefault(m.id, m)
        if found:
            out[spec.name] = list(found.values())
    return out


def all_scenes(scenes: dict[str, list[Module]]) -> list[Module]:
    """Every scene any evaluated model learned, once (for build_probes)."""
    return list({m.id: m for mods in scenes.values() for m in mods}.values())


@lru_cache(maxsize=4096)
def extracted(text: str, language: str) -> dict[str, tuple[str, ...]]:
    """What the module extractor finds in one answer, per kind."""
    c = candidates(text, language)
    return {"axis": tuple(str(a) for a in c.axes), "inversion": tuple(c.inversions),
            "transition_rule": tuple(c.transition_rules)}


def _hits(item: str, kind: str, answers: list[tuple[str, str, str]]) -> list[str]:
    """Probe ids whose answer holds an extracted item of this kind matching `item`."""
    return sorted({pid for pid, text, lang in answers
                   if any(covered(item, stems(x)) for x in extracted(text, lang)[kind])})


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _coverage(gens: dict[str, str], probes: list[Probe]) -> float | None:
    return _mean([c for p in probes if p.id in gens
                  for c in [answer_coverage(Answer(gens[p.id], p.language, p.concepts))] if c is not None])


def scene_effects(scenes: dict[str, list[Module]], probes: list[Probe], generations, metrics: dict[str, dict],
                  forgetting_ratio: float) -> dict:
    """model → its scenes' figures (see the module docstring); {} when no evaluated model learned a scene."""
    greedy: dict[str, dict[str, str]] = {}
    answers: dict[str, list[tuple[str, str, str]]] = {}
    lang = {p.id: p.language for p in probes}
    for g in generations:
        answers.setdefault(g.model, []).append((g.probe_id, g.text, lang.get(g.probe_id, "en")))
        if g.mode == "greedy":
            greedy.setdefault(g.model, {})[g.probe_id] = g.text
    out = {}
    for model, mods in scenes.items():
        ids = {m.id for m in mods}
        own = [p for p in probes if p.module_id in ids and p.concepts]
        other = [p for p in probes if p.module_id and p.module_id not in ids and p.concepts]
        items = [{"scene": m.id, "kind": kind, "item": item,
                  "model": _hits(item, kind, answers.get(model, [])), "base": _hits(item, kind, answers.get(BASE, []))}
                 for m in mods for kind, name in KINDS.items() for item in getattr(m, name) if item.strip()]
        for it in items:
            it["new"] = bool(it["model"]) and not it["base"]
        ppl, ppl_base = metrics.get(model, {}).get("ppl_control"), metrics.get(BASE, {}).get("ppl_control")
        ratio = ppl / ppl_base if ppl is not None and ppl_base else None
        out[model] = {
            "scenes": [m.id for m in mods],
            "own_probes": len(own), "other_probes": len(other),
            "own_coverage": _coverage(greedy.get(model, {}), own),
            "own_coverage_base": _coverage(greedy.get(BASE, {}), own),
            "other_coverage": _coverage(greedy.get(model, {}), other),
            "other_coverage_base": _coverage(greedy.get(BASE, {}), other),
            "items": items,
            "items_new": sum(it["new"] for it in items),
            "extracted": {k: sum(len(extracted(t, lg)[k]) for _, t, lg in answers.get(model, [])) for k in KINDS},
            "extracted_base": {k: sum(len(extracted(t, lg)[k]) for _, t, lg in answers.get(BASE, [])) for k in KINDS},
            "control_ppl": ppl, "control_ppl_base": ppl_base,
            "control_delta": ppl - ppl_base if ratio is not None else None, "control_ratio": ratio,
            "forgetting": ratio is not None and ratio > forgetting_ratio,
        }
    return out


def summary_lines(effects: dict) -> list[str]:
    """One line per model for the terminal."""
    def f(x) -> str:
        return "—" if x is None else f"{x:.2f}"

    lines = []
    for model, s in effects.items():
        new = [f"{it['kind']} «{it['item']}»" for it in s["items"] if it["new"]]
        lines.append(
            f"{model} (scenes {', '.join(s['scenes'])}): own-scene coverage {f(s['own_coverage'])} (base "
            f"{f(s['own_coverage_base'])}), other scenes {f(s['other_coverage'])} (base {f(s['other_coverage_base'])});"
            f" {s['items_new']}/{len(s['items'])} scene items newly in answers"
            + (f" ({'; '.join(new[:3])}{' …' if len(new) > 3 else ''})" if new else "")
            + f"; control perplexity {f(s['control_ppl'])} vs {f(s['control_ppl_base'])}"
            + (" — FORGETTING" if s["forgetting"] else ""))
    return lines
