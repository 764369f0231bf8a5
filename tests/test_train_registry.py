"""The adapter registry reads without writing, never forgets an adapter on its own, and a corrupt twinforge.json
is an error rather than a silent fall back to the embedded base."""

from __future__ import annotations

import json

import pytest

from twinforge.adapters import registry
from twinforge.errors import ConfigError
from twinforge.store import Store


def fake_adapter(ws, name: str, base: str = "embedded") -> None:
    folder = ws / "adapters" / name
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "twinforge.json").write_text(json.dumps({"id": name, "kind": "full", "base": base, "base_hash": "h",
                                                       "created_at": "2026-01-01T00:00:00"}))


def test_listing_never_deletes_and_flags_what_is_missing(workspace, tf):
    with Store(workspace) as store:
        fake_adapter(workspace, "kept")
        registry.register(store, workspace / "adapters" / "kept")
        (workspace / "adapters" / "kept" / "twinforge.json").unlink()
        fake_adapter(workspace, "new")  # on disk, never registered
        rows = {a.id: a for a in registry.list_adapters(store)}
        count = store.db.execute("SELECT count(*) FROM adapters").fetchone()[0]
    assert count == 1  # the listing wrote nothing: the row stays and "new" is not registered behind our back
    assert rows["kept"].missing and "twinforge.json is gone" in rows["kept"].missing
    assert not rows["new"].registered and rows["new"].missing is None
    out = tf("adapters").output
    assert "MISSING" in out and "1 missing from disk" in out


def test_eval_refuses_a_missing_adapter(workspace):
    from twinforge.eval.run import _adapter_dir

    with Store(workspace) as store:
        fake_adapter(workspace, "gone")
        registry.register(store, workspace / "adapters" / "gone")
        (workspace / "adapters" / "gone" / "twinforge.json").unlink()
        with pytest.raises(ConfigError, match="gone"):
            _adapter_dir(store, "gone")


def test_a_corrupt_twinforge_json_is_an_error_not_the_embedded_base(workspace):
    from twinforge.eval.run import _adapter_base

    fake_adapter(workspace, "broken", base="/models/qwen3-8b")
    folder = workspace / "adapters" / "broken"
    assert _adapter_base(folder) == "/models/qwen3-8b"
    (folder / "twinforge.json").write_text('{"base": "/models/qw')
    with pytest.raises(ConfigError, match="not readable JSON"):
        _adapter_base(folder)
