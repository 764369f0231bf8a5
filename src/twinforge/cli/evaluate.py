"""`twinforge eval` (run an evaluation), `eval compare`, `eval list`."""

from __future__ import annotations

import json

import click

from ..config import load_recipe
from ..eval.generate import ENGINES
from .group import Ctx, cli, progress_wanted
from .options import config_option, json_option


@cli.group("eval", invoke_without_command=True)
@config_option(help="Recipe whose `eval:` section to start from (YAML file or bundled recipe name).")
@click.option("--adapter", "-a", "adapters", multiple=True, help="Adapter id (or folder) to evaluate; repeatable.")
@click.option("--stack", "stacks", multiple=True,
              help="A named stack NAME=ID[:WEIGHT],ID[:WEIGHT]… (or the name of one in the recipe); repeatable.")
@click.option("--probes", "probes_file", type=click.Path(dir_okay=False), help="YAML file of your own probes.")
@click.option("--dataset", help="Dataset giving held-out probes and texts (default: the recipe's, `default`).")
@click.option("--base", help="Base model instead of the adapters' own.")
@click.option("--max-probes", type=click.IntRange(min=1), help="At most this many probes.")
@click.option("--max-new-tokens", type=click.IntRange(min=1), help="Tokens per generated answer.")
@click.option("--seeds", help="Comma-separated sampling seeds besides the greedy answer ('' for greedy only).")
@click.option("--engine", type=click.Choice(ENGINES),
              help="Generation engine (auto: llamacpp on a CPU when it can run the model, measured 2.33x faster, else "
                   "transformers; llamacpp: GGUF base + GGUF LoRA, one adapter at most).")
@click.option("--judge", type=click.Choice(["llamacpp", "openai", "transformers"]),
              help="Also ask an LLM judge (this backend) which answer is better, the model's or the base's.")
