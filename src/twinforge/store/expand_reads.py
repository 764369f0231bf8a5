"""Reads over what expand wrote and what its generation cost: the volume report's (expand/volume.py) and the
volume planner's (expand/planner.py) inputs.

The volume reads take a connection, so expand can measure inside the transaction it is writing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

from .db import Store


@dataclass(frozen=True)
class ExampleText:
    view: str
    messages: str  # the chat as stored (JSON)
    chars: int
    tokens: int


@dataclass(frozen=True)
class CallSizes:
    """The call cache's answered calls of one prompt version (e.g. paraphrase.v1)."""

    prompt_version: str
    prompt_tokens: float  # mean per call
    completion_tokens: float  # mean per call
    calls: int


@dataclass(frozen=True)
class FinishedRun:
    id: int
    stage: str
    started_at: str
    finished_at: str


@dataclass(frozen=True)
class CallTotals:
    completion_tokens: int
    prompt_tokens: int
    calls: int


def expanded_conversations(db: sqlite3.Connection) -> list[str]:
    """The conversations the expanded modules come from, each once, in id order."""
    return [r[0] for r in db.execute("SELECT DISTINCT conversation_id FROM expanded_modules ORDER BY 1")]


def expanded_source_chars(db: sqlite3.Connection) -> int:
    """The kept characters of the expanded modules' source dialogs, each conversation once."""
    return db.execute("SELECT coalesce(sum(c), 0) FROM (SELECT max(source_chars) AS c FROM expanded_modules"
                      " GROUP BY conversation_id)").fetchone()[0]


def example_texts(db: sqlite3.Connection) -> Iterator[ExampleText]:
    """Every example (template and generated), by module, view and position."""
    for view, raw, chars, tokens in db.execute(
            "SELECT view, messages, chars, tokens FROM examples ORDER BY module_id, view, position"):
        yield ExampleText(view, raw, chars or 0, tokens or 0)


def modules_with_examples(store: Store) -> int:
    """How many modules have at least one example."""
    return store.db.execute("SELECT count(DISTINCT module_id) FROM examples").fetchone()[0]


def call_sizes(store: Store) -> list[CallSizes]:
    """Mean request and answer sizes of the call cache's answered calls, per prompt version."""
    return [CallSizes(v, float(p or 0), float(c or 0), n) for v, p, c, n in store.db.execute(
        "SELECT prompt_version, avg(prompt_tokens), avg(completion_tokens), count(*) FROM llm_calls"
        " WHERE completion_tokens IS NOT NULL GROUP BY prompt_version")]


def finished_runs(store: Store, limit: int = 50) -> list[FinishedRun]:
    """The latest runs that finished ok, newest first."""
    return [FinishedRun(*r) for r in store.db.execute(
        "SELECT id, stage, started_at, finished_at FROM runs WHERE finished_at IS NOT NULL AND status = 'ok'"
        " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()]


def call_totals(store: Store, backend: str, model: str | None, start: str, end: str) -> CallTotals:
    """Answer and prompt tokens and calls the call cache recorded from a backend (and model) between two times."""
    where, args = "backend = ?", [backend]
    if model:
        where, args = where + " AND model = ?", [*args, model]
    tokens, prompt, calls = store.db.execute(
        f"SELECT coalesce(sum(completion_tokens), 0), coalesce(sum(prompt_tokens), 0), count(*) FROM llm_calls"
        f" WHERE {where} AND created_at BETWEEN ? AND ?", [*args, start, end]).fetchone()
    return CallTotals(tokens, prompt, calls)
