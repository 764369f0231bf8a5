"""Running the generated views: requests through the backend's call cache, the gate, and the store.

After the template views (run.py), every module expand holds gets the configured generated views. Modules go in
batches of `generated.backend.concurrency`: their requests go out together, and each batch is committed on its
own, so a killed run keeps what it finished; every call is cached (`llm_calls`), so a re-run asks no model for
what it asked before. A module whose module JSON, dialog, voice, prompts, backend and config are unchanged is
skipped outright (`generated_modules.signature`). An item whose candidate the gate set aside is asked again, up
to `generated.tries` requests (each retry is another request — the prompt's examples rotated, a little warmer —
so it is cached like the first, and only the items still failing are asked); a kept candidate is never replaced.
Kept examples go into `examples` (meta: backend, prompt version), the rest into `example_rejects` with the gate's
reason of the last try. The pass rate is per item, after the retries; `retries` counts the requests they took.

The extractive backend has no model: it would only echo the prompt back, so the views are skipped with a note.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import Counter
from dataclasses import dataclass, field, replace

import orjson
from pydantic import ValidationError
from tqdm import tqdm

from ..backends import get_backend
from ..backends.base import Backend
from ..backends.cache import Answer, CachedBackend
from ..distill.repair import RepairError, loads
from ..distill.schema import Module
from ..errors import ConfigError
from ..store import Store
from ..store.persona_card import system_prompt
from ..text.tokens import count_tokens_batch
from . import gate, source
from .config import GENERATED_VIEWS, ExpandConfig, GenerateConfig
from .generated import (
    GENERATED,
    VERSIONS,
    Ask,
    Candidate,
    GenContext,
    load_prompt,
    ordered_others,
    voice,
)
from .generated import candidates as read_answer
from .views import example_id

GEN_VERSION = 2  # bump when the code changes what a view asks or keeps: every module is generated again
CARD_CHARS = 1400  # of the persona card read for the person's voice (its intro line is dropped)
NO_MODEL = ("generated views ({views}) skipped: the extractive backend has no model to write them; set "
            "expand.generated.backend.name to llamacpp, openai or transformers")


@dataclass
class GeneratedReport:
    views: list[str] = field(default_factory=list)
    backend: str = ""  # backend:model
    skipped: str = ""  # why nothing was generated
    modules: int = 0  # modules expand holds
    generated: int = 0  # of them, generated for by this run
    unchanged: int = 0
    calls: int = 0
    cache_hits: int = 0
    failed_calls: int = 0  # the backend gave no answer: the module is tried again next run
    retries: int = 0  # items asked again because the gate set a candidate of theirs aside
    kept: Counter = field(default_factory=Counter)  # by view, this run
    rejected: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        views = {v: {"kept": self.kept[v], "rejected": self.rejected[v],
                     "pass_rate": _rate(self.kept[v], self.rejected[v])} for v in self.views}
        kept, rejected = sum(self.kept.values()), sum(self.rejected.values())
        return {"backend": self.backend, "skipped": self.skipped, "modules": self.modules,
                "generated": self.generated, "unchanged": self.unchanged, "calls": self.calls,
                "cache_hits": self.cache_hits, "failed_calls": self.failed_calls, "retries": self.retries,
                "views": views,
                "kept": kept, "rejected": rejected, "pass_rate": _rate(kept, rejected),
                "reasons": dict(self.reasons.most_common())}


def _rate(kept: int, rejected: int) -> float | None:
    return round(kept / (kept + rejected), 3) if kept + rejected else None


def check_generated(g: GenerateConfig) -> list[str]:
    unknown = [v for v in [*g.views, *g.counts] if v not in GENERATED]
    if unknown:
        raise ConfigError(f"unknown generated view(s): {', '.join(unknown)}",
                          f"available: {', '.join(GENERATED_VIEWS)}")
    return list(dict.fromkeys(g.views))


def generate(store: Store, cfg: ExpandConfig, run_id: int | None, progress: bool = False,
             backend: Backend | None = None) -> GeneratedReport:
    """The configured generated views for every module expand holds. `backend` overrides the config's (tests)."""
    g = cfg.generated
    report = GeneratedReport(views=check_generated(g))
    _drop_unlisted(store, report.views)
    if not report.views:
        return report
    name = backend.name if backend else g.backend.name
    if name == "extractive":
        report.skipped = NO_MODEL.format(views=", ".join(report.views))
        _drop_unlisted(store, [])  # nothing a model wrote earlier stays under a config that writes nothing
        return report
    backend = backend or get_backend(g.backend)
    report.backend = f"{backend.name}:{backend.model}"
    pending = _pending(store, cfg, backend, report)
    if not pending:
        return report
    corpus = _corpus(store.db, {ctx.module.id for ctx, _ in pending}, g.gate)
    caches = {v: CachedBackend(store, backend, VERSIONS[v]) for v in report.views}
    if g.gate.judge:
        judge_backend = get_backend(g.gate.judge_backend) if g.gate.judge_backend else backend
        caches["judge"] = CachedBackend(store, judge_backend, VERSIONS["judge"])
    judge = _judge(caches["judge"]) if g.gate.judge else None
    step = g.backend.concurrency
    with tqdm(total=len(pending), desc="expand: generated", unit="module", disable=not progress, leave=False) as bar:
        for i in range(0, len(pending), step):
            _batch(store, pending[i:i + step], g, report, caches, corpus, judge, run_id)
            report.calls = sum(c.calls for c in caches.values())
            report.cache_hits = sum(c.hits for c in caches.values())
            bar.update(len(pending[i:i + step]))
    return report


