"""`twinforge expand` and `twinforge examples`."""

from __future__ import annotations

import json

import click

from ..config import load_recipe
from ..expand import planner
from ..expand.config import GENERATED_VIEWS
from ..expand.run import as_config, require_modules
from ..expand.run import expand as run_expand
from ..expand.views import VIEWS
from ..store import listings
from ..store.example_rejects import rejects, view_pass_rates
from . import expand_plan
from .group import Ctx, cli, progress_wanted
from .options import config_option, dry_run_option, json_option


@cli.command()
@config_option("expand")
@click.option("--view", "views", multiple=True, type=click.Choice(list(VIEWS)),
              help="Only these views (repeatable; default: the recipe's).")
@click.option("--per-view", type=click.IntRange(min=0), help="At most this many items of each view per module.")
@click.option("--phrasings", type=click.IntRange(1, 8), help="Wordings per item in the template-asked views.")
@click.option("--limit", type=click.IntRange(min=1), help="Expand at most this many new or changed modules.")
@click.option("--target-pages", callback=expand_plan.amount, metavar="AMOUNT", help="Plan the generated views to "
              "reach this many unique pages (15000, 15k; with --raw: all pages), then expand by the plan.")
@click.option("--target-lines", callback=expand_plan.amount, metavar="AMOUNT", help="The same target in non-empty "
              "lines (1M, 250k).")
@click.option("--raw", is_flag=True, help="The target counts all pages out, repeated text included.")
@click.option("--modules", "plan_modules", type=click.IntRange(min=1), help="Plan for this many modules "
              "(default: the workspace's), at its measured yield per module.")
@click.option("--max-per-module", type=click.IntRange(min=1), default=planner.MAX_PER_MODULE, show_default=True,
              help="Kept examples of one generated view per module at most (past it they restate each other).")
@click.option("--tokens-per-second", type=click.FloatRange(min=0, min_open=True), help="Stated generation "
              "throughput (answer tokens/s, all servers together) for the plan's time, instead of a measured one.")
@click.option("--prompt-tokens-per-second", type=click.FloatRange(min=0, min_open=True), help="With "
              "--tokens-per-second: stated prompt reading speed (default: not counted).")
@click.option("--calibrate", is_flag=True, help="Time a short burst of requests to the generation backend for the "
              "plan's throughput (default: the call cache's latest timed run).")
