"""Read-only views of the workspace: `stats`, `messages`, `warnings`."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from ..errors import TwinforgeError
from ..store import listings
from ..volume import volume
from .group import Ctx, cli, progress_wanted
from .options import json_option


@cli.command()
@json_option("Print JSON (keys: conversations, messages, characters, "
              "pages, tokens, by_role, by_kind, by_source).")
@click.pass_obj
def stats(obj: Ctx, as_json: bool) -> None:
    """Volumes per source and in total: conversations, messages by role, characters, A4 pages, Qwen tokens.

    Counts cover the dialog on each conversation's displayed branch; an A4 page is 1,800 characters.
    """
    with obj.store(create=False) as store:
        v = volume(store, progress=progress_wanted())
    if as_json:
        click.echo(json.dumps(v, ensure_ascii=False, indent=2))
        return
    header = f"{'source':<52} {'format':<9} {'convs':>6} {'msgs':>7} {'chars':>11} {'pages':>8} {'tokens':>10}"
    click.echo(header)
    click.echo("-" * len(header))
    for s in v["by_source"]:
        name = s["source"] if len(s["source"]) <= 52 else "…" + s["source"][-51:]
        click.echo(f"{name:<52} {s['format']:<9} {s['conversations']:>6} {s['messages']:>7} "
                   f"{s['characters']:>11,} {s['pages']:>8,} {s['tokens']:>10,}")
    click.echo("-" * len(header))
    click.echo(f"{'total':<62} {v['conversations']:>6} {v['messages']:>7} {v['characters']:>11,} "
               f"{v['pages']:>8,} {v['tokens']:>10,}")
    roles = ", ".join(f"{k} {n}" for k, n in sorted(v["by_role"].items()))
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(v["by_kind"].items()))
    click.echo(f"dialog messages by role: {roles or 'none'}; on other branches: {v['other_branches']}")
    click.echo(f"all stored messages by kind: {kinds or 'none'}")


def _iso(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="seconds") if t else None


@cli.command()
@json_option("One JSON object per line.")
@click.option("--conversation", "-c", "conversation", help="Only this conversation id.")
@click.option("--all-branches", is_flag=True, help="Include edits and regenerations off the displayed branch.")
@click.option("--kind", "kinds", multiple=True, help="Only these kinds (dialog, hidden, system, tool, reasoning, "
              "custom-instructions, memory). Default: all.")
@click.option("--cleaned", is_flag=True, help="Only what clean kept, with its cleaned text (boilerplate stripped, "
              "secrets redacted) and language.")
@click.option("--limit", type=int, help="At most this many messages.")
@click.pass_obj
def messages(obj: Ctx, as_json, conversation, all_branches, kinds, cleaned, limit) -> None:
    """Print imported messages, in conversation order, to check what was imported.

    JSON fields: conversation_id, message_id, role, kind, text, created_at, canonical (plus uid, model;
    with --cleaned also language).
    """
    with obj.store(create=False) as store:
        if conversation and not store.has_conversation(conversation):
            raise TwinforgeError(f"no conversation {conversation!r} in {store.path}",
                                 "ids are in `twinforge messages --json`")
        if cleaned and not store.has_cleaned():
            raise TwinforgeError(f"nothing cleaned yet in {store.workspace}", "run `twinforge clean` first")
        last = None
        for r in listings.messages(store, conversation=conversation, all_branches=all_branches, kinds=kinds,
                                   cleaned=cleaned, limit=limit):
            if as_json:
                record = {
                    "conversation_id": r.conversation_id, "message_id": r.id, "uid": r.uid,
                    "role": r.role, "kind": r.kind, "text": r.text, "created_at": _iso(r.created_at),
                    "canonical": r.canonical, "model": r.model,
                }
                if cleaned:
                    record["language"] = r.language
                click.echo(json.dumps(record, ensure_ascii=False))
                continue
            if r.conversation_id != last:
                click.echo(f"\n=== {r.title}  [{r.conversation_id}]")
                last = r.conversation_id
            flags = "" if r.canonical else " (other branch)"
            kind = "" if r.kind == "dialog" else f" <{r.kind}>"
            click.echo(f"--- {r.role}{kind}{flags} {_iso(r.created_at) or ''}\n{r.text}")


@cli.command()
@json_option("One JSON object per line.")
@click.pass_obj
def warnings(obj: Ctx, as_json: bool) -> None:
    """What ingest could not recover, per conversation (broken trees, missing nodes, unknown content)."""
    with obj.store(create=False) as store:
        rows = listings.ingest_warnings(store)
    for r in rows:
        if as_json:
            click.echo(json.dumps({"source": r.source, "conversation_id": r.conversation_id,
                                   "warning": r.message}, ensure_ascii=False))
        else:
            click.echo(f"{r.source} [{r.conversation_id}]: {r.message}")
