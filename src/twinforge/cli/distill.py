"""`twinforge distill`, `modules`, `failures`."""

from __future__ import annotations

import json

import click

from ..backends.base import BACKENDS
from ..config import load_recipe
from ..distill import export
from ..distill.run import distill as run_distill
from ..distill.run import failures as list_failures
from ..errors import TwinforgeError
from .group import Ctx, cli, progress_wanted


def _ensure_cleaned(store) -> None:
    if not store.db.execute("SELECT 1 FROM clean_messages LIMIT 1").fetchone():
        raise TwinforgeError(f"nothing cleaned in {store.workspace}",
                             "run `twinforge ingest PATH` and `twinforge clean` first")


@cli.command()
@click.option("--config", "-c", "config", default="default", show_default=True,
              help="Recipe whose `distill:` section to use (YAML file or bundled recipe name).")
@click.option("--backend", type=click.Choice(list(BACKENDS)), help="Backend to use instead of the recipe's.")
@click.option("--model", help="Model instead of the recipe's (a name for openai, a GGUF path for llamacpp, "
              "a Hugging Face folder for transformers).")
@click.option("--limit", type=click.IntRange(min=1), help="Distill at most this many conversations this run.")
@click.option("--force", is_flag=True, help="Redo conversations already distilled (answers still come from the "
              "call cache).")
@click.option("--dry-run", is_flag=True, help="Render the prompts, print one, estimate tokens and time; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def distill(obj: Ctx, config: str, backend: str | None, model: str | None, limit: int | None, force: bool,
            dry_run: bool, as_json: bool) -> None:
    """Turn each dialog clean kept into a thinking module: phrase → concepts → meta-move, then axes, inversions,
    hypotheses, transition rules, open questions and verbatim quotes with message ids.

    Modules go to twin.db and to WORKSPACE/modules/<id>.md and <id>.yaml. Every backend call is cached and each
    conversation is committed when done, so a re-run is free and a killed run resumes. Answers that stay
    unusable after repair and one retry are listed by `twinforge failures`.
    """
    cfg = load_recipe(config).distill
    cfg.backend = cfg.backend.overridden(backend, model)
    if limit:
        cfg.limit = limit
    with obj.store(create=False) as store:
        _ensure_cleaned(store)
        report = run_distill(store, cfg, progress=progress_wanted(), dry_run=dry_run, force=force)
        workspace = store.workspace
    if as_json:
        click.echo(json.dumps(report.as_dict() | {"module_ids": report.modules}, ensure_ascii=False, indent=2))
        return
    r = report
    who = f"{r.backend}" + (f" ({r.model})" if r.model and r.model != r.backend else "")
    click.echo(f"dialogs: {r.eligible} kept by clean, {r.done_before} distilled before, {r.pending} to do"
               f" — backend {who}, prompt {r.prompt_version}")
    if dry_run:
        if r.sample:
            click.echo("\n--- one rendered request ---")
            for m in r.sample:
                click.echo(f"[{m['role']}]\n{m['content']}\n")
        secs = "instant" if r.seconds == 0 else (f"~{_duration(r.seconds)}" if r.seconds is not None else "unknown")
        click.echo(f"would send {r.chunks} requests: {r.prompt_tokens:,} prompt tokens (Qwen), up to"
                   f" ~{r.output_tokens:,} answer tokens; time {secs}"
                   + (f" (at {r.speed_basis})" if r.speed_basis else ""))
        room = cfg.backend.context - cfg.backend.max_tokens
        if r.backend == "llamacpp" and r.longest_request > room:
            click.echo(f"warning: the longest request has {r.longest_request:,} prompt tokens, more than the "
                       f"{room:,} that backend.context ({cfg.backend.context}) leaves beside max_tokens"
                       f" ({cfg.backend.max_tokens}): lower distill.chunk_chars or raise backend.context")
        click.echo("dry run: nothing was written")
        return
    click.echo(f"modules written: {r.distilled}" + (f" ({r.papers} paper digests)" if r.papers else "")
               + f"; failed: {r.failed}; chunks: {r.chunks}; backend calls: {r.calls},"
               f" cache hits: {r.cache_hits}, retries: {r.retries}; quotes dropped (not verbatim): {r.quotes_dropped}"
               + (f"; stale modules removed: {r.removed}" if r.removed else ""))
    click.echo(f"files: {workspace / export.MODULES_DIR}  (next: twinforge modules"
               + (", twinforge failures" if r.failed or r.chunk_failures else "") + ")")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def modules(obj: Ctx, as_json: bool) -> None:
    """The thinking modules distilled so far: id, title, language, phrase, meta-move, conversation."""
    with obj.store(create=False) as store:
        rows = export.listing(store)
        folder = store.workspace / export.MODULES_DIR
    for m in rows:
        if as_json:
            click.echo(json.dumps(m, ensure_ascii=False))
        else:
            click.echo(f"{m['id']}  [{m['language']}] {m['title']}\n    {m['meta_move']}: {m['phrase']}")
    if not as_json:
        click.echo(f"{len(rows)} modules" + (f" in {folder}" if rows else " (run `twinforge distill`)"))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, with the raw answer.")
@click.pass_obj
def failures(obj: Ctx, as_json: bool) -> None:
    """Model answers distill could not use even after repair and a retry, with the error and the raw text."""
    with obj.store(create=False) as store:
        rows = list_failures(store)
    for f in rows:
        if as_json:
            click.echo(json.dumps(f, ensure_ascii=False))
        else:
            raw = " ".join(f["raw"].split())
            click.echo(f"{f['conversation_id']} [{(f['title'] or '')[:40]}] chunk {f['chunk']}: {f['error']}\n"
                       f"    raw: {raw[:160] + ('…' if len(raw) > 160 else '') or '(no answer)'}")
    if not as_json:
        click.echo(f"{len(rows)} failed answers" + (" — change the model or prompt and run `twinforge distill`"
                                                    if rows else ""))
