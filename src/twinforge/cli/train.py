"""`twinforge train`: LoRA/QLoRA adapters from a workspace dataset."""

from __future__ import annotations

import json

import click
from pydantic import ValidationError

from ..config import load_recipe
from ..errors import ConfigError
from .group import Ctx, cli, progress_wanted
from .options import config_option, json_option


@cli.command()
@config_option(help="Recipe whose `train:` section to start from (YAML file or bundled recipe name).")
@click.option("--base", help="Base model: 'embedded' (Gemma 3 270M, the default), a Hugging Face folder, a .gguf "
              "file, or a recipe name such as qwen3-8b-base (its weights must be on this machine).")
@click.option("--dataset", help="Dataset name (WORKSPACE/datasets/NAME/train.jsonl); default: default.")
@click.option("--scene", "scene", type=click.Path(dir_okay=False), help="Train one adapter on this scene file "
              "alone (a module YAML you wrote or edited; `twinforge scenes new` writes a template): adapter "
              "hand-scene-<id>.")
@click.option("--per-scene", is_flag=True, help="One adapter per module/scene (examples grouped by meta.module_id).")
@click.option("--batch-lines", type=click.IntRange(min=1), help="One adapter per batch of N examples.")
@click.option("--chain", is_flag=True, help="With --batch-lines: train batch k after batch k-1 (not on the bare "
              "base), with the forgetting gate after each batch; ends with a table of what each batch gained and cost.")
@click.option("--chain-mode", type=click.Choice(["continue", "stack"]), help="stack (default): a new adapter per batch "
              "over the earlier ones kept frozen; continue: each batch goes on with the previous batch's adapter.")
@click.option("--replay", type=click.FloatRange(min=0, max=1, max_open=True), help="Share of each chained batch "
              "replayed from earlier batches and general text (e.g. 0.2).")
@click.option("--gate", type=click.Choice(["off", "warn", "strict"]), help="Forgetting gate: warn (default) flags a "
              "batch that makes control or an earlier batch worse than --gate-tolerance; strict rejects it.")
@click.option("--gate-tolerance", type=click.FloatRange(min=0), help="Allowed relative perplexity rise (0.10 = 10%).")
@click.option("--on-top-of", "on_top_of", multiple=True, help="Adapter id kept frozen underneath the new one "
              "(repeat to stack several, in order).")
@click.option("--layers", help="Decoder layers to adapt: 20-23, last:3, first:2, 0,2,4-6 or all (default). Fewer "
              "layers train faster and leave the rest of the base untouched.")
@click.option("--qlora", is_flag=True, help="Load the base in 4-bit NF4 (bitsandbytes; CUDA/ROCm GPU only).")
@click.option("--max-steps", type=click.IntRange(min=1), help="Optimizer steps in all (overrides --epochs).")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="Passes over the data.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Peak learning rate.")
@click.option("--r", "rank", type=click.IntRange(min=1), help="LoRA rank (alpha follows as 2×r unless the recipe "
              "says otherwise).")
@click.option("--max-len", type=click.IntRange(min=16), help="Tokens per packed row; longer examples are cut.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Rows per optimizer step.")
@click.option("--name", help="Adapter id (per-scene/batch adapters get it as a prefix).")
@json_option("Print the report as JSON.")
@click.pass_obj
def train(obj: Ctx, config: str, base: str | None, dataset: str | None, scene: str | None, per_scene: bool,
          batch_lines: int | None, chain: bool, chain_mode: str | None, replay: float | None, gate: str | None,
          gate_tolerance: float | None, on_top_of: tuple[str, ...], layers: str | None, qlora: bool,
          max_steps: int | None, epochs: float | None, lr: float | None, rank: int | None, max_len: int | None,
          batch_size: int | None, name: str | None, as_json: bool) -> None:
    """Train LoRA (or QLoRA) adapters on the workspace dataset: assistant-only loss, packed rows, checkpoints.

    Adapters go to WORKSPACE/adapters/<id>/ (PEFT files, twinforge.json, loss.png) and into `twinforge
    adapters`. Re-running the same command skips finished adapters and resumes an interrupted one from its
    last checkpoint.
    """
    from ..train.stage import train_in_workspace

    if scene and (per_scene or batch_lines or dataset):
        raise ConfigError("--scene trains one scene file alone", "drop --per-scene, --batch-lines and --dataset")
    recipe = load_recipe(config)
    cfg = recipe.train
    given = {"base": base, "dataset": dataset, "batch_lines": batch_lines, "max_steps": max_steps, "epochs": epochs,
             "lr": lr, "r": rank, "max_len": max_len, "batch_size": batch_size, "name": name,
             "layers": layers, "chain_mode": chain_mode, "replay": replay, "gate": gate, "gate_tolerance": gate_tolerance}
    update = {k: v for k, v in given.items() if v is not None}
    if per_scene:
        update |= {"per_scene": True, "batch_lines": None}
    elif batch_lines:
        update["per_scene"] = False
    if chain:
        update["chain"] = True
    if on_top_of:
        update["on_top_of"] = list(on_top_of)
    if qlora:
        update["qlora"] = True
    try:
        cfg = type(cfg).model_validate(cfg.model_dump() | update)
    except ValidationError as e:  # --layers 23-20, --chain without --batch-lines …: one line, not a traceback
        msg = "; ".join("train" + "".join(f".{x}" for x in err["loc"]) + ": " + err["msg"].removeprefix("Value error, ")
                        for err in e.errors())
        raise ConfigError(msg, "see `twinforge train --help`") from None
    with obj.store(create=bool(scene)) as store:  # one scene is enough to start a workspace
        if scene:
            from ..scenes.train import train_scene

            done = train_scene(store, scene, cfg, recipe.expand, recipe.dataset, progress=progress_wanted())
            report = done.report
        else:
            report = train_in_workspace(store, cfg, progress=progress_wanted())
    if as_json:
        click.echo(json.dumps(done.as_dict() if scene else report.as_dict(), ensure_ascii=False, indent=2))
        raise SystemExit(1 if report.problems else 0)
    if scene:
        views = ", ".join(f"{v} {n}" for v, n in done.views.items())
        click.echo(f"scene {done.scene} ({done.file}): {done.examples} examples ({views})")
    for a in report.adapters:
        if a.status == "failed":
            click.echo(f"{a.id}: failed — {a.error}")
            continue
        if a.result is None:
            continue
        r = a.result
        val = f", val loss {r.val_loss:.3f}" if r.val_loss is not None else ""
        click.echo(f"{a.id}: {a.status} — {r.steps} steps, {r.tokens:,} tokens, {r.tokens_per_second:.0f} tok/s, "
                   f"loss {r.train_loss_first:.3f} → {r.train_loss_last:.3f}{val}"
                   + (f" (resumed at step {r.resumed_from_step})" if r.resumed_from_step else ""))
    if report.chain:
        c = report.chain
        click.echo(f"\nchain ({c.mode}, replay {c.replay:g}, gate {c.gate}):\n{c.table()}")
    click.echo(f"{len(report.adapters)} adapter(s) on {report.base}, dataset {report.dataset}"
               " (next: twinforge adapters, twinforge eval)")
    if report.problems:
        raise SystemExit(1)
