"""Fixtures of the hyper tests (a pytest plugin loaded by conftest.py)."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner


@pytest.fixture(scope="session")
def hyper_ws(cleaned_sample_db, tmp_path_factory):
    """The cleaned sample archive, distilled (extractive) and with the hyper vocabulary and pairs built, once per
    run. Tests that write into it must copy it (`hyper_copy`)."""
    from twinforge.cli.main import cli

    ws = tmp_path_factory.mktemp("hyper") / "ws"
    ws.mkdir()
    shutil.copy(cleaned_sample_db, ws / "twin.db")
    runner = CliRunner()
    for args in (["distill"], ["hyper", "vocab"], ["hyper", "dataset"]):
        r = runner.invoke(cli, ["-w", str(ws), *args])
        assert r.exit_code == 0, r.output
    return ws


@pytest.fixture
def hyper_copy(hyper_ws, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(hyper_ws, ws)
    return ws


@pytest.fixture(scope="session")
def hyper_bridge(hyper_ws):
    """The bridge adapter trained a few steps on the embedded Gemma 3 270M (session-scoped: minutes on CPU)."""
    pytest.importorskip("peft")
    from twinforge.hyper.bridge import train_bridge
    from twinforge.hyper.config import HyperConfig
    from twinforge.store import Store

    with Store(hyper_ws) as store:
        return train_bridge(store, HyperConfig(bridge_max_len=64), max_steps=2, batch_size=1)
