"""`twinforge adapters stack|stacks|unstack|merge|export`: combining adapters and handing them to other tools."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import TwinforgeError
from ..store import Workspace
from .adapters import adapters
from .group import Ctx, progress_wanted
from .options import json_option

SPECS_HELP = "ID[:WEIGHT] (weight 1 if left out) or the name of a saved stack"


def _pairs(obj: Ctx, specs: tuple[str, ...]):
    from ..adapters.stacks import resolve_specs

    with obj.store(create=False) as store:
        return store.workspace, resolve_specs(store.workspace, list(specs), store)


@adapters.command("stack")
@click.argument("specs", nargs=-1, required=True, metavar="ID[:W]...")
@click.option("--name", "-n", required=True, help="Name to save the combination under (used like an adapter id).")
@click.option("--combination", type=click.Choice(["cat", "svd", "linear"]), default="cat", show_default=True,
              help="cat = exact sum of the adapters (rank adds up); svd / linear = smaller, approximate.")
@json_option("Print the saved stack as JSON.")
@click.pass_obj
def stack(obj: Ctx, specs: tuple[str, ...], name: str, combination: str, as_json: bool) -> None:
    """Save a weighted combination of adapters as a named stack, e.g. `stack scene-a:1 scene-b:0.5 -n mix`.

    Eval, serve, merge and export accept the name wherever they take adapter ids. Adapters trained with
    --on-top-of bring their parents along. Stacks live in WORKSPACE/adapters/stacks.json.
    """
    from ..adapters.stacks import resolve_specs, save_stack
    from ..models.stack import expand_layers

    with obj.store(create=False) as store:
        entry = save_stack(store.workspace, name, list(specs), combination=combination, store=store)
        layers = expand_layers(resolve_specs(store.workspace, [name], store))
    if as_json:
        click.echo(json.dumps({"name": name, **entry}, ensure_ascii=False, indent=2))
        return
    parts = ", ".join(f"{layer.id}×{layer.weight:g}" + (" (parent)" if layer.implied else "") for layer in layers)
    click.echo(f"stack {name} = {parts} [{combination}]")


@adapters.command("stacks")
@json_option("One JSON object per line.")
@click.pass_obj
def stacks(obj: Ctx, as_json: bool) -> None:
    """List the named stacks."""
    from ..adapters.stacks import load_stacks

    with obj.store(create=False) as store:
        saved = load_stacks(store.workspace)
    for name, entry in saved.items():
        if as_json:
            click.echo(json.dumps({"name": name, **entry}, ensure_ascii=False))
        else:
            parts = ", ".join(f"{e['id']}×{e['weight']:g}" for e in entry["adapters"])
            click.echo(f"{name}  = {parts} [{entry.get('combination', 'cat')}]")
    if not as_json:
        hint = "" if saved else " (save one: twinforge adapters stack ID[:W]... -n NAME)"
        click.echo(f"{len(saved)} stacks{hint}")


@adapters.command("unstack")
@click.argument("name")
@click.pass_obj
def unstack(obj: Ctx, name: str) -> None:
    """Forget a named stack (its adapters stay)."""
    from ..adapters.stacks import remove_stack

    with obj.store(create=False) as store:
        remove_stack(store.workspace, name)
    click.echo(f"removed stack {name}")


@adapters.command("merge")
@click.argument("specs", nargs=-1, required=True, metavar="ID[:W]...")
@click.option("--out", "-o", "out", required=True, type=click.Path(path_type=Path),
              help="Folder for the merged model (safetensors + tokenizer + twinforge.json).")
@click.option("--base", help="Full-precision base to merge into (default: the one the adapters were trained on).")
@click.option("--combination", type=click.Choice(["cat", "svd", "linear"]), default="cat", show_default=True,
              help="How several adapters are combined before merging (cat = exact).")
@click.option("--device", help="cuda, mps or cpu (default: the best available).")
@json_option()
@click.pass_obj
def merge(obj: Ctx, specs: tuple[str, ...], out: Path, base: str | None, combination: str, device: str | None,
          as_json: bool) -> None:
    """Merge adapters (ID[:W], stack names) into the base and save a full model that needs no peft.

    Only into full-precision weights: a 4-bit/8-bit (QLoRA, GPTQ, AWQ) base is refused — pass the original
    bf16/fp16 folder with --base. The result loads in transformers and vLLM; for llama.cpp convert it with
    llama.cpp's convert_hf_to_gguf.py.
    """
    from ..adapters.merge import merge as run_merge

    ws, pairs = _pairs(obj, specs)
    inside = Workspace(Path(ws)).adapters.resolve()
    if out.resolve() == inside or out.resolve().is_relative_to(inside):
        raise TwinforgeError(f"{out} is inside {ws / 'adapters'}, which holds trained adapters only",
                             f"write the merged model elsewhere, e.g. --out {ws / 'merged' / out.name}")
    res = run_merge(pairs, out, base=base, device=device, combination=combination, progress=progress_wanted())
    if as_json:
        click.echo(json.dumps({"out": str(res.out_dir), "base": res.base, "adapters": res.adapters,
                               "combination": res.combination, "seconds": round(res.seconds, 1),
                               "size_bytes": res.size_bytes}, ensure_ascii=False, indent=2))
        return
    parts = ", ".join(f"{a['id']}×{a['weight']:g}" for a in res.adapters)
    click.echo(f"merged {parts} into {res.base or 'embedded'} → {res.out_dir} "
               f"({res.size_bytes / 1e6:.0f} MB, {res.seconds:.0f} s)")


@adapters.command("export")
@click.argument("specs", nargs=-1, required=True, metavar="ID[:W]...")
@click.option("--format", "fmt", type=click.Choice(["peft", "gguf"]), required=True,
              help="peft = a clean PEFT folder (vLLM --enable-lora, TGI, peft); gguf = a GGUF LoRA for llama.cpp / "
                   "Ollama.")
@click.option("--out", "-o", "out", required=True, type=click.Path(path_type=Path),
              help="Folder (peft) or .gguf file (gguf) to write.")
@click.option("--base-name", help="peft: base_model_name_or_path to record — what the server loads (a hub id "
              "or path); default: the base the adapter was trained on.")
@click.option("--base", help="gguf: the base's Hugging Face folder, if not the one the adapter records.")
@json_option()
@click.pass_obj
def export(obj: Ctx, specs: tuple[str, ...], fmt: str, out: Path, base_name: str | None, base: str | None,
           as_json: bool) -> None:
    """Export an adapter (or a stack: several ID[:W] or a stack name) for other tools.

    Parents (--on-top-of) and several adapters are folded into one exact LoRA, since vLLM and llama.cpp apply one
    file per request.
    """
    _, pairs = _pairs(obj, specs)
    if fmt == "peft":
        from ..adapters.peft_export import export_peft_stack

        res = export_peft_stack(pairs, out, base_name)
        info = {"format": "peft", "out": str(res.out_dir), "r": res.r, "lora_alpha": res.lora_alpha,
                "target_modules": res.target_modules, "folded": res.folded, "notes": res.notes}
        rank = res.vllm_max_lora_rank
        use = (f"vllm serve {res.base_name} --enable-lora --lora-modules twin={res.out_dir}"
               + (f" --max-lora-rank {rank}" if rank and rank > 16 else ""))
    else:
        from ..adapters.gguf_lora import base_gguf, export_gguf_stack

        path = export_gguf_stack(pairs, out, base=base)
        info = {"format": "gguf", "out": str(path), "size_bytes": path.stat().st_size}
        try:
            model = base_gguf(base)
            info["base_gguf"] = str(model)
        except TwinforgeError as e:  # the adapter is written; only the usage line lacks the base file
            model = f"<the base as GGUF: {e.hint}>"
        use = f"llama-cli -m {model} --lora {path}   (llama-cpp-python: Llama(model_path=..., lora_path=...))"
    info["use"] = use
    if as_json:
        click.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    click.echo(f"wrote {info['out']} ({fmt})")
    for note in info.get("notes", []):
        click.echo(f"note: {note}")
    click.echo(f"use: {use}")
