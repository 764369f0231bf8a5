"""Options several commands share, defined once (after sqlite-utils): `@json_option()`, `@config_option("clean")`,
`@dry_run_option(...)`. Each takes the command's own help text where the default does not fit."""

from __future__ import annotations

import click


def json_option(help: str = "Print the result as JSON."):  # noqa: A002  (click's own parameter name)
    return click.option("--json", "as_json", is_flag=True, help=help)


def config_option(section: str | None = None, help: str | None = None):  # noqa: A002
    """--config/-c: a recipe YAML file or a bundled recipe's name; `section` names the part the command uses."""
    text = help or (f"Recipe whose `{section}:` section to use (YAML file or bundled recipe name)." if section
                    else "Recipe YAML file, or the name of a bundled recipe (default, demo).")
    return click.option("--config", "-c", "config", default="default", show_default=True, help=text)


def dry_run_option(help: str = "Compute and report, write nothing."):  # noqa: A002
    return click.option("--dry-run", is_flag=True, help=help)
