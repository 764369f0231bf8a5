"""The `twinforge` command group, the workspace option and the error boundary. Command modules attach to `cli`
here; main.py imports them all (so nothing here imports a command module: no import circle)."""

from __future__ import annotations

import sqlite3
import sys

import click

from .. import __version__
from ..errors import TwinforgeError
from ..store import Store
from ..store.db import busy_error, is_busy, resolve_workspace
from .terminal import SafeStream


class _Group(click.Group):
    """Turns library errors into one line on stderr and exit code 1; Ctrl-C into exit code 130."""

    def invoke(self, ctx: click.Context):
        out, err = sys.stdout, sys.stderr
        # imported titles, texts and file names reach the terminal without their control sequences
        sys.stdout, sys.stderr = SafeStream(out), SafeStream(err, keep_cr=True)
        try:
            return super().invoke(ctx)
        except TwinforgeError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(1)
        except sqlite3.OperationalError as e:
            if not is_busy(e):
                raise
            # a read that waited its bounded time for another command's write lock (any statement can)
            workspace = ctx.obj.workspace if isinstance(ctx.obj, Ctx) else None
            click.echo(f"error: {busy_error(resolve_workspace(workspace))}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted: finished work is kept and unfinished work rolled back; run the command "
                       "again to resume", err=True)
            ctx.exit(130)
        finally:
            sys.stdout, sys.stderr = out, err


class Ctx:
    def __init__(self, workspace: str | None):
        self.workspace = workspace

    def store(self, create: bool = True) -> Store:
        return Store(self.workspace, create=create)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "-w", "--workspace", envvar="TWINFORGE_WORKSPACE", default="twin", show_default=True,
    help="Workspace folder holding twin.db (or set TWINFORGE_WORKSPACE).",
)
@click.version_option(__version__, prog_name="twinforge")
@click.pass_context
def cli(ctx: click.Context, workspace: str) -> None:
    """Forge a thinking twin from an AI-chat archive.

    Typical start: `twinforge ingest ~/Downloads/chatgpt-export.zip`, then `twinforge stats`.
    """
    ctx.obj = Ctx(workspace)


def progress_wanted() -> bool:
    return sys.stderr.isatty()
