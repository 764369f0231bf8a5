"""`twinforge run` and `twinforge demo`: the configured stages in order."""

from __future__ import annotations

from pathlib import Path

import click

from ..backends.base import BACKENDS
from ..config import load_recipe
from ..errors import ConfigError
from ..runner import RunReport, run_recipe
from ..stage import StageResult
from . import durations
from .group import Ctx, cli, progress_wanted
from .options import config_option


def _started(stage: str) -> None:
    click.echo(f"[{stage}] running…", err=True)  # stderr: shows while it runs, even with stdout redirected


def _finished(r: StageResult, allowed: bool = False) -> None:
    summary = ", ".join(f"{k} {_value(v)}" for k, v in r.summary.items() if v not in (None, "", 0, False))
    state = "ok" if r.ok else "FAILED (allowed by the recipe)" if allowed else "FAILED"
    took = f" ({durations.measured(r.seconds)}, {r.cpu_seconds:.0f} CPU-s)" if r.seconds is not None else ""
    click.echo(f"[{r.stage}] {state}: {summary or 'nothing to do'}{took}")
    for p in r.failed:
        click.echo(f"  error: {p}", err=True)
    for n in r.notes:
        click.echo(f"  note: {n}")


def _value(v) -> str:
    """A nested count ({view: n}) as one token, so the line stays `key value, key value`."""
    if isinstance(v, dict):
        return "/".join(f"{k}={_value(x)}" for k, x in v.items()) or "-"
    if isinstance(v, list | tuple):
        return "/".join(_value(x) for x in v) or "-"
    return str(v).replace(", ", ",")


def _run(store, recipe) -> RunReport:
    allowed = set(recipe.allow_failures)
    return run_recipe(store, recipe, progress=progress_wanted(), on_stage=_started,
                      on_result=lambda r: _finished(r, r.stage in allowed))


def _verdict(report: RunReport) -> None:
    """One closing line; a run with a failed stage exits 1."""
    if report.not_run:
        click.echo(f"not run after the failure: {', '.join(report.not_run)}", err=True)
    failed = [r.stage for r in report.results if not r.ok]
    if not report.ok:
        click.echo(f"error: the run failed at {', '.join(failed)}", err=True)
        raise SystemExit(1)
    if failed:
        click.echo(f"run finished; failures allowed by the recipe in: {', '.join(failed)}")


@cli.command()
@config_option()
@click.pass_obj
def run(obj: Ctx, config: str) -> None:
    """Run the recipe's stages in order, skipping work already done."""
    recipe = load_recipe(config)
    with obj.store() as store:
        _verdict(_run(store, recipe))


@cli.command()
@click.option("--input", "-i", "input_", default="examples/sample-archive", show_default=True,
              type=click.Path(), help="Archive folder, zip or file to run the demo pipeline on.")
@click.option("--backend", type=click.Choice(sorted(BACKENDS)), help="Distill with this backend instead of the "
              "recipe's embedded model (extractive: instant, no model).")
@click.option("--question", "-q", help="Question the twin answers at the end, from memory with citations "
              "(default: one about the archive's most recurring theme).")
@click.pass_obj
def demo(obj: Ctx, input_: str, backend: str | None, question: str | None) -> None:
    """Run the whole pipeline (the bundled `demo` recipe) on an archive, show its volumes, and answer one
    question from the twin's memory with citations."""
    if not Path(input_).exists():
        raise ConfigError(f"demo input {input_} not found", "run from the repository root, or pass --input DIR")
    recipe = load_recipe("demo")
    recipe.ingest.inputs = [input_]
    if backend:
        recipe.distill.backend.name = backend
    with obj.store() as store:
        report = _run(store, recipe)
    _verdict(report)
    click.echo(f"\nworkspace: {obj.workspace}  (next: twinforge -w {obj.workspace} rejects | messages --cleaned)")
    from .clean import funnel
    from .inspect import stats

    click.get_current_context().invoke(stats)
    click.get_current_context().invoke(funnel)
    if "memory" in recipe.stages:
        with obj.store() as store:
            _answer_one(store, recipe, question)


def _answer_one(store, recipe, question: str | None) -> None:
    """The twin answers one question from memory, with the persona card as its system prompt."""
    from ..memory.ask import ask
    from ..store.persona_card import read_data, system_prompt

    data = read_data(store) or {}
    if not question:
        themes = [t["theme"] for t in data.get("themes") or []]
        topic = themes[0] if themes else None
        if topic is None or any("а" <= ch <= "я" or ch == "ё" for ch in topic.lower()):  # the theme's language
            question = f"Что я думал о теме «{topic}»?" if topic else "О чём я думал больше всего?"
        else:
            question = f"What did I think about {topic}?" if topic else "What did I think about most?"
    answer = ask(store, question, backend=recipe.distill.backend, cfg=recipe.memory,
                 system_prompt=system_prompt(store))
    click.echo(f"\nQ: {question}\nA ({answer.backend}): {answer.answer}")
    if answer.uncited_note:
        click.echo(answer.uncited_note)
    for src in answer.sources:
        click.echo(f"  [{src.n}] {src.title} ({src.date or 'no date'}) {src.locator()}")
