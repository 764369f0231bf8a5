"""Fixtures of the dataset tests (a pytest plugin loaded by conftest.py), shared with the later stages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_dataset(cleaned_sample_db, tmp_path_factory) -> Path:
    """A workspace with the sample archive ingested, cleaned, distilled (extractive backend), expanded and built
    into `datasets/default/` (train.jsonl, val.jsonl, stats.json, exports). Session-wide: copy before changing."""
    from twinforge.config import DistillConfig
    from twinforge.dataset.build import build_dataset
    from twinforge.distill.run import distill
    from twinforge.expand.run import expand
    from twinforge.store import Store

    ws = tmp_path_factory.mktemp("dataset") / "ws"
    ws.mkdir()
    shutil.copy(cleaned_sample_db, ws / "twin.db")
    with Store(ws) as store:
        distill(store, DistillConfig())  # default backend: extractive, no model
        expand(store)
        build_dataset(store)
    return ws
