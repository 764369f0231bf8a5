"""The distill stage: each dialog clean kept becomes one thinking module.

Per conversation: clean's text of the kept user and assistant messages → chunks that fit the model's context →
one request per chunk (cached) → repaired, validated drafts (one retry with the error shown) → merged → quotes
pinned to the person's messages → a module row and its md/yaml files. Answers that stay unusable land in
`distill_failures` with their raw text.

Papers (provider `paper`) take the same path with their own strategy (distill/paper.py): a digest module of
kind `paper` with problem, method, results, limitations and the application to the twin.

Work is committed per conversation, so a killed run keeps what it finished; a conversation whose module has the
same input hash, prompt version, backend and model is skipped, and every call is cached, so re-runs are free.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import orjson
from tqdm import tqdm

from ..backends import get_backend
from ..backends.base import Backend, Request
from ..backends.cache import Answer, CachedBackend
from ..store import Store
from ..store.db import now_iso
from ..text.tokens import count_tokens_batch
from . import export, quality
from .assemble import build_module, merge, meta_move_outcome, module_id
from .config import DistillConfig
from .decomposed import DecomposedStrategy
from .paper import paper_strategy_for
from .render import Chunk, Dialog, PromptStrategy, Turn, chunk_dialog
from .repair import Draft, DraftError
from .rules import ExtractiveStrategy
from .schema import Module

KIND = "dialog"
PAPER_KIND = "paper"
PAPER_PROVIDERS = ("paper",)  # papers have their own digest path (distill/paper.py)
# Generation speed for the --dry-run estimate when the recipe gives none: the embedded GGUF through llama.cpp on
# a 2-core CPU (design.md), a modest server, transformers on CPU; extractive needs no time.
TOKENS_PER_SECOND = {"llamacpp": 45.0, "openai": 20.0, "transformers": 6.0}
PREFILL_SPEEDUP = 5  # prompt tokens are read ~5x faster than answers are written (0.5B GGUF, 2 cores: 310 vs 66/s)


@dataclass
class DistillReport:
    backend: str = ""
    model: str = ""
    prompt_version: str = ""
    paper_prompt_version: str = ""
    eligible: int = 0  # kept dialogs with enough of the person's text, and papers
    done_before: int = 0  # skipped: distilled before from the same input, prompt and model
    pending: int = 0  # to do in this run (after --limit)
    distilled: int = 0  # modules written
    papers: int = 0  # of them, paper digests
    failed: int = 0  # conversations left without a module (see `twinforge failures`)
    chunk_failures: int = 0  # chunks whose answer stayed unusable
    chunks: int = 0
    calls: int = 0  # backend calls made
    cache_hits: int = 0
    retries: int = 0
    quotes_dropped: int = 0  # quotes that were not the person's verbatim text
    meta_moves_mapped: int = 0  # the backend named a move in its own words: mapped onto the taxonomy
    meta_moves_rejected: int = 0  # the backend's move named no taxonomy entry: rules chose (raw kept in the module)
    removed: int = 0  # modules of conversations clean no longer keeps
    prompt_tokens: int = 0
    output_tokens: int = 0
    seconds: float | None = None  # dry run: estimated time
    speed_basis: str = ""  # dry run: the speeds the time assumes, and where they come from
    longest_request: int = 0  # dry run: prompt tokens of the longest request
    sample: list[dict] = field(default_factory=list)  # dry run: one rendered request
    modules: list[str] = field(default_factory=list)  # ids written
    edits_kept: list[str] = field(default_factory=list)  # modules whose YAML scene the person edited: left as is
    quality: dict = field(default_factory=dict)  # the module scores after the run (distill/quality.py summary)

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "modules"} | {"modules": len(self.modules)}


# What `distill.mode: auto` gives the embedded llamacpp model (bench/distill_paths.py --backend llamacpp, all 21
# held-out dialogs, shared 2-core machine; README "Thinking modules"): decomposed keeps the offline figures
# (concept recall 0.75, meta-move 0.62, axes 0.45, nothing invented) where one-shot loses most of them and invents
# phrases or quotes. Decomposed adds no measured gain over extractive itself (its five concepts are slightly worse
# than the offline ranking's first five on the tuning part) but it is the better of the two model paths.
EMBEDDED_AUTO_MODE = "decomposed"


def strategy_for(backend_name: str, mode: str = "auto", embedded: bool = True):
    """The extractive backend's offline distiller; for a model, one-shot or decomposed (config `distill.mode`;
    auto: EMBEDDED_AUTO_MODE for the embedded llamacpp model, one-shot for others)."""
    if backend_name == "extractive":
        return ExtractiveStrategy()
    if mode == "auto" and backend_name == "llamacpp" and embedded:
        mode = EMBEDDED_AUTO_MODE
    return DecomposedStrategy() if mode == "decomposed" else PromptStrategy()


def distill(store: Store, cfg: DistillConfig | None = None, progress: bool = False, dry_run: bool = False,
            force: bool = False, backend: Backend | None = None) -> DistillReport:
    """Distill every pending dialog (at most cfg.limit). `backend` overrides cfg.backend (tests, benchmarks)."""
    cfg = cfg or DistillConfig()
    name = backend.name if backend else cfg.backend.name
    strategy = strategy_for(name, cfg.mode, not cfg.backend.model)
    paper_strategy = paper_strategy_for(name)
    report = DistillReport(backend=name, prompt_version=strategy.version, paper_prompt_version=paper_strategy.version)
    dialogs = load_dialogs(store, cfg)
    papers = load_dialogs(store, cfg, papers=True)
    report.eligible = len(dialogs) + len(papers)
    work = [(KIND, dialogs, strategy), (PAPER_KIND, papers, paper_strategy)]
    if dry_run:
        report.model = backend.model if backend else (cfg.backend.model or "")
        todo = _pending_all(store, work, cfg, name, report.model or None, force, report)
        _estimate(todo, cfg, report)
        return report
    backend = backend or get_backend(cfg.backend)
    report.model = backend.model
    run_id = store.start_run("distill", cfg.model_dump() | {"force": force})
    try:
        report.removed = _remove_stale(store, KIND) + _remove_stale(store, PAPER_KIND)
        todo = _pending_all(store, work, cfg, name, backend.model, force, report)
        caches = {s.version: CachedBackend(store, backend, s.version) for _, _, s in work}
        # As many conversations at a time as the backend takes requests at once: their chunks go out together,
        # and a kill loses at most that much work.
        batch = cfg.backend.concurrency
        with tqdm(total=sum(len(p) for _, p, _ in todo), desc="distill", unit="conv", disable=not progress,
                  leave=False) as bar:
            for kind, pending, strat in todo:
                cached = caches[strat.version]
                for i in range(0, len(pending), batch):
                    part = pending[i : i + batch]
                    _distill_batch(store, part, cfg, strat, cached, report, run_id, kind)
                    _count_calls(report, caches.values())
                    bar.update(len(part))
        export.export_missing(store)
        # every module scored again (no model: its text against the person's messages), flags for expand/rejects
        report.quality = quality.summary(quality.score_store(store, cfg.quality_threshold, run_id))
        store.finish_run(run_id, "ok", report.as_dict())
    except BaseException as e:
        status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        store.finish_run(run_id, status, report.as_dict(), error=str(e) or type(e).__name__)
        raise
    return report


# --- input -----------------------------------------------------------------------------------------------


def _count_calls(report: DistillReport, caches) -> None:
    caches = list(caches)
    report.calls, report.cache_hits = sum(c.calls for c in caches), sum(c.hits for c in caches)
    report.prompt_tokens = sum(c.prompt_tokens for c in caches)
    report.output_tokens = sum(c.completion_tokens for c in caches)


def load_dialogs(store: Store, cfg: DistillConfig, papers: bool = False) -> list[Dialog]:
    """Conversations clean kept, with their kept messages (clean's text) in order; the person must have said
    enough (cfg.min_user_chars), and the dialog be in one of cfg.languages where those are given.
    With `papers`, the papers instead (any text is enough)."""
    which = {"providers": PAPER_PROVIDERS} if papers else {"exclude_providers": PAPER_PROVIDERS}
    turns: dict[str, list[Turn]] = defaultdict(list)
    languages: dict[str, Counter] = defaultdict(Counter)
    titles: dict[str, str] = {}
    for k in store.kept_messages(canonical=False, dialog=False, min_chars=None, by_date=True, **which):
        if k.text.strip():
            turns[k.conversation_id].append(Turn(k.id, k.role, k.text))
        if k.language:
            languages[k.conversation_id][k.language] += 1
        titles[k.conversation_id] = k.title
    wanted = set(cfg.languages) if cfg.languages else None
    out = []
    for cid, ts in turns.items():
        lang = languages[cid].most_common(1)[0][0] if languages[cid] else "en"
        dialog = Dialog(cid, titles[cid], lang, ts)
        dialog.input_hash = dialog.compute_hash(cfg.chunk_chars, cfg.overlap_chars)
        if dialog.user_chars >= (1 if papers else max(1, cfg.min_user_chars)) and (wanted is None or lang in wanted):
            out.append(dialog)
    return out


def _pending_all(store: Store, work: list, cfg: DistillConfig, backend: str, model: str | None, force: bool,
                 report: DistillReport) -> list:
    """(kind, pending, strategy) per kind of work, dialogs first; cfg.limit counts them together."""
    out, left = [], cfg.limit
    for kind, items, strategy in work:
        pending = _pending(store, items, strategy.version, backend, model, force, report, kind)
        if left is not None:
            pending, left = pending[:left], left - min(left, len(pending))
        out.append((kind, pending, strategy))
    report.pending = sum(len(p) for _, p, _ in out)
    return out


def _pending(store: Store, dialogs: list[Dialog], version: str, backend: str,
             model: str | None, force: bool, report: DistillReport, kind: str = KIND) -> list[Dialog]:
    done = {r[0]: r[1:] for r in store.db.execute(
        "SELECT conversation_id, input_hash, prompt_version, backend, model FROM modules WHERE kind = ?", (kind,))}
    pending = []
    for d in dialogs:
        prev = done.get(d.conversation_id)
        same = prev is not None and prev[:3] == (d.input_hash, version, backend) \
            and (model is None or prev[3] == model)
        if same and not force:
            report.done_before += 1
        else:
            pending.append(d)
    return pending


def _remove_stale(store: Store, kind: str = KIND) -> int:
    """Modules of conversations clean no longer keeps anything of (dropped by the person, or re-judged)."""
    stale = [r[0] for r in store.db.execute(
        "SELECT id FROM modules WHERE kind = ? AND conversation_id NOT IN"
        " (SELECT conversation_id FROM clean_messages WHERE keep = 1)", (kind,))]
    if stale:
        with store.transaction() as db:
            db.executemany("DELETE FROM modules WHERE id = ?", [(s,) for s in stale])
        for s in stale:
            export.remove_files(store.workspace, s)
    return len(stale)


# --- work ------------------------------------------------------------------------------------------------


@dataclass
class _Job:
    """One chunk of one dialog on its way to a draft."""

    dialog: Dialog
    chunk: Chunk
    request: Request
    answer: Answer | None = None
    draft: Draft | None = None
    error: str = ""


def _jobs(dialog: Dialog, cfg: DistillConfig, strategy) -> list[_Job]:
    chunks = [c for c in chunk_dialog(dialog, cfg.chunk_chars, cfg.overlap_chars) if c.user_chars]
    return [_Job(dialog, c, _request(strategy, dialog, c, len(chunks), cfg)) for c in chunks]


def _request(strategy, dialog: Dialog, chunk: Chunk, chunks: int, cfg: DistillConfig) -> Request:
    r = strategy.request(dialog, chunk, chunks, cfg.backend.max_tokens)
    # explicit settings, so the cache key changes with them
    r.max_tokens, r.temperature = r.max_tokens or cfg.backend.max_tokens, cfg.backend.temperature
    return r


def _answer(jobs: list[_Job], cached: CachedBackend, strategy, first: bool = True) -> None:
    if hasattr(strategy, "attach"):  # the decomposed mode makes its further narrow calls through the same cache
        strategy.attach(cached)
    answers = cached.complete_many([j.request for j in jobs])
    if first and answers and all(a.error for a in answers):
        # nothing worked (server down, model missing): stop here; finished work is kept and a re-run resumes
        raise answers[0].error
    for job, a in zip(jobs, answers):
        job.answer = a
        if a.error:
            job.draft, job.error = None, f"backend failed: {a.error}"
            continue
        try:
            job.draft, job.error = strategy.draft(a.text, job.dialog, job.chunk), ""
        except DraftError as e:
            job.draft, job.error = None, str(e)


def _distill_batch(store: Store, dialogs: list[Dialog], cfg: DistillConfig, strategy, cached: CachedBackend,
                   report: DistillReport, run_id: int, kind: str = KIND) -> None:
    by_dialog = _drafts(dialogs, cfg, strategy, cached, report)
    for d in dialogs:
        _save(store, d, by_dialog.get(d.conversation_id, []), strategy, report, run_id, kind)


def _drafts(dialogs: list[Dialog], cfg: DistillConfig, strategy, cached: CachedBackend,
            report: DistillReport) -> dict[str, list[_Job]]:
    """Every chunk of the dialogs asked (cached), repaired, retried once where that may help; jobs by dialog."""
    jobs = [j for d in dialogs for j in _jobs(d, cfg, strategy)]
    report.chunks += len(jobs)
    _answer(jobs, cached, strategy)
    again = []
    for j in jobs:
        if j.draft is None and j.answer and not j.answer.error and strategy.retries:
            retry = strategy.retry(j.request, j.answer.text or "", j.error, j.dialog)
            if retry is not None:
                again.append(_Job(j.dialog, j.chunk, retry))
    if again:
        report.retries += len(again)
        _answer(again, cached, strategy, first=False)
        redo = {(id(j.dialog), j.chunk.index): j for j in again}
        jobs = [_after_retry(j, redo.get((id(j.dialog), j.chunk.index))) for j in jobs]
    by_dialog: dict[str, list[_Job]] = defaultdict(list)
    for j in jobs:
        by_dialog[j.dialog.conversation_id].append(j)
    return by_dialog


def _build(dialog: Dialog, jobs: list[_Job], strategy, report: DistillReport) -> Module | None:
    """The dialog's module from the chunks that gave a draft (None when none did); counts what assembly fixed."""
    good = [(j.draft, j.chunk.user_chars) for j in jobs if j.draft is not None]
    if not good:
        return None
    who = f"{report.backend}:{report.model}"
    if hasattr(strategy, "build"):  # papers: the digest merged too
        module, dropped = strategy.build(dialog, good, who)
    else:
        module, dropped = build_module(dialog, merge(good), who, strategy.version)
    report.quotes_dropped += dropped
    outcome = meta_move_outcome(module)
    report.meta_moves_mapped += outcome == "mapped"
    report.meta_moves_rejected += outcome == "rejected"
    return module


def distill_dialogs(cache_store: Store, dialogs: list[Dialog], cfg: DistillConfig,
                    backend: Backend) -> tuple[list[tuple[Dialog, Module | None, list[str]]], DistillReport]:
    """Modules for dialogs that live outside the store (the labelled set), through the backend's strategy and
    `cache_store`'s call cache, so a re-run asks no model. Nothing but the cache is written. Returns each dialog
    with its module (None when every chunk failed) and the errors of its failed chunks, and the counts."""
    strategy = strategy_for(backend.name, cfg.mode, not cfg.backend.model)
    report = DistillReport(backend=backend.name, model=backend.model, prompt_version=strategy.version,
                           eligible=len(dialogs), pending=len(dialogs))
    cached = CachedBackend(cache_store, backend, strategy.version)
    out = []
    for i in range(0, len(dialogs), cfg.backend.concurrency):
        part = dialogs[i : i + cfg.backend.concurrency]
        by_dialog = _drafts(part, cfg, strategy, cached, report)
        for d in part:
            jobs = by_dialog.get(d.conversation_id, [])
            module = _build(d, jobs, strategy, report)
            report.distilled += module is not None
            report.failed += module is None
            report.chunk_failures += sum(j.draft is None for j in jobs)
            out.append((d, module, [j.error for j in jobs if j.draft is None]))
        _count_calls(report, [cached])
    return out, report


def _after_retry(job: _Job, retried: _Job | None) -> _Job:
    """The retry where there was one; where the retry itself could not be sent, the first answer and both errors."""
    if retried is None:
        return job
    if retried.answer and retried.answer.error:
        job.error = f"{job.error}; the retry failed too: {retried.error}"
        return job
    return retried


def _save(store: Store, dialog: Dialog, jobs: list[_Job], strategy, report: DistillReport, run_id: int,
          kind: str = KIND) -> None:
    """The dialog's module and its failures, in one transaction. A long dialog whose chunks partly failed still
    gets a module from the chunks that worked; the failed ones are listed by `twinforge failures`."""
    bad = [j for j in jobs if j.draft is None]
    module = _build(dialog, jobs, strategy, report)
    now = now_iso()
    with store.transaction() as db:
        db.execute("DELETE FROM distill_failures WHERE conversation_id = ?", (dialog.conversation_id,))
        db.executemany("INSERT OR REPLACE INTO distill_failures VALUES (?, ?, ?, ?, ?, ?, ?)", [
            (dialog.conversation_id, j.answer.key if j.answer else "", j.chunk.index,
             (j.answer.text if j.answer else None) or "", j.error, now, run_id) for j in bad])
        if module is not None:
            db.execute("INSERT OR REPLACE INTO modules VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (
                module.id, dialog.conversation_id, kind, module.language, module.model_dump_json(),
                report.backend, report.model, strategy.version,
                dialog.input_hash, now, run_id))
            # before the commit: a module the store lists always has its files (a kill here rolls the row back)
            if export.write_files(store.workspace, module, dialog.title):
                report.edits_kept.append(module.id)
    report.chunk_failures += len(bad)
    if module is None:
        report.failed += 1
        return
    report.distilled += 1
    report.papers += kind == PAPER_KIND
    report.modules.append(module.id)


