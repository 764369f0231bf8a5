"""Generate the CLI reference (docs/cli.md) from --help, so the docs cannot drift (a test compares them).

Run: `python -m twinforge.cli.docs > docs/cli.md` (or `make docs`).
"""

from __future__ import annotations

import click

from .main import cli


def render() -> str:
    out = [
        "# CLI reference",
        "",
        "Generated from `--help` by `make docs`; `tests/test_docs.py` fails when it is out of date.",
        "",
    ]
    # Fixed width, so the text does not depend on the terminal it is generated in.
    settings = {**cli.context_settings, "terminal_width": 100}
    root = click.Context(cli, info_name="twinforge", **settings)
    out += ["## twinforge", "", "```", cli.get_help(root), "```", ""]
    for name in cli.list_commands(root):
        cmd = cli.get_command(root, name)
        ctx = click.Context(cmd, info_name=name, parent=root, **settings)
        out += [f"## twinforge {name}", "", "```", cmd.get_help(ctx), "```", ""]
        for sub in (cmd.list_commands(ctx) if isinstance(cmd, click.Group) else []):
            subcmd = cmd.get_command(ctx, sub)
            subctx = click.Context(subcmd, info_name=sub, parent=ctx, **settings)
            out += [f"## twinforge {name} {sub}", "", "```", subcmd.get_help(subctx), "```", ""]
    return "\n".join(out)


if __name__ == "__main__":
    click.echo(render(), nl=False)
