"""`twinforge scenes new|list`: hand-written scenes (one thinking module as YAML) and the adapters trained on
scenes."""

from __future__ import annotations

import json

import click

from .group import Ctx, cli
from .options import json_option


@cli.group()
def scenes() -> None:
    """Scenes: one thinking module each, as YAML you write or edit; `twinforge train --scene FILE` trains one."""


@scenes.command("new")
@click.argument("path", default="my-scene.yaml", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def new(path: str, force: bool) -> None:
    """Write a commented scene template to PATH (default: my-scene.yaml): every field of the module format
    explained, with an example to replace."""
    from ..scenes.template import write_template

    out = write_template(path, force=force)
    click.echo(f"wrote {out}  (edit it, then: twinforge train --scene {out})")


@scenes.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def check(path: str) -> None:
    """Read the scene file at PATH as training would: one error naming the field that is wrong, or a summary."""
    from ..scenes.files import read_scene

    m = read_scene(path)
    click.echo(f"{path}: scene {m.id} ({m.language}, {m.meta_move}): {len(m.concepts)} concepts, {len(m.axes)} "
               f"axes, {len(m.inversions)} inversions, {len(m.hypotheses)} hypotheses, {len(m.transition_rules)} "
               f"transition rules")


@scenes.command("list")
@json_option("Print the scene adapters as JSON.")
@click.pass_obj
def list_(obj: Ctx, as_json: bool) -> None:
    """Adapters trained on one scene each, with the scene they learned (what `twin+auto` routes between)."""
    from ..scenes.catalog import scene_adapters

    with obj.store(create=False) as store:
        found = scene_adapters(store)
    if as_json:
        click.echo(json.dumps([{"adapter": s.adapter_id, "scene": s.module.id, "title": s.module.title,
                                "kind": s.module.kind} for s in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("no scene adapters yet (twinforge train --per-scene, or twinforge train --scene FILE)")
    for s in found:
        click.echo(f"{s.adapter_id}: {s.module.id} «{s.module.title}» ({s.module.kind})")
