"""Every backend answer kept in `llm_calls`, keyed by hash of (backend, model, prompt version, request).

A re-run asks the store before the model, so it is free; an answer is written as soon as its batch returns, so
a run killed mid-way loses at most the batch in flight.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from ..store import Store
from ..store.db import now_iso
from .base import Backend, BackendError, Request


def call_key(backend: str, model: str, prompt_version: str, request: Request) -> str:
    payload = {"backend": backend, "model": model, "prompt_version": prompt_version, "messages": request.messages,
               "json_schema": request.json_schema, "max_tokens": request.max_tokens,
               "temperature": request.temperature}
    if request.avoid:  # only when set: the keys of every request without it stay what they were
        payload["avoid"] = request.avoid
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


@dataclass
class Answer:
    key: str
    text: str | None  # None: the call failed
    error: BackendError | None = None
    cached: bool = False


class CachedBackend:
    """A backend behind the store's call cache."""

    def __init__(self, store: Store, backend: Backend, prompt_version: str):
        self.store = store
        self.backend = backend
        self.prompt_version = prompt_version
        self.calls = 0
        self.hits = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def key(self, request: Request) -> str:
        return call_key(self.backend.name, self.backend.model, self.prompt_version, request)

    def complete_many(self, requests: list[Request]) -> list[Answer]:
        keys = [self.key(r) for r in requests]
        cached = self._lookup(keys)
        todo = [i for i, k in enumerate(keys) if k not in cached]
        answers = {k: Answer(k, text, cached=True) for k, text in cached.items()}
        self.hits += len(requests) - len(todo)
        if todo:
            results = self.backend.complete_many([requests[i] for i in todo])
            self.calls += len(todo)
            rows = []
            for i, result in zip(todo, results):
                if isinstance(result, BackendError):
                    answers[keys[i]] = Answer(keys[i], None, result)
                    continue
                answers[keys[i]] = Answer(keys[i], result.text)
                self.prompt_tokens += result.prompt_tokens or 0
                self.completion_tokens += result.completion_tokens or 0
                rows.append((keys[i], self.backend.name, self.backend.model, self.prompt_version, result.text,
                             result.prompt_tokens, result.completion_tokens, now_iso()))
            with self.store.transaction() as db:
                db.executemany("INSERT OR REPLACE INTO llm_calls VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return [answers[k] for k in keys]

    def _lookup(self, keys: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for i in range(0, len(unique), 500):  # SQLite's variable limit
            part = unique[i : i + 500]
            sql = f"SELECT key, response FROM llm_calls WHERE key IN ({','.join('?' * len(part))})"
            found.update(dict(self.store.db.execute(sql, part).fetchall()))
        return found
