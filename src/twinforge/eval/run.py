"""One evaluation: base, adapters and stacks on the same probes and texts → metrics, failures, report, a row in
`eval_runs`. Models are loaded one at a time (a CPU box holds one fp32 copy comfortably, not five)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..errors import ConfigError
from ..models.layers import describe_meta
from ..store import Store
from ..store.workspace import ADAPTER_META
from . import active
from .config import EvalConfig
from .failures import Failure, catalogue, greedy_by_probe
from .generate import (
    GREEDY,
    Generation,
    ModelSpec,
    generate_all,
    modes,
    open_llamacpp,
    open_model,
    pick_engine,
)
from .metrics import ANSWER_METRICS, Answer
from .metrics.perplexity import perplexity
from .metrics.style import centroid, style_similarity
from .probes import Probe, build_probes
from .scenes import all_scenes, model_scenes, scene_effects
from .texts import Texts, load_texts

BASE = "base"


@dataclass
class EvalRun:
    models: list[ModelSpec]
    probes: list[Probe]
    metrics: dict[str, dict]  # model → metric → value
    generations: list[Generation]
    failures: list[Failure]
    checks: list[active.ActiveCheck]
    config: dict
    dataset: str
    id: int | None = None
    report_path: Path | None = None
    created_at: str = ""
    seconds: float = 0.0
    engines: dict[str, str] = field(default_factory=dict)
    scenes: dict[str, dict] = field(default_factory=dict)  # model → what its scenes changed (eval/scenes.py)

    @property
    def inactive(self) -> list[str]:
        return [c.model for c in self.checks if not c.active]

    def as_dict(self) -> dict:
        return {
            "id": self.id, "created_at": self.created_at, "dataset": self.dataset, "seconds": round(self.seconds, 1),
            "report": str(self.report_path) if self.report_path else None,
            "models": [m.as_dict() | {"engine": self.engines.get(m.name), "layers": adapter_layers(m)}
                       for m in self.models],
            "probes": [p.as_dict() for p in self.probes],
            "metrics": self.metrics,
            "active": [c.as_dict() for c in self.checks],
            "failures": [f.as_dict() for f in self.failures],
            "generations": [g.as_dict() for g in self.generations],
            "config": self.config,
            "scenes": self.scenes,
        }


def adapter_layers(spec: ModelSpec) -> str | None:
    """The decoder layers a model's adapters adapt ('15-17 of 18'); None for the base and all-layer adapters."""
    labels = []
    for folder, _ in spec.adapters:
        try:
            lab = describe_meta(json.loads((Path(folder) / ADAPTER_META).read_text(encoding="utf-8")))
        except (OSError, ValueError):  # a plain PEFT folder: no twinforge.json to say
            continue
        if lab != "all":
            labels.append(f"{Path(folder).name}: {lab}" if len(spec.adapters) > 1 else lab)
    return "; ".join(labels) or None


# --- which models ---------------------------------------------------------------------------------------


def _adapter_dir(store: Store, ref: str) -> Path:
    """An adapter id from the registry (or its folder under <ws>/adapters), or a path to an adapter folder."""
    from ..adapters import registry

    try:
        adapter = registry.get(store, ref)
    except ConfigError:  # not an id: a folder, tried below
        adapter = None
    if adapter is not None:
        if adapter.missing:
            raise ConfigError(f"adapter {ref}: {adapter.missing}",
                              f"restore it, or forget it with `twinforge adapters remove {ref}`")
        return adapter.path
    for folder in (store.ws.adapter(ref), Path(ref)):
        if (folder / "adapter_config.json").exists():
            return folder
    raise ConfigError(f"adapter {ref!r} not found", "list them with `twinforge adapters`, or give an adapter folder")


def _adapter_base(folder: Path) -> str | None:
    """The base the adapter was trained on, from its twinforge.json; None for a plain PEFT folder without one."""
    meta = folder / ADAPTER_META
    if not meta.exists():
        return None
    try:
        return json.loads(meta.read_text(encoding="utf-8")).get("base")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as e:
        # never guess the base: an adapter evaluated on another base measures nothing
        raise ConfigError(f"{meta} is not readable JSON ({e})",
                          "restore the file, or retrain the adapter (its base is unknown without it)") from e


def _weighted(ref: str) -> tuple[str, float]:
    """`ID` or `ID:WEIGHT`."""
    name, sep, w = ref.rpartition(":")
    if sep:
        try:
            return name, float(w)
        except ValueError:
            pass
    return ref, 1.0


def resolve_models(store: Store, cfg: EvalConfig) -> list[ModelSpec]:
    specs, bases = [], []
    for ref in cfg.adapters:
        folder = _adapter_dir(store, ref)
        bases.append(_adapter_base(folder))
        specs.append(ModelSpec(folder.name, "adapter", adapters=[(folder, 1.0)]))
    for name, refs in cfg.stacks.items():
        if not refs:
            raise ConfigError(f"stack {name!r} has no adapters", "name at least one adapter id")
        parts = []
        for ref in refs:
            rid, w = _weighted(ref)
            folder = _adapter_dir(store, rid)
            bases.append(_adapter_base(folder))
            parts.append((folder, w))
        specs.append(ModelSpec(name, "stack", adapters=parts))
    names = [s.name for s in specs]
    if BASE in names or len(set(names)) != len(names):
        raise ConfigError(f"model names repeat or shadow the base: {', '.join(names)}", "give stacks other names")
    known = {b for b in bases if b}
    base = cfg.base or (known.pop() if len(known) == 1 else None)
    if not cfg.base and len(known) > 1:
        raise ConfigError(f"the adapters were trained on different bases: {', '.join(sorted(known))}",
                          "evaluate adapters of one base per run, or pass --base")
    return [ModelSpec(BASE, "base", base=base), *(ModelSpec(s.name, s.kind, base, s.adapters) for s in specs)]