def _drop_unlisted(store: Store, views: list[str]) -> None:
    """Generated examples and rejects of views the config no longer lists go."""
    gone = [v for v in GENERATED_VIEWS if v not in views]
    marks = ",".join("?" * len(gone))
    with store.transaction() as db:
        db.execute(f"DELETE FROM examples WHERE view IN ({marks})", gone)
        db.execute(f"DELETE FROM example_rejects WHERE view IN ({marks})", gone)
        if not views:
            db.execute("DELETE FROM generated_modules")


def _modules(db: sqlite3.Connection) -> list[tuple[Module, str]]:
    """The modules the template views were made from (valid, not flagged), with their JSON."""
    out = []
    for raw in (r[0] for r in db.execute("SELECT m.json FROM modules m JOIN expanded_modules e"
                                         " ON e.module_id = m.id ORDER BY m.id")):
        try:
            out.append((Module.model_validate_json(raw), raw))
        except ValidationError:
            continue  # the template pass reported it and dropped its examples
    return out


def _pending(store: Store, cfg: ExpandConfig, backend: Backend, report: GeneratedReport
             ) -> list[tuple[GenContext, str]]:
    """(context, signature) of each module whose generated views are missing or stale."""
    g = cfg.generated
    card = system_prompt(store, CARD_CHARS)
    card = card.split("\n\n", 1)[-1] if card else None  # the card's intro line addresses the twin, not the model
    modules = _modules(store.db)
    all_modules = [m for m, _ in modules]
    known = dict(store.db.execute("SELECT module_id, signature FROM generated_modules"))
    out = []
    for module, raw in modules:
        turns = source.dialog(store.db, module.conversation_id)
        ctx = GenContext(module, turns, voice(card, turns), ordered_others(all_modules, cfg.seed, module),
                         g.backend.max_tokens, g.backend.temperature, cfg.own_words_min_chars, g.gate.min_concepts)
        sig = _signature(raw, ctx, g, backend, report.views)
        if known.get(module.id) == sig:
            report.unchanged += 1
        else:
            out.append((ctx, sig))
    report.modules = len(modules)
    return out


