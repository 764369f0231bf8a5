"""The expand stage: modules → training examples in several views, and the expansion ratio.

Each module is expanded from its JSON, its source dialog (as clean kept it), the templates of its language and
the config. A hash of those four is its signature: a re-run skips modules whose signature is unchanged and
replaces the examples of the others, so it is idempotent and cheap. Modules that distill no longer holds take
their examples with them. Within a module no two examples are the same chat (deduplicated by content hash);
`volumes` also reports how much of the output is distinct text, so repeated wording is never mistaken for
new content. The whole stage is one transaction: an interrupted run leaves the previous results,
and a dry run rolls back after computing its report.

Then the generated views (generated_run.py): examples a model writes, each passed or set aside by the quality
gate (gate.py), committed module by module outside that transaction so a long generation resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3
from dataclasses import dataclass, field

import orjson
from pydantic import ValidationError
from tqdm import tqdm

from ..backends.base import Backend
from ..distill.schema import Module
from ..errors import ConfigError, TwinforgeError
from ..store import Store
from ..text.tokens import count_tokens_batch
from . import source, templates
from .config import GENERATED_VIEWS, ExpandConfig
from .generated_run import check_generated, generate
from .views import VIEWS, Context, Example, example_id
from .volume import volumes

VERSION = 2  # bump when a view's code changes what it produces: every module is expanded again


@dataclass
class ExpandReport:
    modules: int = 0
    expanded: int = 0  # expanded by this run (new or changed)
    unchanged: int = 0
    pending: int = 0  # changed but left for a later run by --limit
    skipped_flagged: int = 0  # left out: the quality score flagged them (cfg.skip_flagged)
    invalid: list[dict] = field(default_factory=list)  # {module_id, error}: rows that fail the Module schema
    volumes: dict = field(default_factory=dict)  # pages in, per view and total out, ratios
    generated: dict = field(default_factory=dict)  # the generated views: kept / rejected per view (generated_run)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"modules": self.modules, "expanded": self.expanded, "unchanged": self.unchanged,
                "pending": self.pending, "skipped_flagged": self.skipped_flagged, "invalid": self.invalid,
                **self.volumes, "generated": self.generated, "notes": self.notes}


class _DryRun(Exception):
    """Raised at the end of a dry run's transaction to roll it back."""


def as_config(cfg) -> ExpandConfig:
    """The recipe's `expand:` section as this stage's config (a recipe section of an older shape is re-read)."""
    if cfg is None:
        return ExpandConfig()
    if isinstance(cfg, ExpandConfig):
        return cfg
    try:
        return ExpandConfig.model_validate(cfg.model_dump())
    except ValidationError as e:
        err = e.errors()[0]
        raise ConfigError(f"expand.{'.'.join(map(str, err['loc']))}: {err['msg']}") from e


def check_views(cfg: ExpandConfig) -> list[str]:
    unknown = [v for v in [*cfg.views, *cfg.counts] if v not in VIEWS]
    if unknown:
        raise ConfigError(f"unknown expand view(s): {', '.join(unknown)}", f"available: {', '.join(VIEWS)}")
    return list(dict.fromkeys(cfg.views))


def require_modules(db: sqlite3.Connection, workspace) -> None:
    has_table = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'modules'").fetchone()
    if not has_table or not db.execute("SELECT 1 FROM modules LIMIT 1").fetchone():
        raise TwinforgeError(f"no modules in {workspace}", "run `twinforge distill` first")


def expand(store: Store, cfg: ExpandConfig | None = None, limit: int | None = None, dry_run: bool = False,
           progress: bool = False, backend: Backend | None = None) -> ExpandReport:
    """Expand every new or changed module (at most `limit` of them), then run the generated views (through
    `backend` when given, else the config's). With dry_run, report but write nothing (and generate nothing)."""
    cfg = as_config(cfg)
    views = check_views(cfg)
    check_generated(cfg.generated)
    require_modules(store.db, store.workspace)
    report = ExpandReport()
    run_id = None if dry_run else store.start_run("expand", cfg.model_dump())
    try:
        try:
            with store.transaction() as db:
                _expand_all(db, cfg, views, limit, report, run_id, progress)
                report.volumes = volumes(db)
                if dry_run:
                    raise _DryRun
        except _DryRun:
            if cfg.generated.views:
                report.notes.append("dry run: the generated views were not run")
        else:
            gen = generate(store, cfg, run_id, progress, backend)
            report.generated = gen.as_dict() if gen.views and not gen.skipped else {}
            report.notes += [gen.skipped] if gen.skipped else []
            report.volumes = volumes(store.db)
        if run_id is not None:
            store.finish_run(run_id, "ok", report.as_dict())
    except BaseException as e:
        if run_id is not None:
            store.finish_run(run_id, "interrupted" if isinstance(e, KeyboardInterrupt) else "failed", error=str(e))
        raise
    return report


