"""Fixtures of the memory tests (a pytest plugin loaded by conftest.py).

`memory_ws`: the sample archive ingested, cleaned, distilled (extractive backend) and its memory built, once per
test run (treat it as read-only; copy it for anything that writes). `retrieval_ws`: the same plus the seeds and
the shared fixtures, for the retrieval quality set.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner


def _tf(ws: Path, *args: str):
    from twinforge.cli.main import cli

    r = CliRunner().invoke(cli, ["-w", str(ws), *map(str, args)])
    assert r.exit_code == 0, r.output
    return r


@pytest.fixture(scope="session")
def memory_ws(cleaned_sample_db, tmp_path_factory) -> Path:
    """A workspace: the sample archive cleaned, distilled (extractive) and with memory built (USE embedder)."""
    ws = tmp_path_factory.mktemp("memory") / "ws"
    ws.mkdir(parents=True)
    shutil.copy(cleaned_sample_db, ws / "twin.db")
    _tf(ws, "distill", "--backend", "extractive")
    _tf(ws, "memory", "build")
    return ws


@pytest.fixture
def memory_copy(memory_ws, tmp_path) -> Path:
    """A private, writable copy of `memory_ws`."""
    ws = tmp_path / "ws-memory"
    shutil.copytree(memory_ws, ws)
    return ws


@pytest.fixture(scope="session")
def retrieval_ws(tmp_path_factory) -> Path:
    """Sample archive + seeds + shared fixtures, cleaned, distilled (extractive), memory built."""
    from conftest import FIXTURES, SAMPLE, SEEDS, need_shared

    need_shared()
    ws = tmp_path_factory.mktemp("retrieval") / "ws"
    for src in (SAMPLE, SEEDS, FIXTURES):
        _tf(ws, "ingest", src)
    _tf(ws, "clean")
    _tf(ws, "distill", "--backend", "extractive")
    _tf(ws, "memory", "build")
    return ws
