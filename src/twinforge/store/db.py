"""The workspace store: one SQLite file, `twin.db`, inside the workspace folder."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..errors import WorkspaceError
from . import running
from .migrations import migrate
from .reads import Reads
from .workspace import DB_NAME, Workspace

BUSY_ENV = "TWINFORGE_BUSY_TIMEOUT"
BUSY_SECONDS = 30.0  # how long a command waits for another one to let go of the workspace
QUICK_MS = 250  # a first try at the write lock, before saying that we wait


def busy_seconds() -> float:
    """$TWINFORGE_BUSY_TIMEOUT (seconds), else BUSY_SECONDS."""
    try:
        return max(0.0, float(os.environ.get(BUSY_ENV) or BUSY_SECONDS))
    except ValueError:
        return BUSY_SECONDS


def is_busy(e: BaseException) -> bool:
    """SQLite gave up waiting for another connection's lock ("database is locked")."""
    return isinstance(e, sqlite3.OperationalError) and (
        getattr(e, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        or "database is locked" in str(e))


def busy_error(workspace: Path, waited: float | None = None) -> WorkspaceError:
    """One line that names the command holding the workspace, where a live run says so."""
    holders = running.live_runs(workspace)
    after = f" (waited {waited:.0f} s)" if waited else ""
    who = f"{running.describe(holders)} is using it" if holders else "another program is writing to it"
    return WorkspaceError(f"the workspace {workspace} is busy: {who}{after}",
                          f"wait for it to finish and run this again, or raise ${BUSY_ENV} (seconds) to wait longer")


def resolve_workspace(path: str | os.PathLike | None = None) -> Path:
    """--workspace, else $TWINFORGE_WORKSPACE, else ./twin."""
    return Workspace.resolve(path).root


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store(Reads):
    """Connection to a workspace's twin.db, migrated on open.

    Writes go through `transaction()`: one source file is imported in one transaction, so a crash or a bad
    record rolls back to the state before that file.
    """

    def __init__(self, workspace: str | os.PathLike | None = None, create: bool = True):
        self.ws = Workspace.resolve(workspace)  # the folder layout: every path a stage writes comes from here
        self.workspace = self.ws.root
        self.path = self.ws.db
        self.busy_seconds = busy_seconds()
        self._marks: dict[int, running.Mark] = {}
        if not self.path.exists() and not create:
            raise WorkspaceError(
                f"no workspace at {self.workspace} (no {DB_NAME})",
                "run `twinforge ingest PATH` first, or pass --workspace/-w",
            )
        try:
            self.workspace.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise WorkspaceError(f"cannot create workspace folder {self.workspace}: {e.strerror}") from e
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction spans exactly what we say.
            # every statement waits at most busy_seconds for another command's lock, then fails as busy_error
            self.db = sqlite3.connect(self.path, timeout=self.busy_seconds, isolation_level=None,
                                      check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            # 64 KB pages (set before the first table): the store is mostly long message texts written in bulk,
            # and big pages keep them out of overflow chains — 6% faster ingest than 4 KB pages, measured.
            self.db.execute("PRAGMA page_size = 65536")
            self.db.execute("PRAGMA foreign_keys = ON")
            # Rollback journal, not WAL: ingest appends gigabytes in one transaction, and new pages then need no
            # journaling at all, where WAL would write every page twice (log, then checkpoint).
            self.db.execute("PRAGMA journal_mode = DELETE")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA cache_size = -32768")  # 32 MB: keeps the message-id index hot
            migrate(self.db)
        except sqlite3.DatabaseError as e:
            if is_busy(e):
                raise busy_error(self.workspace, self.busy_seconds) from e
            raise WorkspaceError(
                f"{self.path} is not a usable twinforge database ({e})",
                "point --workspace at another folder, or move this file away",
            ) from e

    def close(self) -> None:
        self.db.close()
        for m in self._marks.values():
            m.release()
        self._marks.clear()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _begin(self) -> None:
        """BEGIN IMMEDIATE; while another command holds the workspace, say so once and wait (bounded)."""
        try:
            self.db.execute(f"PRAGMA busy_timeout = {min(QUICK_MS, int(self.busy_seconds * 1000))}")
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if not is_busy(e) or self.busy_seconds * 1000 <= QUICK_MS:
                    raise
            holders = running.live_runs(self.workspace)
            who = running.describe(holders) if holders else "another command"
            print(f"note: {who} is using the workspace; waiting up to {self.busy_seconds:.0f} s for it",
                  file=sys.stderr, flush=True)
            self.db.execute(f"PRAGMA busy_timeout = {int(self.busy_seconds * 1000)}")
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            if is_busy(e):
                raise busy_error(self.workspace, self.busy_seconds) from e
            raise
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {int(self.busy_seconds * 1000)}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._begin()
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # --- runs -------------------------------------------------------------------------------------------

    def start_run(self, stage: str, config: dict) -> int:
        """A `running` row, marked live (see `running`) until finish_run. Rows left `running` by a killed
        process are marked interrupted first. Row and mark appear in one transaction, so no other command sees
        the row without its mark."""
        started = now_iso()
        with self.transaction() as db:
            self._reap(db)
            cur = db.execute(
                "INSERT INTO runs (stage, started_at, status, config) VALUES (?, ?, 'running', ?)",
                (stage, started, json.dumps(config, ensure_ascii=False, default=str)),
            )
            self._marks[cur.lastrowid] = running.mark(self.workspace, cur.lastrowid, stage, started)
        return cur.lastrowid

    def finish_run(self, run_id: int, status: str, stats: dict | None = None, error: str | None = None) -> None:
        try:
            self.db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, stats = ?, error = ? WHERE id = ?",
                (now_iso(), status, json.dumps(stats or {}, ensure_ascii=False, default=str), error, run_id),
            )
        finally:  # should the update fail, the row stays `running` without a live mark: the next run reaps it
            if (m := self._marks.pop(run_id, None)) is not None:
                m.release()

    def _reap(self, db: sqlite3.Connection) -> int:
        """Mark `running` rows whose process is gone as interrupted. Returns how many."""
        stale = [r[0] for r in db.execute("SELECT id FROM runs WHERE status = 'running'").fetchall()
                 if r[0] not in self._marks and running.alive(self.workspace, r[0]) is None]
        db.executemany(
            "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? WHERE id = ?",
            [(now_iso(), "its process ended without finishing it (killed, or the machine stopped)", i) for i in stale],
        )
        for i in stale:
            running.forget(self.workspace, i)
        return len(stale)

    def runs(self, stage: str | None = None) -> list[sqlite3.Row]:
        if stage:
            return self.db.execute("SELECT * FROM runs WHERE stage = ? ORDER BY id", (stage,)).fetchall()
        return self.db.execute("SELECT * FROM runs ORDER BY id").fetchall()

    # --- module scores (distill/quality.py) -------------------------------------------------------------

    def module_scores(self, flagged_only: bool = False) -> dict[str, dict]:
        """Module id → its last score: score, grounding, completeness, degeneracy, flagged, reasons, threshold."""
        rows = self.db.execute(
            "SELECT module_id, conversation_id, score, grounding, completeness, degeneracy, flagged, reasons,"
            " threshold, scored_at FROM module_scores" + (" WHERE flagged = 1" if flagged_only else "")
            + " ORDER BY module_id").fetchall()
        return {r["module_id"]: {**dict(r), "flagged": bool(r["flagged"]), "reasons": json.loads(r["reasons"])}
                for r in rows}
