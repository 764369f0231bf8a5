"""`twinforge dataset`."""

from __future__ import annotations

import json

import click
from pydantic import ValidationError

from ..config import load_recipe
from ..dataset.build import build_dataset
from ..dataset.config import FORMATS, DatasetConfig
from ..errors import ConfigError
from .group import Ctx, cli, progress_wanted
from .options import config_option, json_option


@cli.command()
@config_option("dataset")
@click.option("--name", default="default", show_default=True, help="Dataset folder: WORKSPACE/datasets/NAME.")
@click.option("--val-fraction", type=float, help="Share of conversations held out for validation (0 to <1).")
@click.option("--system-prompt", help="System message put first in every example.")
@click.option("--system-prompt-file", type=click.Path(dir_okay=False), help="Read the system message from a file.")
@click.option("--persona", "use_persona", is_flag=True, help="Use the persona card as the system message.")
@click.option("--mix", "mix", multiple=True, metavar="VIEW=WEIGHT", help="Relative share of a view's examples "
              "(repeatable, e.g. --mix qa=2 --mix concept=0.5); replaces the recipe's dataset.mix.")
@click.option("--format", "formats", multiple=True, type=click.Choice(["all", *FORMATS]),
              help="What to write besides train/val JSONL (repeatable; default: the recipe's, all).")
@click.option("--tokenizer", type=click.Path(file_okay=False), help="Hugging Face tokenizer folder for the token "
              "counts (default: the Qwen tokenizer).")
@json_option("Print the report as JSON.")
@click.pass_obj
def dataset(obj: Ctx, config: str, name: str, val_fraction: float | None, system_prompt: str | None,
            system_prompt_file: str | None, use_persona: bool, mix: tuple[str, ...], formats: tuple[str, ...], tokenizer: str | None,
            as_json: bool) -> None:
    """Write the expanded examples as a training dataset: train.jsonl and val.jsonl split by conversation
    (no conversation on both sides), ShareGPT and Alpaca exports with LLaMA-Factory's dataset_info.json,
    a Hugging Face `datasets` folder, a dataset card, stats.json and a length histogram (lengths.png).

    Tokens are counted in the target tokenizer; 1 A4 page = 1,800 characters. Unchanged inputs leave the
    folder as it is.
    """
    cfg = load_recipe(config).dataset
    changes: dict = {}
    if val_fraction is not None:
        changes["val_fraction"] = val_fraction
    if system_prompt is not None or system_prompt_file or use_persona:
        changes |= {"system_prompt": system_prompt, "system_prompt_file": system_prompt_file,
                    "use_persona": use_persona}
    if formats:
        changes["formats"] = list(FORMATS) if "all" in formats else list(dict.fromkeys(["jsonl", *formats]))
    if tokenizer:
        changes["tokenizer"] = tokenizer
    if mix:
        changes["mix"] = _weights(mix)
    try:
        cfg = DatasetConfig.model_validate(cfg.model_dump() | changes)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise ConfigError(f"dataset{'.' + where if where else ''}: {err['msg'].removeprefix('Value error, ')}") from e
    with obj.store(create=False) as store:
        report = build_dataset(store, cfg, name=name, progress=progress_wanted())
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    s = report.stats
    click.echo(f"dataset {report.name}: {report.path}" + ("  (unchanged)" if report.unchanged else ""))
    click.echo(f"\n{'split':<12}{'examples':>10}{'convs':>7}{'tokens':>12}{'pages':>10}{'lines':>9}")
    for label, b in (("train", s["splits"]["train"]), ("validation", s["splits"]["val"]), ("total", s["total"])):
        click.echo(f"{label:<12}{b['examples']:>10,}{b['conversations']:>7,}{b['tokens']:>12,}{b['pages']:>10,}"
                   f"{b['lines']:>9,}")
    click.echo(f"\n{'view':<14}{'examples':>10}{'tokens':>12}{'pages':>10}{'unique':>9}{'lines':>9}")
    for view, b in s["views"].items():
        unique = "-" if b.get("unique_pages") is None else f"{b['unique_pages']:,.2f}"
        click.echo(f"{view:<14}{b['examples']:>10,}{b['tokens']:>12,}{b['pages']:>10,}{unique:>9}{b.get('lines', 0):>9,}")
    t = s["total"]
    if t.get("unique_pages") is not None:
        click.echo(f"\n{t['pages_in']:,} pages in → {t['pages']:,} pages (×{t['pages'] / t['pages_in']:.2f}), "
                   f"{t['unique_pages']:,} unique pages (×{t['unique_ratio']:.2f}); per-view unique pages overlap")
    L = s["lengths"]
    click.echo(f"\ntokens ({s['tokenizer']}) per example: median {L['p50']:,}, p90 {L['p90']:,}, max {L['max']:,}"
               f"; hash {report.hash[:12]}")
    for p in report.problems:
        if not report.unchanged:
            click.echo(f"note: {p}", err=True)


def _weights(pairs: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        view, _, weight = pair.partition("=")
        try:
            out[view.strip()] = float(weight)
        except ValueError:
            raise click.BadParameter(f"{pair!r}: give VIEW=WEIGHT, e.g. qa=2", param_hint="--mix") from None
    return out
