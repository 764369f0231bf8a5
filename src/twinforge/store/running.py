"""Which twinforge commands are running on a workspace, told apart from runs whose process was killed.

Each stage run holds an exclusive `flock` on `.running/<run id>.lock` in the workspace while it lives; the file
says which stage and process it is. The kernel drops the lock when the process dies, however it dies (kill -9
included), so a lock file that can be locked again belongs to a dead run. That tells a stale `running` row from a
live one, and names the command that holds the workspace when another one has to wait for it.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

FOLDER = ".running"


@dataclass
class Mark:
    """A live run's lock, held until `release()`."""

    path: Path
    fd: int

    def release(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self.fd)  # closing drops the flock


def mark(workspace: Path, run_id: int, stage: str, started: str) -> Mark:
    folder = workspace / FOLDER
    folder.mkdir(exist_ok=True)
    path = folder / f"{run_id}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, json.dumps({"stage": stage, "pid": os.getpid(), "started": started}).encode())
    return Mark(path, fd)


def alive(workspace: Path, run_id: int) -> dict | None:
    """What the live run `run_id` wrote in its lock file, or None when no live process holds it."""
    path = workspace / FOLDER / f"{run_id}.lock"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # someone holds it: the run lives
            try:
                return json.loads(os.pread(fd, 4096, 0) or b"{}") | {"run": run_id}
            except ValueError:
                return {"run": run_id}
        return None
    finally:
        os.close(fd)


def live_runs(workspace: Path) -> list[dict]:
    """Every live run's lock content ({stage, pid, started, run}), oldest first."""
    folder = workspace / FOLDER
    ids = sorted(int(p.stem) for p in folder.glob("*.lock") if p.stem.isdigit()) if folder.is_dir() else []
    return [info for i in ids if (info := alive(workspace, i)) is not None]


def forget(workspace: Path, run_id: int) -> None:
    """Remove a dead run's lock file."""
    (workspace / FOLDER / f"{run_id}.lock").unlink(missing_ok=True)


def describe(runs: list[dict]) -> str:
    """'`ingest` (pid 123, since 2025-01-01T10:00:00+00:00)', joined for several."""
    return ", ".join(f"`{r.get('stage', '?')}` (pid {r.get('pid', '?')}, since {r.get('started', '?')})" for r in runs)