# --- the run --------------------------------------------------------------------------------------------


def evaluate(store: Store, cfg: EvalConfig, progress: bool = False) -> EvalRun:
    """Generate, measure, catalogue failures; save the run and its report. Raises nothing for inactive adapters:
    they are in `run.checks`/`run.failures`; callers decide (the CLI fails loudly with active.require_active)."""
    t0 = time.perf_counter()
    specs = resolve_models(store, cfg)
    learned = model_scenes(store, specs)
    probes = build_probes(store, cfg.dataset, cfg.probes_file, cfg.max_probes, all_scenes(learned))
    texts = load_texts(store, cfg.dataset)
    person = centroid(texts.person)
    n_gen = len(probes) * len(modes(cfg.sample_seeds)) * len(specs)
    bar = tqdm(total=n_gen, desc="eval", unit="answer", disable=not progress, file=None)
    metrics: dict[str, dict] = {}
    generations: list[Generation] = []
    logits: dict[str, object] = {}
    engines: dict[str, str] = {}
    cache = store.ws.gguf_lora_cache
    try:
        for spec in specs:
            m, gens, lg, engine = _one_model(spec, cfg, probes, texts, cache, bar.update)
            m["style_similarity"] = style_similarity([g.text for g in gens if g.mode == GREEDY], person)
            metrics[spec.name], logits[spec.name], engines[spec.name] = m, lg, engine
            generations += gens
    finally:
        bar.close()
    checks = [active.check(s.name, logits[s.name], logits[BASE], greedy_by_probe(generations, s.name),
                           greedy_by_probe(generations, BASE)) for s in specs if s.kind != "base"]
    failures = catalogue(metrics, generations, probes, checks, texts.train_answers, cfg.thresholds)
    if cfg.judge is not None:
        failures += _judge(cfg, probes, generations, metrics)
    run = EvalRun(specs, probes, metrics, generations, failures, checks, cfg.model_dump(mode="json"), cfg.dataset,
                  engines=engines, scenes=scene_effects(learned, probes, generations, metrics,
                                                        cfg.thresholds.forgetting_ratio))
    run.seconds = time.perf_counter() - t0
    from .runs import save_run

    save_run(store, run)
    return run


def _one_model(spec: ModelSpec, cfg: EvalConfig, probes: list[Probe], texts: Texts, cache: Path, tick):
    engine = pick_engine(cfg.engine, spec)
    runner = open_model(spec)
    model, tok = runner.loaded()
    try:
        m: dict = {}
        for name, pairs in texts.pairs(tok, cfg.ppl_texts).items():
            m[f"ppl_{name}"] = perplexity(model, tok, pairs, cfg.ppl_max_len)
        lg = runner.logits(active.PROBE_TEXT)
        if engine == "transformers":
            gens = list(generate_all(runner, spec.name, probes, cfg.sample_seeds, cfg.max_new_tokens,
                                     cfg.temperature, cfg.top_p, tick))
    finally:
        del model
        runner.close()
    if engine == "llamacpp":
        llama = open_llamacpp(spec, tok, cache)
        try:
            lg = {"transformers": lg, "llamacpp": llama.logits(active.PROBE_TEXT)}
            gens = list(generate_all(llama, spec.name, probes, cfg.sample_seeds, cfg.max_new_tokens,
                                     cfg.temperature, cfg.top_p, tick))
        finally:
            llama.close()
    else:
        lg = {"transformers": lg}
    greedy = [g for g in gens if g.mode == GREEDY]
    by_id = {p.id: p for p in probes}
    answers = [Answer(g.text, by_id[g.probe_id].language, by_id[g.probe_id].concepts) for g in greedy]
    for name, fn in ANSWER_METRICS.items():
        m[name] = fn(answers)
    secs = sum(g.seconds for g in gens)
    m["generations_per_second"] = len(gens) / secs if secs else None
    return m, gens, lg, engine


def _judge(cfg: EvalConfig, probes: list[Probe], gens: list[Generation], metrics: dict[str, dict]) -> list[Failure]:
    """The judge's win rate per model, and a `judge-failed` failure for every model with probes it could not judge."""
    from ..backends.base import get_backend
    from .metrics.judge import win_rate

    backend = get_backend(cfg.judge)
    base = greedy_by_probe(gens, BASE)
    failures = []
    for model in metrics:
        if model == BASE:
            continue
        mine = greedy_by_probe(gens, model)
        items = [(p.question, mine[p.id], base[p.id], p.reference) for p in probes if p.id in mine and p.id in base]
        result = win_rate(backend, items)
        metrics[model]["judge_win_rate"] = result.rate
        metrics[model]["judge_unjudged"] = len(result.errors)
        if result.errors:
            failures.append(Failure("judge-failed", model, f"{len(result.errors)} of {len(items)} probes without a "
                                    f"verdict; the win rate counts only the {result.judged} judged",
                                    [{"probe_id": "", "mode": "judge", "snippet": e} for e in result.errors[:3]]))
    return failures