@dry_run_option("Compute and report (with a target: the plan), write nothing.")
@json_option("Print the report as JSON.")
@click.pass_obj
def expand(obj: Ctx, config: str, views: tuple[str, ...], per_view: int | None, phrasings: int | None,
           limit: int | None, target_pages: float | None, target_lines: float | None, raw: bool,
           plan_modules: int | None, max_per_module: int, tokens_per_second: float | None,
           prompt_tokens_per_second: float | None, calibrate: bool, dry_run: bool, as_json: bool) -> None:
    """Turn thinking modules into training examples in several views, and report the expansion ratio.

    Views: qa (the person's question → their own later words, or the assistant's reply when theirs are
    short), dialog (multi-turn windows of the original dialog), next_move (roles flipped: the person's next
    turn), concept, inversion, hypothesis, transition, continue, poles (an axis's two poles compared),
    critique (of the module's own premise), own_words (the person's paragraph behind a quote), reverse
    (answer → question). Template-asked views word each item `--phrasings` ways; no two examples are equal.
    A re-run redoes only modules that changed. Pages in are the source dialogs' kept characters; 1 page =
    1,800 characters; unique pages = pages in × distinct word 5-grams out (template frame text cut out) ÷
    distinct word 5-grams of the source dialogs.

    With --target-pages or --target-lines, the volume planner works out how many examples of each generated view
    each module needs (from the measured yield and pass rate of each view) and whether the target is reachable
    with these modules; --dry-run prints the plan with its tokens and time (throughput: --tokens-per-second,
    --calibrate, or the call cache's history, named in the output).
    """
    cfg = as_config(load_recipe(config).expand)
    if views:
        cfg.views = list(views)
    if per_view is not None:
        cfg.per_view = per_view
    if phrasings is not None:
        cfg.phrasings = phrasings
    plan = None
    if target_pages is not None or target_lines is not None:
        if target_pages is not None and target_lines is not None:
            raise click.UsageError("give --target-pages or --target-lines, not both")
        with obj.store(create=False) as store:
            plan, notes = expand_plan.make_plan(store, cfg, target_pages, target_lines, plan_modules, raw,
                                                max_per_module, tokens_per_second, prompt_tokens_per_second,
                                                calibrate)
        if dry_run or not as_json:
            expand_plan.echo_plan(plan, notes, as_json)
        if dry_run:
            return
        expand_plan.apply(cfg, plan)
    with obj.store(create=False) as store:
        report = run_expand(store, cfg, limit=limit, dry_run=dry_run, progress=progress_wanted())
    data = report.as_dict() | ({"plan": plan.as_dict()} if plan else {})
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"modules: {report.modules} ({report.expanded} expanded, {report.unchanged} unchanged"
               + (f", {report.pending} left for the next run" if report.pending else "")
               + (f", {report.skipped_flagged} flagged by the quality score left out" if report.skipped_flagged
                  else "") + ")")
    for bad in report.invalid:
        click.echo(f"  invalid module {bad['module_id']}: {bad['error']}", err=True)
    click.echo(f"\n{'view':<12}{'examples':>10}{'pages':>10}{'tokens':>12}{'ratio':>8}{'unique':>9}{'×unique':>9}")
    rows = [*data["views"].items(), *(((f"[{k}]", b) for k, b in data["kinds"].items()) if len(data["kinds"]) > 1
                                      else ()), ("total", data["total"])]
    for view, b in rows:
        click.echo(f"{view:<12}{b['examples']:>10,}{b['pages']:>10,}{b['tokens']:>12,}{_num(b['ratio']):>8}"
                   f"{_num(b['unique_pages']):>9}{_num(b['unique_ratio']):>9}")
    t = data["total"]
    click.echo(f"\n{data['pages_in']:,} pages in → {t['pages']:,} pages out (×{_num(t['ratio'])}), "
               f"{_num(t['unique_pages'])} unique pages out (×{_num(t['unique_ratio'])})")
    click.echo(f"{data['definition']}; per-view unique pages overlap, the total counts shared text once")
    gen = data.get("generated")
    if gen:
        click.echo(f"\ngenerated by {gen['backend']}: {gen['kept']} kept, {gen['rejected']} set aside by the gate"
                   " (`twinforge examples --rejected`): "
                   + ", ".join(f"{v} {b['kept']}/{b['kept'] + b['rejected']}" for v, b in gen["views"].items()))
    for note in data.get("notes", []):
        click.echo(f"note: {note}")
    if dry_run:
        click.echo("dry run: nothing was written")


@cli.command()
@click.option("--view", type=click.Choice([*VIEWS, *GENERATED_VIEWS]), help="Only this view.")
@click.option("--module", "module_id", help="Only this module's examples.")
@click.option("--rejected", is_flag=True, help="The generated examples the quality gate set aside, with why.")
@click.option("--reason", help="With --rejected: only this reason (ungrounded, near-duplicate, …).")
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many (0: all).")
@json_option("One JSON object per line.")
@click.pass_obj
def examples(obj: Ctx, view: str | None, module_id: str | None, rejected: bool, reason: str | None, limit: int,
             as_json: bool) -> None:
    """List the training examples `twinforge expand` made, with their module and view; with --rejected, the
    model-written ones its quality gate set aside (expand.generated), each with its reason."""
    if rejected:
        _rejected(obj, view, module_id, reason, limit, as_json)
        return
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


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def _rejected(obj: Ctx, view: str | None, module_id: str | None, reason: str | None, limit: int,
              as_json: bool) -> None:
    with obj.store(create=False) as store:
        require_modules(store.db, store.workspace)
        rows = rejects(store, view, module_id, reason, limit)
        rates = view_pass_rates(store)
    if not rows and not as_json:
        click.echo("no rejected examples" + (" match" if view or module_id or reason else ""), err=True)
    for r in rows:
        if as_json:
            click.echo(json.dumps({k: r[k] for k in ("id", "module_id", "view", "backend", "prompt_version",
                                                     "reason", "detail", "messages")}, ensure_ascii=False))
            continue
        click.echo(f"{r['view']:<13} {r['reason']:<18} module {r['module_id']}  ({r['prompt_version']}, "
                   f"{r['backend']})\n  why: {r['detail']}")
        for m in r["messages"]:
            click.echo(f"  {m['role']}: {_short(m['content'])}")
    if rates and not as_json:
        click.echo("\npass rate: " + ", ".join(f"{v} {k}/{k + n}" for v, (k, n) in rates.items()), err=True)


def _short(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "…"
