"""`twinforge adapters`: list, show and remove trained adapters (stack/merge/export live in adapter_ops.py)."""

from __future__ import annotations

import json

import click

from .group import Ctx, cli
from .options import json_option


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


@cli.group(invoke_without_command=True)
@json_option("One JSON object per line.")
@click.pass_context
def adapters(ctx: click.Context, as_json: bool) -> None:
    """Trained adapters: id, kind, scene, base, parents, steps and losses. Subcommands show and remove them."""
    if ctx.invoked_subcommand is not None:
        return
    from ..adapters import registry

    obj: Ctx = ctx.obj
    with obj.store(create=False) as store:
        rows = registry.list_adapters(store)
    for a in rows:
        if as_json:
            click.echo(json.dumps(a.as_dict() | {"layers": None if a.missing else a.layers}, ensure_ascii=False))
            continue
        m = a.metrics
        loss = (f"loss {m['train_loss_last']:.3f}" if m.get("train_loss_last") is not None else "")
        val = f", val {m['val_loss']:.3f}" if m.get("val_loss") is not None else ""
        on = f" on top of {', '.join(a.parents)}" if a.parents else ""
        lay = "" if a.missing or a.layers == "all" else f", layers {a.layers}"
        on += f" after {a.chain_parent}" if a.chain_parent and a.chain_parent not in a.parents else ""
        on += f" ({a.status} by the forgetting gate)" if a.status != "ok" else ""
        state = (f"  MISSING: {a.missing} (`twinforge adapters remove {a.id}` forgets it)" if a.missing else
                 "  (a finished folder not registered yet)" if not a.registered else "")
        click.echo(f"{a.id}  [{a.kind}{' ' + a.scene if a.scene else ''}] base {a.base}{on} — "
                   f"{m.get('steps', '?')} steps, {loss}{val}{lay}{state}")
    if not as_json:
        missing = sum(1 for a in rows if a.missing)
        click.echo(f"{len(rows)} adapters" + ("" if rows else " (train one: twinforge train)")
                   + (f"; {missing} missing from disk" if missing else ""))


@adapters.command("show")
@click.argument("adapter_id")
@json_option("Print twinforge.json as it is.")
@click.pass_obj
def show(obj: Ctx, adapter_id: str, as_json: bool) -> None:
    """One adapter: where it is, its base and data (with hashes), hyperparameters and final metrics."""
    from ..adapters import registry

    with obj.store(create=False) as store:
        a = registry.get(store, adapter_id)
        kids = registry.children(store, adapter_id)
    meta = a.meta()
    if as_json:
        click.echo(json.dumps({k: v for k, v in meta.items() if k not in ("loss_history",)} | {"children": kids},
                              ensure_ascii=False, indent=2))
        return
    size = sum(f.stat().st_size for f in a.path.glob("adapter_model.*"))
    m, hp = meta.get("metrics", {}), meta.get("hyperparameters", {})
    lines = [
        f"id:          {a.id} ({a.kind}{', scene ' + a.scene if a.scene else ''})",
        f"folder:      {a.path} (weights {_size(size)}; loss curve loss.png)",
        f"base:        {meta.get('base')} [{meta.get('architecture')}] hash {a.base_hash}",
        f"dataset:     {meta.get('dataset')} hash {a.dataset_hash} ({meta.get('data', {}).get('examples')} examples)",
        f"parents:     {', '.join(a.parents) or '-'}   children: {', '.join(kids) or '-'}",
        "lora:        r={r} alpha={alpha} dropout={dropout} targets={t} layers={lay}".format(
            r=hp.get("r"), alpha=hp.get("alpha"), dropout=hp.get("dropout"), t=",".join(hp.get("target_modules", [])),
            lay=a.layers),
        f"training:    lr={hp.get('lr')} steps={m.get('steps')} max_len={hp.get('max_len')} "
        f"batch={hp.get('batch_size')} packing={hp.get('packing')} qlora={hp.get('qlora')} on {meta.get('device')}",
        f"metrics:     loss {m.get('train_loss_first')} → {m.get('train_loss_last')}, val {m.get('val_loss')}, "
        f"{m.get('tokens'):,} tokens at {m.get('tokens_per_second', 0):.0f} tok/s, peak memory "
        f"{_size(m.get('peak_memory_bytes', 0))}",
    ]
    click.echo("\n".join(lines))


@adapters.command("remove")
@click.argument("adapter_id")
@click.option("--force", is_flag=True, help="Remove it even if other adapters were trained on top of it.")
@click.pass_obj
def remove(obj: Ctx, adapter_id: str, force: bool) -> None:
    """Forget an adapter and delete its folder."""
    from ..adapters import registry

    with obj.store(create=False) as store:
        a = registry.remove(store, adapter_id, force=force)
    click.echo(f"removed {a.id} ({a.path})")
