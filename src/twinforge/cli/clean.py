"""`twinforge clean`, `rejects`, `keep`, `drop`, `funnel`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..clean.funnel import funnel as compute_funnel
from ..clean.funnel import funnel_html
from ..clean.run import STRUCTURAL, set_override
from ..clean.run import clean as run_clean
from ..config import load_recipe
from ..errors import TwinforgeError
from ..store import listings
from .group import Ctx, cli, progress_wanted
from .options import config_option, dry_run_option, json_option


def _ensure_ingested(store) -> None:
    if not store.has_messages():
        raise TwinforgeError(f"nothing ingested in {store.workspace}", "run `twinforge ingest PATH` first")


@cli.command()
@config_option("clean")
@dry_run_option("Show before → after for a sample and the counts it would change.")
@click.option("--sample", default=5, show_default=True, help="How many changed messages --dry-run shows.")
@json_option("Print the report as JSON.")
@click.pass_obj
def clean(obj: Ctx, config: str, dry_run: bool, sample: int, as_json: bool) -> None:
    """Keep the substance: drop chatter, strip boilerplate, redact secrets, deduplicate. Every reject is kept.

    Re-running recomputes everything from the ingested messages (chatter verdicts are reused while a
    conversation is unchanged); your `keep`/`drop` decisions are applied last and survive every run.
    """
    cfg = load_recipe(config).clean
    with obj.store(create=False) as store:
        _ensure_ingested(store)
        report = run_clean(store, cfg, progress=progress_wanted(), dry_run=dry_run, samples=sample)
        steps = [] if dry_run else compute_funnel(store, progress_wanted())
    if as_json:
        click.echo(json.dumps(report.as_dict() | {"funnel": steps}, ensure_ascii=False, indent=2))
        return
    if dry_run:
        for s in report.samples:
            click.echo(f"--- {s['message_id']}  stripped: {', '.join(s['stripped']) or '-'};"
                       f" redacted: {', '.join(s['redacted']) or '-'}")
            click.echo(f"before: {_short(s['before'])}\nafter:  {_short(s['after'])}\n")
    verb = "would be" if dry_run else "are"
    conv = report.conversations
    judged = f", {report.judged} given to the LLM judge" if report.judged else ""
    click.echo(f"conversations: {conv.get('substance', 0)} substance, {conv.get('chatter', 0)} chatter"
               f" ({report.verdicts_reused} verdicts reused{judged})")
    reasons = ", ".join(f"{k} {v}" for k, v in report.reasons.most_common())
    click.echo(f"messages that {verb}: {reasons}")
    if report.stripped_spans:
        click.echo("boilerplate spans: " + ", ".join(f"{k} {v}" for k, v in report.stripped_spans.most_common()))
    if report.redactions:
        click.echo("redacted: " + ", ".join(f"{k} {v}" for k, v in report.redactions.most_common()))
    if steps:
        _print_funnel(steps)
    if dry_run:
        click.echo("dry run: nothing was written")


def _short(text: str, n: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "…"


def _print_funnel(steps: list[dict]) -> None:
    click.echo(f"\n{'step':<22}{'convs':>9}{'msgs':>11}{'chars':>16}{'pages':>12}{'tokens':>14}")
    for s in steps:
        click.echo(f"{s['step']:<22}{s['conversations']:>9,}{s['messages']:>11,}{s['characters']:>16,}"
                   f"{s['pages']:>12,}{s['tokens']:>14,}")


@cli.command()
@json_option("Print JSON.")
@click.option("--html", "html_path", type=click.Path(), help="Where to write the chart (default: "
              "WORKSPACE/reports/funnel.html).")
@click.pass_obj
def funnel(obj: Ctx, as_json: bool, html_path: str | None) -> None:
    """Pages, tokens, conversations and messages at each step: raw → dialog only → without chatter → without
    boilerplate → deduplicated → redacted. Also writes an HTML chart."""
    with obj.store(create=False) as store:
        steps = compute_funnel(store, progress_wanted())
        if not steps:
            raise TwinforgeError(f"no clean results in {store.workspace}", "run `twinforge clean` first")
        out = Path(html_path) if html_path else store.ws.reports / "funnel.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(funnel_html(steps), encoding="utf-8")
    if as_json:
        click.echo(json.dumps({"steps": steps, "html": str(out)}, ensure_ascii=False, indent=2))
        return
    _print_funnel(steps)
    click.echo(f"\nchart: {out}")


MODULE_FLAGGED = "module-flagged"  # a distilled module the quality score flagged (distill/quality.py)


@cli.command()
@click.option("--reason", "reasons", multiple=True, help="Only these reasons (chatter, empty, duplicate, "
              "near-duplicate, dropped-by-user, other-branch, hidden, tool, module-flagged, ...).")
@click.option("--all", "show_all", is_flag=True, help="Include structural rejects (hidden, tool, other branches…).")
@click.option("--limit", type=int, default=200, show_default=True, help="At most this many rows (0: all).")
@json_option("One JSON object per line.")
@click.pass_obj
def rejects(obj: Ctx, reasons, show_all: bool, limit: int, as_json: bool) -> None:
    """What clean set aside, with the reason and score; `twinforge keep ID` brings one back. Then the modules
    the quality score flagged (reason module-flagged), with why.

    By default lists clean's own judgements (chatter, empty, duplicates, your drops); --all adds the
    structural ones from ingest (non-dialog kinds, other branches).
    """
    with obj.store(create=False) as store:
        rows = listings.rejects(store, reasons=reasons, exclude=() if show_all else STRUCTURAL, limit=limit or None)
        flagged = store.module_scores(flagged_only=True) if not reasons or MODULE_FLAGGED in reasons else {}
        titles = listings.module_titles(store)
    for r in rows:
        detail = r.why if r.reason == "chatter" else (f"copy of {r.duplicate_of}" if r.duplicate_of else "")
        if as_json:
            click.echo(json.dumps({
                "message_id": r.message_id, "conversation_id": r.conversation_id, "title": r.title,
                "role": r.role, "reason": r.reason, "score": r.score, "detail": detail,
                "duplicate_of": r.duplicate_of, "text": r.raw,
            }, ensure_ascii=False))
        else:
            score = f" {r.score:.2f}" if r.score is not None else ""
            click.echo(f"{r.reason}{score}  {r.message_id}  [{r.title[:40]}] {r.role}: "
                       f"{_short(r.raw, 90)}" + (f"\n    {detail}" if detail else ""))
    for mid, f in flagged.items():
        detail = "; ".join(f["reasons"])
        if as_json:
            click.echo(json.dumps({"module_id": mid, "conversation_id": f["conversation_id"],
                                   "title": titles.get(mid), "reason": MODULE_FLAGGED, "score": f["score"],
                                   "detail": detail, "reasons": f["reasons"]}, ensure_ascii=False))
        else:
            click.echo(f"{MODULE_FLAGGED} {f['score']:.2f}  {mid}  [{(titles.get(mid) or '')[:40]}]\n    {detail}")


def _override(obj: Ctx, record_id: str, keep: bool, note: str | None) -> None:
    with obj.store(create=False) as store:
        try:
            rtype = set_override(store, record_id, keep, note)
        except LookupError as e:
            raise TwinforgeError(str(e), "ids are in `twinforge rejects` and `twinforge messages --json`") from e
    click.echo(f"{'kept' if keep else 'dropped'} {rtype} {record_id}; this decision outlives every re-run of clean")


@cli.command()
@click.argument("record_id")
@click.option("--note", help="Why (kept with the decision).")
@click.pass_obj
def keep(obj: Ctx, record_id: str, note: str | None) -> None:
    """Keep a conversation or message that clean rejected (chatter, empty, duplicate)."""
    _override(obj, record_id, True, note)


@cli.command()
@click.argument("record_id")
@click.option("--note", help="Why (kept with the decision).")
@click.pass_obj
def drop(obj: Ctx, record_id: str, note: str | None) -> None:
    """Drop a conversation or message that clean kept."""
    _override(obj, record_id, False, note)
