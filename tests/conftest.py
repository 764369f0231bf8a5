from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TWINFORGE_SHARED", REPO.parent / "shared"))
FIXTURES = SHARED / "fixtures" / "exports"
SEEDS = SHARED / "seeds"
SAMPLE = REPO / "examples" / "sample-archive"


def need_shared() -> None:
    if not FIXTURES.exists():
        pytest.skip(f"shared fixtures not found at {SHARED} (set TWINFORGE_SHARED)")


@pytest.fixture
def fixtures() -> Path:
    need_shared()
    return FIXTURES


@pytest.fixture
def seeds() -> Path:
    need_shared()
    return SEEDS


@pytest.fixture
def workspace(tmp_path) -> Path:
    return tmp_path / "ws"


@pytest.fixture
def tf(workspace):
    """Run the real CLI in-process against a fresh workspace: tf('ingest', path) -> click Result."""
    from twinforge.cli.main import cli

    runner = CliRunner()

    def invoke(*args: str, ws: Path | None = None):
        return runner.invoke(cli, ["-w", str(ws or workspace), *map(str, args)], catch_exceptions=False)

    return invoke
