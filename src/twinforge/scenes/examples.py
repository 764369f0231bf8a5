"""A scene's training examples: expand's views run on that one module, in the dataset's JSONL shape.

The template views (concept, inversion, hypothesis, transition, continue, poles, critique) work from the module's
fields alone, so a hand-written scene gets examples without any dialog; the views cut from a dialog (qa, dialog,
next_move, own_words, reverse) add theirs when the scene is a distilled module whose conversation is in the store.
"""

from __future__ import annotations

import hashlib

from ..distill.schema import Module
from ..expand import source, templates
from ..expand.config import ExpandConfig
from ..expand.run import check_views, content_key
from ..expand.views import VIEWS, Context
from ..store import Store


def scene_examples(store: Store, module: Module, cfg: ExpandConfig, system: str | None = None) -> list[dict]:
    """`{"messages", "meta"}` rows for the module: each configured view, capped at its item count, each chat once."""
    views = check_views(cfg)
    turns = source.dialog(store.db, module.conversation_id)
    ctx = Context(module, turns, templates.load(module.language), cfg.seed, cfg.own_words_min_chars,
                  cfg.phrasings, cfg.window)
    seen: set[bytes] = set()
    rows = []
    for view in views:
        cap = cfg.counts.get(view, cfg.per_view)
        for position, ex in enumerate(e for e in VIEWS[view](ctx) if e.item < cap):
            key = content_key(ex.messages)
            if key in seen:
                continue
            seen.add(key)
            eid = hashlib.sha1(f"{module.id}\0{view}\0{position}".encode()).hexdigest()[:16]
            rows.append({"messages": ([{"role": "system", "content": system}] if system else []) + ex.messages,
                         "meta": {"example_id": eid, "module_id": module.id,
                                  "conversation_id": module.conversation_id, "view": view}})
    return rows