# --- dry run ---------------------------------------------------------------------------------------------


def _estimate(todo: list, cfg: DistillConfig, report: DistillReport) -> None:
    """Render every request that would be sent; count its tokens (Qwen's tokenizer); estimate the time."""
    texts: list[str] = []
    chunks = answer_tokens = 0
    for d, strategy in ((d, s) for _, pending, s in todo for d in pending):
        for j in _jobs(d, cfg, strategy):
            if not report.sample:
                report.sample = [dict(m) for m in j.request.messages]
            chunks += 1
            # the decomposed mode makes several narrow calls a chunk, each with a short answer
            for r in strategy.requests(d, j.chunk) if hasattr(strategy, "requests") else [j.request]:
                texts.append("\n".join(m["content"] for m in r.messages))
                answer_tokens += min(cfg.output_tokens, r.max_tokens or cfg.backend.max_tokens)
    report.chunks = chunks
    counts = count_tokens_batch(texts) if texts else []
    report.prompt_tokens = sum(counts)
    report.longest_request = max(counts, default=0)
    report.output_tokens = answer_tokens
    tps = cfg.tokens_per_second or TOKENS_PER_SECOND.get(report.backend)
    if report.backend == "extractive" and not cfg.tokens_per_second:
        report.seconds = 0.0
    elif tps:
        report.seconds = round(report.output_tokens / tps + report.prompt_tokens / (tps * PREFILL_SPEEDUP), 1)
        source = ("distill.tokens_per_second in the recipe" if cfg.tokens_per_second else
                  f"an assumed figure for any {report.backend} model, not measured: set distill.tokens_per_second "
                  "to your model's speed")
        report.speed_basis = (f"{tps:g} answer tokens/s and {tps * PREFILL_SPEEDUP:g} prompt tokens/s, from "
                              f"{source}")


def failures(store: Store) -> list[dict]:
    rows = store.db.execute(
        "SELECT f.*, c.title FROM distill_failures f LEFT JOIN conversations c ON c.id = f.conversation_id"
        " ORDER BY f.created_at, f.conversation_id, f.chunk").fetchall()
    return [{"conversation_id": r["conversation_id"], "title": r["title"], "chunk": r["chunk"], "key": r["key"],
             "error": r["error"], "raw": r["raw"], "created_at": r["created_at"],
             "module": module_id(r["conversation_id"])} for r in rows]


def module_json(store: Store, mid: str) -> dict | None:
    row = store.db.execute("SELECT json FROM modules WHERE id = ?", (mid,)).fetchone()
    return orjson.loads(row[0]) if row else None
