"""`twinforge ingest`."""

from __future__ import annotations

import json

import click

from ..ingest.entries import Limits
from ..ingest.run import IngestReport, ingest_paths
from .group import Ctx, cli, progress_wanted
from .options import dry_run_option, json_option

MAX_WARNINGS_SHOWN = 20


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@json_option("Print the report as JSON.")
@dry_run_option("Parse everything and report what would change; write nothing.")
@click.option("--strict", is_flag=True, help="Exit non-zero if any file failed (default: only if nothing was read).")
@click.option("--verbose", "-v", is_flag=True, help="Also list skipped files and every warning.")
@click.option("--max-zip-ratio", default=100.0, show_default=True, help="Refuse zips expanding more than this.")
@click.pass_obj
def ingest(obj: Ctx, paths, as_json, dry_run, strict, verbose, max_zip_ratio) -> None:
    """Import exports: ChatGPT (zip, folder, conversations*.json), Claude, DeepSeek, Grok, Nexus markdown, .md/.txt.

    Each file is detected by content and imported in one transaction: a bad or interrupted file leaves the
    workspace as it was. Re-running adds nothing; a newer export adds new conversations and updates changed ones.
    """
    with obj.store() as store:
        report = ingest_paths(store, paths, Limits(max_ratio=max_zip_ratio), progress=progress_wanted(),
                              dry_run=dry_run)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        _print(report, verbose, dry_run)
    failed = report.by_status("failed")
    if (failed and (strict or not report.ok)) or not report.sources:
        if not report.sources:
            click.echo("error: no files found in the given paths", err=True)
        raise SystemExit(1)


def _print(report: IngestReport, verbose: bool, dry_run: bool) -> None:
    verb = "would import" if dry_run else "imported"
    for s in report.sources:
        if s.status == "imported":
            c = s.counts
            click.echo(
                f"{verb:>9}  {s.path} [{s.format}]: {c['added']} new, {c['updated']} updated, "
                f"{c['unchanged']} unchanged, {c['duplicate']} duplicate, {c['older']} older"
                + (f", {c['repeated']} repeated ids" if c.get("repeated") else "") + "; "
                f"{c['messages']} messages, {c['repaired']} repaired, {len(s.warnings)} warnings"
            )
        elif s.status == "known":
            click.echo(f"{'known':>9}  {s.path} [{s.format}]: already imported, skipped")
        elif s.status == "skipped" and verbose:
            click.echo(f"{'skipped':>9}  {s.path}: {s.reason}")
        elif s.status == "failed":
            click.echo(f"error: {s.path}: {s.reason}", err=True)
    warnings = [w for s in report.sources for w in s.warnings]
    for w in warnings if verbose else warnings[:MAX_WARNINGS_SHOWN]:
        click.echo(f"  warning: {w}", err=True)
    if not verbose and len(warnings) > MAX_WARNINGS_SHOWN:
        click.echo(f"  … and {len(warnings) - MAX_WARNINGS_SHOWN} more warnings (--verbose lists all)", err=True)
    t = report.totals()
    skipped = f", {t['files_skipped']} skipped" + ("" if verbose else " (-v lists them)") if t["files_skipped"] else ""
    click.echo(
        f"{t['files_imported']} file(s) {verb}, {t['files_known']} already known, {t['files_failed']} failed{skipped}. "
        f"Conversations: {t['added']} new, {t['updated']} updated, {t['duplicate']} duplicate copies"
        + (f", {t['repeated']} repeated ids in one file (one copy kept each)" if t["repeated"] else "") + ". "
        f"Messages: {t['messages']} written, {t['repaired']} repaired from mojibake."
    )
