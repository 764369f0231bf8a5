"""`twinforge expand` and `twinforge examples`."""

from __future__ import annotations

import json

import click

from ..config import load_recipe
from ..expand.run import as_config, require_modules
from ..expand.run import expand as run_expand
from ..expand.views import VIEWS
from ..store import listings
from .group import Ctx, cli, progress_wanted
from .options import config_option, dry_run_option, json_option


@cli.command()
@config_option("expand")
@click.option("--view", "views", multiple=True, type=click.Choice(list(VIEWS)),
              help="Only these views (repeatable; default: the recipe's).")
@click.option("--per-view", type=click.IntRange(min=0), help="At most this many items of each view per module.")
@click.option("--phrasings", type=click.IntRange(1, 8), help="Wordings per item in the template-asked views.")
@click.option("--limit", type=click.IntRange(min=1), help="Expand at most this many new or changed modules.")
@dry_run_option()
@json_option("Print the report as JSON.")
@click.pass_obj
def expand(obj: Ctx, config: str, views: tuple[str, ...], per_view: int | None, phrasings: int | None,
           limit: int | None, dry_run: bool, as_json: bool) -> None:
    """Turn thinking modules into training examples in several views, and report the expansion ratio.

    Views: qa (the person's question → their own later words, or the assistant's reply when theirs are
    short), dialog (multi-turn windows of the original dialog), next_move (roles flipped: the person's next
    turn), concept, inversion, hypothesis, transition, continue, poles (an axis's two poles compared),
    critique (of the module's own premise), own_words (the person's paragraph behind a quote), reverse
    (answer → question). Template-asked views word each item `--phrasings` ways; no two examples are equal.
    A re-run redoes only modules that changed. Pages in are the source dialogs' kept characters; 1 page =
    1,800 characters; "unique" counts only distinct text (repeated wording and reused answers excluded).
    """
    cfg = as_config(load_recipe(config).expand)
    if views:
        cfg.views = list(views)
    if per_view is not None:
        cfg.per_view = per_view
    if phrasings is not None:
        cfg.phrasings = phrasings
    with obj.store(create=False) as store:
        report = run_expand(store, cfg, limit=limit, dry_run=dry_run, progress=progress_wanted())
    data = report.as_dict()
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"modules: {report.modules} ({report.expanded} expanded, {report.unchanged} unchanged"
               + (f", {report.pending} left for the next run" if report.pending else "")
               + (f", {report.skipped_flagged} flagged by the quality score left out" if report.skipped_flagged
                  else "") + ")")
    for bad in report.invalid:
        click.echo(f"  invalid module {bad['module_id']}: {bad['error']}", err=True)
    click.echo(f"\n{'view':<12}{'examples':>10}{'pages':>10}{'tokens':>12}{'ratio':>8}{'unique':>8}")
    for view, b in [*data["views"].items(), ("total", data["total"])]:
        ratio = f"{b['ratio']:.2f}" if b["ratio"] is not None else "-"
        unique = f"{b['unique_ratio']:.2f}" if b["unique_ratio"] is not None else "-"
        click.echo(f"{view:<12}{b['examples']:>10,}{b['pages']:>10,}{b['tokens']:>12,}{ratio:>8}{unique:>8}")
    click.echo(f"\n{data['pages_in']:,} pages in → {data['total']['pages']:,} pages out"
               f" ({data['total']['unique_pages']:,} of them distinct text)")
    if dry_run:
        click.echo("dry run: nothing was written")


@cli.command()
@click.option("--view", type=click.Choice(list(VIEWS)), help="Only this view.")
@click.option("--module", "module_id", help="Only this module's examples.")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many (0: all).")
@json_option("One JSON object per line.")
@click.pass_obj
def examples(obj: Ctx, view: str | None, module_id: str | None, limit: int, as_json: bool) -> None:
    """List the training examples `twinforge expand` made, with their module and view."""
    with obj.store(create=False) as store:
        require_modules(store.db, store.workspace)
        rows = listings.examples(store, view=view, module_id=module_id, limit=limit or None)
    if not rows and not as_json:
        click.echo("no examples" + (" match" if view or module_id else " yet — run `twinforge expand`"), err=True)
    for r in rows:
        if as_json:
            click.echo(json.dumps({
                "id": r.id, "module_id": r.module_id, "view": r.view, "language": r.language,
                "messages": r.messages, "chars": r.chars, "tokens": r.tokens, "meta": r.meta,
            }, ensure_ascii=False))
        else:
            click.echo(f"{r.view:<11} {r.id}  module {r.module_id}")
            for m in r.messages:
                click.echo(f"  {m['role']}: {_short(m['content'])}")


def _short(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "…"
