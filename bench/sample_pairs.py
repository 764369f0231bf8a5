"""The bundled sample archive as (conversation id, user → assistant example) pairs, for the training benches."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def kept_pairs(ws: Path, max_chars: int) -> list[tuple[str, dict]]:
    """Ingest and clean the sample into `ws` (once), then pair each kept user message with the assistant's reply
    that follows it in the same conversation, each side cut at `max_chars`."""
    if not (ws / "twin.db").exists():
        tf = [sys.executable, "-m", "twinforge", "-w", str(ws)]
        subprocess.run([*tf, "ingest", str(REPO / "examples" / "sample-archive")], check=True, capture_output=True)
        subprocess.run([*tf, "clean"], check=True, capture_output=True)
    db = sqlite3.connect(ws / "twin.db")
    rows = db.execute(
        "SELECT m.conversation_id, m.role, c.text FROM messages m JOIN clean_messages c ON c.message_id = m.id"
        " WHERE c.keep = 1 AND m.canonical = 1 AND m.role IN ('user', 'assistant') AND c.text != ''"
        " ORDER BY m.conversation_id, m.position").fetchall()
    db.close()
    return [(a[0], {"messages": [{"role": "user", "content": a[2][:max_chars]},
                                 {"role": "assistant", "content": b[2][:max_chars]}]})
            for a, b in zip(rows, rows[1:]) if a[0] == b[0] and a[1] == "user" and b[1] == "assistant"]