def _expand_all(db: sqlite3.Connection, cfg: ExpandConfig, views: list[str], limit: int | None,
                report: ExpandReport, run_id: int | None, progress: bool) -> None:
    # modules distill dropped (or re-keyed) take their examples with them
    db.execute("DELETE FROM examples WHERE module_id NOT IN (SELECT id FROM modules)")
    db.execute("DELETE FROM expanded_modules WHERE module_id NOT IN (SELECT id FROM modules)")
    db.execute("DELETE FROM example_rejects WHERE module_id NOT IN (SELECT id FROM modules)")
    db.execute("DELETE FROM generated_modules WHERE module_id NOT IN (SELECT id FROM modules)")
    known = dict(db.execute("SELECT module_id, signature FROM expanded_modules"))
    rows = db.execute("SELECT id, json FROM modules ORDER BY id").fetchall()
    flagged = {r[0] for r in db.execute("SELECT module_id FROM module_scores WHERE flagged = 1")} \
        if cfg.skip_flagged else set()
    report.modules = len(rows)
    for module_id, raw in tqdm(rows, desc="expand", unit="module", disable=not progress, leave=False):
        if module_id in flagged:
            report.skipped_flagged += 1
            _forget(db, module_id)  # examples of a module since flagged go too; unflagged, it is expanded again
            continue
        try:
            module = Module.model_validate_json(raw)
        except ValidationError as e:
            err = e.errors()[0]
            report.invalid.append({"module_id": module_id,
                                   "error": f"{'.'.join(map(str, err['loc']))}: {err['msg']}"})
            _forget(db, module_id)  # its old examples describe a module that no longer reads
            continue
        turns = source.dialog(db, module.conversation_id)
        tpl = templates.load(module.language)
        sig = _signature(raw, turns, tpl, cfg)
        if known.get(module_id) == sig:
            report.unchanged += 1
            continue
        if limit is not None and report.expanded >= limit:
            report.pending += 1
            continue
        ctx = Context(module, turns, tpl, cfg.seed, cfg.own_words_min_chars, cfg.phrasings, cfg.window)
        examples = _unique({v: _capped(VIEWS[v](ctx), cfg.counts.get(v, cfg.per_view), cfg.seed, module_id, v)
                            for v in views})
        _write(db, module_id, module, examples, tpl.language, run_id)
        db.execute("INSERT OR REPLACE INTO expanded_modules VALUES (?, ?, ?, ?, ?, ?)",
                   (module_id, module.conversation_id, sig, source.chars(turns),
                    sum(map(len, examples.values())), run_id))
        report.expanded += 1


def _signature(raw: str, turns: list[source.Turn], tpl: templates.Templates, cfg: ExpandConfig) -> str:
    # skip_flagged says which modules are expanded, not what a module gives: toggling it redoes nothing
    # nor do the generated views (generated_run.py keeps its own signature)
    parts = [str(VERSION), raw, source.digest(turns), tpl.digest,
             cfg.model_dump_json(exclude={"skip_flagged", "generated"})]
    return hashlib.sha1("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _capped(examples: list[Example], n: int, seed: int, module_id: str, view: str) -> list[Example]:
    """The examples of at most n items (all wordings of each), items chosen by seed when there are more."""
    items = list(dict.fromkeys(ex.item for ex in examples))
    if len(items) <= n:
        return examples
    keep = set(random.Random(f"{seed}:{module_id}:{view}").sample(items, n))
    return [ex for ex in examples if ex.item in keep]


def content_key(messages: list[dict]) -> bytes:
    return hashlib.sha1(orjson.dumps(messages)).digest()


def _unique(examples: dict[str, list[Example]]) -> dict[str, list[Example]]:
    """Each chat once: a later view's (or wording's) exact copy of an earlier example is dropped."""
    seen: set[bytes] = set()
    out = {}
    for view, exs in examples.items():
        out[view] = []
        for ex in exs:
            key = content_key(ex.messages)
            if key not in seen:
                seen.add(key)
                out[view].append(ex)
    return out


def _forget(db: sqlite3.Connection, module_id: str) -> None:
    for table in ("examples", "expanded_modules", "example_rejects", "generated_modules"):
        db.execute(f"DELETE FROM {table} WHERE module_id = ?", (module_id,))


def _write(db: sqlite3.Connection, module_id: str, module: Module, examples: dict[str, list[Example]],
           language: str, run_id: int | None) -> None:
    # the generated views' examples are generated_run's to replace
    db.execute(f"DELETE FROM examples WHERE module_id = ? AND view NOT IN ({','.join('?' * len(GENERATED_VIEWS))})",
               (module_id, *GENERATED_VIEWS))
    flat = [(view, i, ex) for view, exs in examples.items() for i, ex in enumerate(exs)]
    texts = ["\n".join(m["content"] for m in ex.messages) for _, _, ex in flat]
    tokens = count_tokens_batch(texts, threads=1) if texts else []
    db.executemany(
        "INSERT INTO examples (id, module_id, view, position, messages, language, chars, tokens, meta, run_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(example_id(module_id, view, i), module_id, view, i, orjson.dumps(ex.messages).decode(),
          module.language or language, sum(len(m["content"]) for m in ex.messages), n,
          orjson.dumps(ex.meta).decode() if ex.meta else None, run_id)
         for (view, i, ex), n in zip(flat, tokens, strict=True)],
    )