@click.option("--judge-model", help="Model for the judge backend (name, GGUF path or HF folder).")
@json_option("Print the whole run (metrics, failures, generations) as JSON.")
@click.pass_context
def eval_(ctx: click.Context, config: str, adapters: tuple[str, ...], stacks: tuple[str, ...], probes_file: str | None,
          dataset: str | None, base: str | None, max_probes: int | None, max_new_tokens: int | None,
          seeds: str | None, engine: str | None, judge: str | None, judge_model: str | None, as_json: bool) -> None:
    """Evaluate the base against adapters and stacks on the same probes (held-out questions, module concepts and
    inversions, your own): perplexity on held-out and general text, style similarity, concept coverage,
    diversity, length, language, an "adapter actually active" check and a catalogue of failure modes.

    Writes WORKSPACE/reports/eval-<id>/index.html (side by side, word diff vs the base) and a row that
    `twinforge eval list` and `twinforge eval compare A B` read. Exits 1 when an adapter behaves exactly like the
    base.
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..backends.config import BackendConfig
    from ..errors import ConfigError
    from ..eval.active import require_active
    from ..eval.run import evaluate

    obj: Ctx = ctx.obj
    cfg = load_recipe(config).eval.model_copy(deep=True)
    if adapters:
        cfg.adapters = list(adapters)
    for s in stacks:
        name, eq, refs = s.partition("=")
        if eq:
            cfg.stacks[name.strip()] = [r.strip() for r in refs.split(",") if r.strip()]
        elif s not in cfg.stacks:
            raise ConfigError(f"stack {s!r} is not in the recipe", "write it as NAME=ID[:WEIGHT],ID[:WEIGHT]")
    if not adapters and stacks:
        named = {s.partition("=")[0].strip() for s in stacks}
        cfg.stacks = {k: v for k, v in cfg.stacks.items() if k in named}
    for field, value in (("probes_file", probes_file), ("dataset", dataset), ("base", base),
                         ("max_probes", max_probes), ("max_new_tokens", max_new_tokens), ("engine", engine)):
        if value is not None:
            setattr(cfg, field, value)
    if seeds is not None:
        try:
            cfg.sample_seeds = [int(x) for x in seeds.split(",") if x.strip()]
        except ValueError as e:
            raise ConfigError(f"--seeds {seeds!r}: not a list of integers", "e.g. --seeds 1,2") from e
    if judge:
        cfg.judge = BackendConfig(name=judge, model=judge_model)
    with obj.store(create=False) as store:
        run = evaluate(store, cfg, progress=progress_wanted() and not as_json)
    if as_json:
        click.echo(json.dumps(run.as_dict(), ensure_ascii=False, indent=1, default=str))
    else:
        _summary(run)
    require_active(run.checks)


def _summary(run) -> None:
    from ..eval.report import LABELS, fmt, metric_names

    names = [m.name for m in run.models]
    click.echo(f"eval run {run.id}: {len(run.probes)} probes × {len(names)} models in {run.seconds:.0f} s "
               f"({', '.join(f'{n}: {run.engines.get(n)}' for n in names)})")
    from ..eval.run import adapter_layers

    for m in run.models:
        if lay := adapter_layers(m):
            click.echo(f"{m.name}: trained on layers {lay} only")
    width = max(len(LABELS.get(k, k)) for k in metric_names(run.metrics))
    click.echo(" " * width + "  " + "  ".join(f"{n[:14]:>14}" for n in names))
    for k in metric_names(run.metrics):
        click.echo(f"{LABELS.get(k, k):<{width}}  " + "  ".join(f"{fmt(run.metrics[n].get(k)):>14}" for n in names))
    from ..eval.scenes import summary_lines

    for line in summary_lines(run.scenes):
        click.echo(f"scenes: {line}")
    for f in run.failures:
        click.echo(f"failure: {f.model}: {f.kind}: {f.evidence}")
    if not run.failures:
        click.echo("failures: none flagged")
    click.echo(f"report: {run.report_path}")


@eval_.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@json_option("Print the comparison as JSON.")
@click.pass_obj
def eval_compare(obj: Ctx, run_a: str, run_b: str, as_json: bool) -> None:
    """What got better or worse from eval run RUN_A to RUN_B, per model and metric, with deltas."""
    from ..eval.compare import compare
    from ..eval.report import LABELS, fmt
    from ..eval.runs import load_run

    with obj.store(create=False) as store:
        c = compare(load_run(store, run_a), load_run(store, run_b))
    if as_json:
        click.echo(json.dumps(c, ensure_ascii=False, indent=1))
        return
    for r in c["rows"]:
        rel = f" ({r['relative']:+.0%})" if r["relative"] is not None else ""
        click.echo(f"{r['model']:<16} {LABELS.get(r['metric'], r['metric']):<40} {fmt(r['a']):>9} → "
                   f"{fmt(r['b']):>9}  {r['delta']:+.3f}{rel}  {r['verdict']}")
    for f in c["failures_new"]:
        click.echo(f"new failure: {f['model']}: {f['kind']}")
    for f in c["failures_gone"]:
        click.echo(f"failure gone: {f['model']}: {f['kind']}")
    click.echo(f"run {c['a']} → {c['b']}: {c['better']} better, {c['worse']} worse"
               + (f"; only in {c['a']}: {', '.join(c['only_in_a'])}" if c["only_in_a"] else "")
               + (f"; only in {c['b']}: {', '.join(c['only_in_b'])}" if c["only_in_b"] else ""))


@eval_.command("list")
@json_option("One JSON object per line.")
@click.pass_obj
def eval_list(obj: Ctx, as_json: bool) -> None:
    """Eval runs so far: id, date, models, probes, failures, report."""
    from ..eval.runs import list_runs

    with obj.store(create=False) as store:
        rows = list_runs(store)
    for r in rows:
        if as_json:
            click.echo(json.dumps(r, ensure_ascii=False))
        else:
            inactive = f", INACTIVE: {', '.join(r['inactive'])}" if r["inactive"] else ""
            click.echo(f"{r['id']}  {r['created_at']}  {', '.join(r['models'])}  {r['probes']} probes, "
                       f"{r['failures']} failures{inactive}\n    {r['report']}")
    if not as_json:
        click.echo(f"{len(rows)} eval runs" + ("" if rows else " (run `twinforge eval --adapter ID`)"))
