"""`twinforge run` and `twinforge demo`: the configured stages in order."""

from __future__ import annotations

from pathlib import Path

import click

from ..backends.base import BACKENDS
from ..config import load_recipe
from ..errors import ConfigError
from ..runner import StageResult, run_recipe
from .main import Ctx, cli, progress_wanted


def _report(results: list[StageResult]) -> None:
    for r in results:
        summary = ", ".join(f"{k} {v}" for k, v in r.summary.items() if v)
        click.echo(f"[{r.stage}] {'ok' if r.ok else 'FAILED'}: {summary or 'nothing to do'}")
        for p in r.problems:
            click.echo(f"  error: {p}", err=True)
    if not all(r.ok for r in results):
        raise SystemExit(1)


@cli.command()
@click.option("--config", "-c", "config", default="default", show_default=True,
              help="Recipe YAML file, or the name of a bundled recipe (default, demo).")
@click.pass_obj
def run(obj: Ctx, config: str) -> None:
    """Run the recipe's stages in order, skipping work already done."""
    recipe = load_recipe(config)
    with obj.store() as store:
        _report(run_recipe(store, recipe, progress=progress_wanted()))


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
        results = run_recipe(store, recipe, progress=progress_wanted())
    _report(results)
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
    from ..memory.persona import read_data, system_prompt

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
