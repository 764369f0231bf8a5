"""`twinforge persona`: the persona card (themes, kinds of questions, thinking moves) and its system prompt."""

from __future__ import annotations

import json

import click

from ..backends.base import BACKENDS
from ..backends.config import BackendConfig
from ..persona import card
from .group import Ctx, cli, progress_wanted
from .options import json_option


@cli.command()
@click.option("--rebuild", is_flag=True, help="Regenerate the card from the current corpus (your edits are kept).")
@click.option("--discard-edits", is_flag=True, help="With --rebuild: regenerate the sections you edited too "
              "(\"My notes\" and text outside the generated sections are still kept).")
@click.option("--backend", type=click.Choice(list(BACKENDS)), help="Let this backend write the summary "
              "(default: composed from the counts, no model).")
@click.option("--system-prompt", "as_prompt", is_flag=True, help="Print the card as the twin's system prompt.")
@json_option("Print the card's machine-readable data as JSON.")
@click.pass_obj
def persona(obj: Ctx, rebuild: bool, discard_edits: bool, backend: str | None, as_prompt: bool,
            as_json: bool) -> None:
    """The persona card WORKSPACE/persona.md: recurring themes, the kinds of questions you ask and your
    characteristic thinking moves, each with verbatim quotes and their message ids.

    Built on first use; edit it freely — a generated section you changed keeps your text on every --rebuild,
    and "My notes" is never touched. The card (edits included) is the twin's system prompt in `ask` and `serve`.
    """
    with obj.store(create=False) as store:
        path = card.persona_path(store)
        built = False
        if rebuild or not path.exists():
            cfg = BackendConfig(name=backend) if backend else None
            problems = card.build_persona(store, cfg, discard_edits=discard_edits, progress=progress_wanted()).problems
            built = True
            for p in problems:
                click.echo(f"warning: {p}", err=True)
        if as_prompt:
            click.echo(card.system_prompt(store) or "")
            return
        data = card.read_data(store) or {}
        edited = card.edited_sections(path.read_text(encoding="utf-8"))
    if as_json:
        click.echo(json.dumps(data | {"path": str(path), "edited": edited}, ensure_ascii=False, indent=2))
        return
    c = data.get("corpus", {})
    click.echo(f"{'written' if built else 'persona card'}: {path}")
    click.echo(f"from {c.get('user_messages', 0)} user messages in {c.get('conversations', 0)} conversations and"
               f" {c.get('modules', 0)} modules; themes from {data.get('themes_from', '?')}")
    click.echo("themes: " + (", ".join(t["theme"] for t in data.get("themes", [])) or "none"))
    click.echo("questions: " + (", ".join(f"{q['kind']} {q['count']}" for q in data.get("questions", [])) or "none"))
    click.echo("moves: " + (", ".join(f"{m['move']} {m['count']}" for m in data.get("moves", [])) or "none"))
    if edited:
        click.echo(f"kept as you edited: {', '.join(edited)} (regenerate with --rebuild --discard-edits)")