def _signature(raw: str, ctx: GenContext, g: GenerateConfig, backend: Backend, views: list[str]) -> str:
    prompts = [load_prompt(v, ctx.language).digest for v in [*views, "judge"]]
    others = [o.id + o.phrase for o in ctx.others[: g.counts.get("transfer", g.per_view)]]
    parts = [str(GEN_VERSION), raw, source.digest(ctx.dialog), ctx.voice, *prompts, *others, backend.name,
             backend.model, g.model_dump_json(exclude={"backend"}),
             f"{g.backend.max_tokens}:{g.backend.temperature}:{g.backend.seed}"]
    return hashlib.sha1("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _corpus(db: sqlite3.Connection, redo: set[str], cfg: gate.GateConfig) -> gate.Corpus:
    """Every message of the examples that stay: all but the generated ones of the modules about to be redone."""
    texts = []
    for module_id, view, raw in db.execute(
            "SELECT module_id, view, messages FROM examples ORDER BY module_id, view, position"):
        if module_id in redo and view in GENERATED_VIEWS:
            continue
        texts += [m["content"] for m in orjson.loads(raw)]
    return gate.Corpus(cfg.near_duplicate, texts)


def _batch(store: Store, part: list[tuple[GenContext, str]], g: GenerateConfig, report: GeneratedReport,
           caches: dict[str, CachedBackend], corpus: gate.Corpus, judge, run_id: int | None) -> None:
    """One batch of modules: asked, read, gated (asked again where the gate set a candidate aside, up to
    g.tries requests an item) and written, one transaction per module."""
    asks = [(ctx, ask) for ctx, _ in part for v in report.views
            for ask in GENERATED[v](ctx, g.counts.get(v, g.per_view))]
    modules = {ctx.module.id: ctx.module for ctx, _ in part}
    results: list[list[tuple[Candidate, gate.Verdict]]] = [[] for _ in asks]
    failed: Counter = Counter()  # calls without an answer, by module id
    todo = list(range(len(asks)))
    for k in range(g.tries):
        batch = [(asks[i][0], replace(asks[i][1], request=asks[i][1].retry(k)) if k else asks[i][1]) for i in todo]
        for i, (ctx, ask), answer in zip(todo, batch, _ask(batch, caches)):
            if answer.error:
                failed[ctx.module.id] += 1
                continue
            results[i] = _better(results[i], read_answer(ask, answer.text or ""), modules, ctx.module.id, corpus,
                                 g, judge, k)
        todo = [i for i in todo if asks[i][1].retry and (not results[i] or not all(v.keep for _, v in results[i]))]
        report.retries += len(todo) if k + 1 < g.tries else 0
    for ctx, sig in part:
        mine = [pair for (c, _), res in zip(asks, results) if c is ctx for pair in res]
        report.failed_calls += failed[ctx.module.id]
        _write(store, ctx.module, [c for c, _ in mine], [v for _, v in mine], report,
               "" if failed[ctx.module.id] else sig, run_id)
        report.generated += 1


def _better(old: list[tuple[Candidate, gate.Verdict]], new: list[Candidate], modules: dict[str, Module],
            module_id: str, corpus: gate.Corpus, g: GenerateConfig, judge, tried: int
            ) -> list[tuple[Candidate, gate.Verdict]]:
    """An item's candidates after one more try: a slot (depth's line, paragraph, page …) the gate set aside
    takes the new try's candidate when that one passes; only those are gated, so a kept text is never lost."""
    if old and len(old) != len(new):  # one of the two tries could not be read into the view's candidates
        if any(v.keep for _, v in old):
            return old
        old = []
    if not old:
        old = [(c, gate.Verdict(False, "unparsed")) for c in new]
    slots = [j for j, (_, v) in enumerate(old) if not v.keep]
    verdicts = gate.check([new[j] for j in slots], modules, [module_id] * len(slots), corpus, g.gate, judge)
    out = list(old)
    for j, v in zip(slots, verdicts):
        new[j].meta["try"] = tried + 1  # which request gave it: the first-try pass rate is read from the meta
        if not v.keep and tried:
            v.detail = f"{v.detail} (try {tried + 1} of {g.tries})"
        out[j] = (new[j], v)  # kept, or the latest reason it was not
    return out


def _ask(asks: list[tuple[GenContext, Ask]], caches: dict[str, CachedBackend]) -> list[Answer]:
    """The answers, in order: each view's requests together through its prompt version's cache. When every call
    fails (server down, model missing) the run stops: what finished is kept, and a re-run resumes."""
    out: list[Answer | None] = [None] * len(asks)
    for view in dict.fromkeys(a.view for _, a in asks):
        idx = [i for i, (_, a) in enumerate(asks) if a.view == view]
        for i, answer in zip(idx, caches[view].complete_many([asks[i][1].request for i in idx])):
            out[i] = answer
    if out and all(a.error for a in out):
        raise out[0].error
    return out  # type: ignore[return-value]


def _write(store: Store, module: Module, cands: list[Candidate], verdicts: list[gate.Verdict],
           report: GeneratedReport, sig: str, run_id: int | None) -> None:
    kept, rejected = [], []
    position: Counter = Counter()
    for c, v in zip(cands, verdicts):
        meta = {"generated": True, "backend": report.backend, "prompt_version": VERSIONS[c.view],
                "item": c.item, **c.meta}
        pos = position[(c.view, v.keep)]
        position[(c.view, v.keep)] += 1
        if v.keep:
            report.kept[c.view] += 1
            kept.append((example_id(module.id, c.view, pos), module.id, c.view, pos, c.messages, meta))
        else:
            report.rejected[c.view] += 1
            report.reasons[v.reason] += 1
            rejected.append((example_id(module.id, c.view, pos), module.id, c.view, pos, report.backend,
                             VERSIONS[c.view], v.reason, v.detail, orjson.dumps(c.messages).decode(), run_id))
    texts = ["\n".join(m["content"] for m in k[4]) for k in kept]
    tokens = count_tokens_batch(texts, threads=1) if texts else []
    marks = ",".join("?" * len(GENERATED_VIEWS))
    with store.transaction() as db:
        db.execute(f"DELETE FROM examples WHERE module_id = ? AND view IN ({marks})", [module.id, *GENERATED_VIEWS])
        db.execute("DELETE FROM example_rejects WHERE module_id = ?", (module.id,))
        db.executemany(
            "INSERT INTO examples (id, module_id, view, position, messages, language, chars, tokens, meta, run_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(i, m, v, p, orjson.dumps(msgs).decode(), module.language, sum(len(x["content"]) for x in msgs), n,
              orjson.dumps(meta).decode(), run_id) for (i, m, v, p, msgs, meta), n in zip(kept, tokens, strict=True)])
        db.executemany("INSERT INTO example_rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rejected)
        db.execute("INSERT OR REPLACE INTO generated_modules VALUES (?, ?, ?, ?, ?)",
                   (module.id, sig, len(kept), len(rejected), run_id))


# --- the judge -------------------------------------------------------------------------------------------


def _judge(cached: CachedBackend):
    """gate.Judge through the generation backend: a 1-5 score per candidate (None where it gave none)."""
    schema = {"type": "object", "required": ["score", "why"],
              "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}, "why": {"type": "string"}}}

    def score(cands: list[Candidate], modules: dict[str, Module], module_of: list[str]) -> list[float | None]:
        requests = []
        for c, mid in zip(cands, module_of):
            m = modules[mid]
            ctx = GenContext(m, [], "", [], 200, 0.0)
            example = "\n".join(f"{x['role']}: {x['content']}" for x in c.messages)
            requests.append(ctx.request("judge", schema, 200, view=c.view, example=example))
        out: list[float | None] = []
        for a in cached.complete_many(requests) if requests else []:
            out.append(_score(a))
        return out
    return score


def _score(a: Answer) -> float | None:
    if a.error or not a.text:
        return None
    try:
        data = loads(a.text)
    except RepairError:
        return None
    value = data.get("score") if isinstance(data, dict) else None
    return float(value) if isinstance(value, int | float) and 1 <= value <= 5 else None

