"""`twinforge expand --target-pages/--target-lines`: the volume plan (expand/planner.py), its inputs read from
the store, the throughput from what was stated, a calibration call or the call cache's history, and its report."""

from __future__ import annotations

import json

import click

from ..backends import get_backend
from ..backends.config import BackendConfig
from ..errors import TwinforgeError
from ..expand import planner
from ..expand.config import ExpandConfig
from ..expand.volume import volumes
from ..store import expand_reads
from . import durations


def amount(_ctx, _param, value: str | None) -> float | None:
    """A click callback: '15000', '15k', '1M' → a number."""
    if value is None:
        return None
    try:
        return planner.parse_amount(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def generated_views(cfg: ExpandConfig) -> tuple[list[str], bool]:
    """The recipe's generated views, or every one (and True: none configured, all shown) when it names none."""
    named = list(cfg.generated.views)
    return (named, False) if named else (list(planner.GENERATED), True)


def throughput(store, bcfg: BackendConfig, stated: float | None, prompt_tps: float | None,
               calibrate: bool) -> planner.Throughput | None:
    """Stated figure, else a calibration call, else the call cache's history, else None."""
    if stated:
        return planner.Throughput(stated, f"stated: {stated:,g} answer tokens/s over all servers (--tokens-per-second)"
                                  + (f", {prompt_tps:,g} prompt tokens/s" if prompt_tps else
                                     "; prompt reading not counted (give --prompt-tokens-per-second)"),
                                  prompt_tps)
    if bcfg.name == "extractive":
        return None
    if calibrate:
        backend = get_backend(bcfg)
        try:
            module = store.module_json() or ""
            prompt = ("Here is a thinking module of one person:\n" + module[:3000]
                      + "\n\nWrite one new question this person might ask about it, and answer it in their voice.")
            slots = bcfg.concurrency * max(len(bcfg.base_urls), 1) if bcfg.name == "openai" else 1
            return planner.calibrate(backend, prompt, max(2 * slots, 2))
        finally:
            getattr(backend, "close", lambda: None)()
    return planner.throughput_from_history(store, bcfg.name, bcfg.model)


def make_plan(store, cfg: ExpandConfig, target_pages: float | None, target_lines: float | None, modules: int | None,
              raw: bool, max_per_module: int, stated: float | None, prompt_tps: float | None,
              calibrate: bool) -> tuple[planner.Plan, list[str]]:
    vol = volumes(store.db)
    if not vol["kinds"].get("template"):
        raise TwinforgeError(f"no template-view examples in {store.workspace} to measure yields from",
                             "run `twinforge expand` once first; the plan starts from what it measurably gives")
    n_store = expand_reads.modules_with_examples(store)
    n = modules or n_store
    unit = "pages" if target_pages is not None else "lines"
    target = target_pages if target_pages is not None else target_lines
    views, all_shown = generated_views(cfg)
    yields = planner.view_yields(vol, store, views, max_per_module)
    base = planner.template_yield(vol, store, n_store, unit, not raw)
    bcfg = cfg.generated.backend
    tp = throughput(store, bcfg, stated, prompt_tps, calibrate)
    p = planner.plan(target, unit, n, base, yields, tp, unique=not raw)
    notes = []
    if all_shown:
        notes.append("the recipe names no generated view (expand.generated.views): every one is planned")
    if tp is None:
        notes.append(f"no measured throughput for backend {bcfg.name}: "
                     + ("it writes no generated view (set expand.generated.backend)" if bcfg.name == "extractive"
                        else "no finished run in the call cache; give --calibrate or --tokens-per-second"))
    return p, notes


def apply(cfg: ExpandConfig, p: planner.Plan) -> None:
    """Set the recipe's generated views to those the plan asks of (none asked: left as they are), each with its requests per module in
    expand.generated.counts (what generated_run asks per view per module); a plan that cannot be met fails."""
    if not p.reachable:
        raise TwinforgeError(f"the target of {p.target:,.0f} {'unique ' if p.unique else ''}{p.unit} is not "
                             f"reachable with {p.modules:,} modules (at most {p.most:,.0f})",
                             "lower the target, raise --max-per-module, or add modules; --dry-run shows the plan")
    wanted = {v.view: v.requests_per_module for v in p.views if v.requests_per_module}
    if not wanted:  # the template views meet it: the recipe's generated views stay (emptying them would delete
        return      # examples a model already wrote)
    cfg.generated.views = list(wanted)
    cfg.generated.counts = wanted


def echo_plan(p: planner.Plan, notes: list[str], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(p.as_dict() | {"notes": notes}, ensure_ascii=False, indent=2))
        return
    what = f"{'unique ' if p.unique else ''}{p.unit}"
    click.echo(f"target: {p.target:,.0f} {what} from {p.modules:,} modules — "
               + ("reachable" if p.reachable else f"NOT reachable: at most {p.most:,.0f} with these modules"
                  + (f"; about {p.modules_needed:,} modules would reach it" if p.modules_needed else "")))
    click.echo(f"template views give {p.base:,.0f} {what}; generated views plan (kept per module, requests per "
               "module after the pass rate):")
    click.echo(f"  {'view':<14}{'kept/mod':>9}{'req/mod':>9}{'examples':>10}{'pages':>10}{'unique':>10}"
               f"{'requests':>10}{'tokens':>14}")
    for v in p.views:
        click.echo(f"  {v.view:<14}{v.per_module:>9}{v.requests_per_module:>9}{v.examples:>10,}{v.pages:>10,.0f}"
                   f"{v.unique_pages:>10,.0f}{v.requests:>10,}{v.prompt_tokens + v.output_tokens:>14,}")
    click.echo(f"  {p.requests:,} requests, {p.prompt_tokens:,} prompt + {p.output_tokens:,} answer tokens")
    secs = "unknown" if p.seconds is None else f"~{durations.rough(p.seconds)}"
    click.echo(f"time: {secs} — {p.throughput_basis}")
    for a in p.assumed:
        click.echo(f"assumed, not measured: {a}")
    for note in notes:
        click.echo(f"note: {note}")
