"""`twinforge memory build|stats`, `twinforge graph`, `twinforge ask`."""

from __future__ import annotations

import json

import click

from ..backends.base import BACKENDS
from ..config import load_recipe
from ..errors import TwinforgeError
from .group import Ctx, cli, progress_wanted
from .options import config_option, json_option


def _recipe_memory(config: str):
    return load_recipe(config).memory


@cli.group()
def memory() -> None:
    """The twin's long-term memory: a hybrid index (BM25 + embeddings) and a concept graph over modules, paper
    digests and kept messages."""


@memory.command("build")
@config_option("memory")
@click.option("--embedder", type=click.Choice(["use", "e5"]),
              help="Dense embedder: use = multilingual USE (fast, default), e5 = multilingual-e5-small (better).")
@json_option("Print the report as JSON.")
@click.pass_obj
def memory_build(obj: Ctx, config: str, embedder: str | None, as_json: bool) -> None:
    """Index modules, paper digests and kept messages (BM25 + embeddings) and build the concept graph.

    Incremental: only new or changed items are embedded; a re-run with nothing changed embeds nothing.
    """
    from ..memory.build import build_memory

    cfg = _recipe_memory(config)
    if embedder:
        cfg.embedder = embedder
    with obj.store(create=False) as store:
        r = build_memory(store, cfg, progress=progress_wanted())
    if as_json:
        click.echo(json.dumps(r.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"memory: {r.items} items ({r.modules} modules, {r.papers} paper digests, {r.passages} message "
               f"passages) — {r.added} added, {r.changed} changed, {r.removed} removed, {r.unchanged} unchanged;"
               f" {r.embedded} embedded with {r.embedder} in {r.seconds:.1f} s")
    click.echo(f"graph: {r.concepts} concepts in {r.communities} communities  (next: twinforge ask \"...\")")


@memory.command("stats")
@json_option("Print the figures as JSON.")
@click.pass_obj
def memory_stats_cmd(obj: Ctx, as_json: bool) -> None:
    """What the memory holds: items by kind and language, vectors per embedder, concepts and communities."""
    from ..memory.build import memory_stats

    with obj.store(create=False) as store:
        s = memory_stats(store)
    if as_json:
        click.echo(json.dumps(s, ensure_ascii=False, indent=2))
        return
    if not s["embedder"]:
        click.echo("no memory built yet (run `twinforge memory build`)")
        return
    kinds = ", ".join(f"{v} {k}" for k, v in sorted(s["kinds"].items()))
    langs = ", ".join(f"{k} {v}" for k, v in sorted(s["languages"].items(), key=lambda kv: -kv[1]))
    vecs = ", ".join(f"{k} {v}" for k, v in sorted(s["vectors"].items()))
    click.echo(f"items: {s['items']} ({kinds}) from {s['conversations']} conversations, {s['chars']:,} characters")
    click.echo(f"languages: {langs or '-'}")
    click.echo(f"vectors: {vecs or '-'} (search uses {s['embedder']})")
    click.echo(f"graph: {s['concepts']} concepts, {s['communities']} communities")


@cli.command()
@json_option("Print the whole graph as JSON (nodes, edges, communities).")
@click.option("--graphml", "graphml", type=click.Path(dir_okay=False), help="Write the graph as GraphML here.")
@click.option("--top", default=8, show_default=True, type=click.IntRange(min=1),
              help="Concepts shown per community in the text listing.")
@click.pass_obj
def graph(obj: Ctx, as_json: bool, graphml: str | None, top: int) -> None:
    """The concept graph (KAG): concepts from modules, the modules naming them, co-occurrence, communities."""
    from ..memory import graph as kag
    from ..memory.search import check_built

    with obj.store(create=False) as store:
        check_built(store)
        if graphml:
            path = kag.write_graphml(store, graphml)
        data = kag.graph_json(store)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    s = data["stats"]
    click.echo(f"{s['concepts']} concepts, {s['modules']} modules, {s['edges']} edges, {s['communities']} communities")
    for c in data["communities"]:
        shown = ", ".join(c["concepts"][:top]) + (" …" if c["size"] > top else "")
        click.echo(f"  #{c['id']} ({c['size']}): {shown}")
    if graphml:
        click.echo(f"GraphML written to {path}")


@cli.command()
@click.argument("question")
@config_option(help="Recipe whose `memory:` section to use (backend, k, mode).")
@click.option("--no-llm", is_flag=True, help="Print the evidence only; no model is called.")
@json_option('Print {"answer", "language", "sources": [...]} as JSON.')
@click.option("--k", "k", type=click.IntRange(min=1, max=50), help="Evidence pieces to retrieve (default: recipe's).")
@click.option("--mode", type=click.Choice(["hybrid", "bm25", "dense"]), help="Retrieval (default: recipe's, hybrid).")
@click.option("--graph/--no-graph", "expand", default=None, help="Expand the question through the concept graph.")
@click.option("--backend", type=click.Choice(list(BACKENDS)), help="Backend to answer with instead of the recipe's.")
@click.option("--model", help="Model for the backend (a name for openai, a GGUF path for llamacpp, a folder for "
              "transformers).")
@click.option("--adapter", "adapters", multiple=True, help="Answer with the base + this trained adapter (id from "
              "`twinforge adapters`); repeat to stack several. `auto`: the adapter(s) of the scenes closest to the "
              "question (as the server's model twin+auto).")
@click.option("--no-persona", is_flag=True, help="Do not use the persona card as the system prompt.")
@click.pass_obj
def ask(obj: Ctx, question: str, config: str, no_llm: bool, as_json: bool, k: int | None, mode: str | None,
        expand: bool | None, backend: str | None, model: str | None, adapters: tuple[str, ...],
        no_persona: bool) -> None:
    """Answer QUESTION from your own conversations, in its language, citing the evidence [1], [2] with
    conversation title, date and message id."""
    from ..memory.ask import ask as run_ask

    cfg = _recipe_memory(config)
    cfg.backend = cfg.backend.overridden(backend, model)
    with obj.store(create=False) as store:
        system = None if (no_persona or no_llm) else _persona(store)
        bcfg = cfg.backend
        if adapters and not no_llm:
            from ..backends.adapted import adapted_backend

            ids = list(adapters)
            if "auto" in ids:
                from ..serve.routing import routed_ids

                picked, routes = routed_ids(store, question)
                ids = [i for i in ids if i != "auto"] + [i for i in picked if i not in ids]
                click.echo("routed to: " + ", ".join(f"{r.adapter_id} (scene {r.scene}, {r.score:.2f})"
                                                     for r in routes), err=True)
            bcfg = adapted_backend(store, ids, cfg.backend)
        a = run_ask(store, question, backend=bcfg, k=k or cfg.k, no_llm=no_llm, system_prompt=system, cfg=cfg,
                    mode=mode, expand_graph=expand)
    if as_json:
        click.echo(json.dumps(a.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(a.answer)
    if a.uncited_note:
        click.echo(a.uncited_note, err=True)
    if not no_llm and a.sources:
        click.echo("\nsources:")
        for s in a.sources:
            click.echo(f"  [{s.n}] {s.title or s.conversation_id} ({s.date or 'no date'}) — {s.locator()}")


def _persona(store) -> str | None:
    """The persona card as system prompt, when `twinforge persona` has written one."""
    from ..store.persona_card import system_prompt

    try:
        return system_prompt(store)
    except TwinforgeError:
        return None
