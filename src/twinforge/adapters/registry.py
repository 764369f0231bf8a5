"""The adapter registry: table `adapters` (m006_train.sql) indexing the folders WORKSPACE/adapters/<id>/.

A folder is an adapter once its twinforge.json exists (train_adapter writes it last). Listing only reads: it
shows finished folders the table does not know yet (trained through the library, or copied in) as unregistered,
and rows whose folder or twinforge.json is gone as missing, with the reason. It never deletes a row: a folder on
an unmounted disk is not a reason to forget an adapter; `adapters remove ID` is.

A chained batch (`train --chain`) also has chain.json in its folder: its chain, the batch it was trained after,
the hash of its own examples and the forgetting gate's verdict (status ok | flagged | rejected) — m012's columns.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigError
from ..models.layers import describe_meta
from ..models.stack import META

CHAIN = "chain.json"  # a chained batch's record beside twinforge.json (train/chain.py writes it)


@dataclass
class Adapter:
    id: str
    path: Path  # absolute
    kind: str
    scene: str | None
    base: str
    base_hash: str
    dataset: str | None
    dataset_hash: str | None
    parents: list[str] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    created_at: str = ""
    registered: bool = True  # False: a finished folder on disk the table does not list yet
    missing: str | None = None  # why a registered adapter cannot be used (its folder or twinforge.json is gone)
    chain: str | None = None  # chained batches: the chain's name
    chain_parent: str | None = None  # the accepted batch it was trained after
    data_hash: str | None = None  # its own examples' hash (replay excluded): what a resumed chain skips by
    status: str = "ok"  # ok | flagged | rejected (the forgetting gate's verdict)
    gate: dict = field(default_factory=dict)  # the gate's figures and findings

    def meta(self) -> dict:
        """The whole twinforge.json (hyperparameters, data stats, loss history, ...)."""
        return json.loads((self.path / META).read_text(encoding="utf-8"))

    @property
    def layers(self) -> str:
        """The decoder layers it adapts ('all', '15-17 of 18'), from twinforge.json (no table column needed)."""
        try:
            return describe_meta(self.meta())
        except (OSError, ValueError):
            return "?"

    def as_dict(self) -> dict:
        return {**asdict(self), "path": str(self.path)}


def read_chain(folder: Path) -> dict:
    """chain.json of a chained batch ({} for any other adapter)."""
    p = Path(folder) / CHAIN
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {}


def register(store, adapter_dir: str | Path) -> Adapter:
    """Record a finished adapter folder (again, if it was: the row is replaced), with its chain.json if any."""
    folder = Path(adapter_dir).resolve()
    meta_file = folder / META
    if not meta_file.is_file():
        raise ConfigError(f"{folder} is not a finished adapter (no {META})",
                          "train it to the end first: run the same `twinforge train` command again")
    m = json.loads(meta_file.read_text(encoding="utf-8"))
    ws = store.workspace.resolve()
    rel = str(folder.relative_to(ws)) if folder.is_relative_to(ws) else str(folder)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    c = read_chain(folder)
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO adapters (id, path, kind, scene, base, base_hash, dataset, dataset_hash, parents,"
            " metrics, created_at, registered_at, chain, chain_parent, data_hash, status, gate)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (m["id"], rel, m.get("kind", "full"), m.get("scene"), m.get("base", ""), m.get("base_hash", ""),
             m.get("dataset"), m.get("dataset_hash"), json.dumps(m.get("parents", [])),
             json.dumps(m.get("metrics", {})), m.get("created_at", now), now, c.get("chain"), c.get("parent"),
             c.get("data_hash"), c.get("status", "ok"), json.dumps(c.get("gate", {}))))
    return get(store, m["id"])


def _row(store, row) -> Adapter:
    path = Path(row["path"])
    path = path if path.is_absolute() else (store.workspace / path).resolve()
    missing = None if (path / META).is_file() else (
        f"its {META} is gone from {path}" if path.is_dir() else f"its folder {path} is gone")
    return Adapter(row["id"], path, row["kind"], row["scene"], row["base"], row["base_hash"], row["dataset"],
                   row["dataset_hash"], json.loads(row["parents"]), json.loads(row["metrics"]), row["created_at"],
                   missing=missing, chain=row["chain"], chain_parent=row["chain_parent"],
                   data_hash=row["data_hash"], status=row["status"], gate=json.loads(row["gate"]))


def _from_folder(folder: Path) -> Adapter:
    """A finished adapter folder the table does not list, read from its twinforge.json."""
    m = json.loads((folder / META).read_text(encoding="utf-8"))
    c = read_chain(folder)
    return Adapter(m.get("id", folder.name), folder.resolve(), m.get("kind", "full"), m.get("scene"),
                   m.get("base", ""), m.get("base_hash", ""), m.get("dataset"), m.get("dataset_hash"),
                   m.get("parents", []), m.get("metrics", {}), m.get("created_at", ""), registered=False,
                   chain=c.get("chain"), chain_parent=c.get("parent"), data_hash=c.get("data_hash"),
                   status=c.get("status", "ok"), gate=c.get("gate", {}))


def list_adapters(store) -> list[Adapter]:
    """Registered adapters (missing ones flagged), then finished folders not registered yet. Reads only."""
    rows = [_row(store, r) for r in store.db.execute("SELECT * FROM adapters ORDER BY created_at, id")]
    known = {a.id for a in rows}
    root = store.ws.adapters
    on_disk = sorted(p.parent for p in root.glob(f"*/{META}")) if root.is_dir() else []
    return rows + [_from_folder(f) for f in on_disk if f.name not in known]


def get(store, adapter_id: str) -> Adapter:
    row = store.db.execute("SELECT * FROM adapters WHERE id = ?", (adapter_id,)).fetchone()
    if row is None:
        folder = store.ws.adapters / adapter_id
        if (folder / META).is_file():
            return _from_folder(folder)
        ids = [r[0] for r in store.db.execute("SELECT id FROM adapters ORDER BY id LIMIT 8")]
        raise ConfigError(f"no adapter {adapter_id!r} in {store.workspace}",
                          f"known: {', '.join(ids)}" if ids else "train one first: `twinforge train`")
    return _row(store, row)


def children(store, adapter_id: str) -> list[str]:
    """Adapters trained on top of this one."""
    return [r["id"] for r in store.db.execute("SELECT id, parents FROM adapters")
            if adapter_id in json.loads(r["parents"])]


def remove(store, adapter_id: str, force: bool = False) -> Adapter:
    """Forget an adapter and delete its folder (only a folder inside the workspace; one registered from
    elsewhere is left on disk). Refuses while another adapter was trained on top of it, unless `force`."""
    adapter = get(store, adapter_id)
    kids = children(store, adapter_id)
    if kids and not force:
        raise ConfigError(f"adapter {adapter_id} is the frozen base of {', '.join(kids)}",
                          "remove those first, or pass --force (they will not load without it)")
    with store.transaction() as db:
        db.execute("DELETE FROM adapters WHERE id = ?", (adapter_id,))
    if adapter.path.is_relative_to(store.ws.adapters.resolve()):
        (adapter.path / META).unlink(missing_ok=True)  # first: a half-deleted folder is no longer an adapter
        shutil.rmtree(adapter.path, ignore_errors=True)
    return adapter
