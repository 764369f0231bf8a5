"""The CLI reference and README stay true to the code."""

from __future__ import annotations

from conftest import REPO

from twinforge.cli.docs import render
from twinforge.cli.main import cli
from twinforge.distill import taxonomy


def test_cli_reference_is_current():
    current = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == render(), "docs/cli.md is stale: run `make docs`"


def test_meta_move_reference_is_current():
    doc = (REPO / "docs" / "meta-moves.md").read_text(encoding="utf-8")
    assert doc == taxonomy.markdown(), "docs/meta-moves.md is stale: python -m twinforge.distill.taxonomy"
    for move in taxonomy.moves().values():
        assert f"## {move.name}" in doc and move.ru in doc and move.en in doc


def test_readme_mentions_every_command_and_the_two_make_targets():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    for name in cli.commands:
        assert f"twinforge {name}" in readme, f"README does not describe `twinforge {name}`"
