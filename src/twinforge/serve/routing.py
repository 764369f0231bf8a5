"""`twin+auto`: each question goes to the adapter(s) of the scenes closest to it.

Every adapter trained on one scene (scenes/catalog.py) is a candidate; its scene — title, phrase, concepts, axes,
inversions, hypotheses, rules, questions — is embedded once (text/embed.py, the multilingual sentence encoder the
memory uses). A question is embedded and scored against each scene: cosine similarity plus a bonus for the
scene's concepts it names by stem (a question that says «инверсия» is about the scene with that concept even when
the sentence vectors are close). The best scene's adapter answers; the runner-up joins it as a stack when it
scores within `margin` of the best (a question between two scenes gets both), up to `max_adapters`.

`serve` (model `twin+auto`) and `ask --adapter auto` route through here: the app layer and the command line both
sit above every stage, so routing can read scenes (a stage) and the registry (a service).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import TwinforgeError
from ..eval.metrics.coverage import covered, stems
from ..scenes.catalog import SceneAdapter, scene_adapters, scene_text
from ..store import Store
from ..text.embed import embed

AUTO = "auto"
CONCEPT_BONUS = 0.3  # × share of the scene's concepts the question names: a named concept outweighs close vectors
MARGIN = 0.03  # the runner-up joins the best when it scores within this of it
MAX_ADAPTERS = 2


@dataclass
class Route:
    adapter_id: str
    scene: str
    title: str
    score: float

    def as_dict(self) -> dict:
        return asdict(self)


class Router:
    """The scene adapters of one workspace and their embeddings."""

    def __init__(self, scenes: list[SceneAdapter], concept_bonus: float = CONCEPT_BONUS):
        self.scenes = scenes
        self.concept_bonus = concept_bonus
        self.key = tuple((s.adapter_id, s.module.id) for s in scenes)
        self.vectors = embed([scene_text(s.module) for s in scenes]) if scenes else np.zeros((0, 1))

    @classmethod
    def of(cls, store: Store, concept_bonus: float = CONCEPT_BONUS) -> Router:
        return cls(scene_adapters(store), concept_bonus)

    def rank(self, question: str) -> list[Route]:
        """Every scene adapter, best first."""
        if not self.scenes:
            return []
        q = embed([question])[0]
        dense = self.vectors @ q
        got = stems(question)
        out = []
        for s, d in zip(self.scenes, dense, strict=True):
            named = [c for c in s.module.concepts if c.strip()]
            share = sum(covered(c, got) for c in named) / len(named) if named else 0.0
            out.append(Route(s.adapter_id, s.module.id, s.module.title, float(d) + self.concept_bonus * share))
        return sorted(out, key=lambda r: -r.score)

    def pick(self, question: str, max_adapters: int = MAX_ADAPTERS, margin: float = MARGIN) -> list[Route]:
        """The routes to answer with: the best, and those within `margin` of it (at most `max_adapters`)."""
        ranked = self.rank(question)
        if not ranked:
            raise TwinforgeError("no scene adapters to route between",
                                 "train some: `twinforge train --per-scene` or `twinforge train --scene FILE`")
        best = ranked[0].score
        return [r for r in ranked[:max_adapters] if r.score >= best - margin]


def routed_ids(store: Store, question: str, router: Router | None = None) -> tuple[list[str], list[Route]]:
    """(adapter ids to answer with, the routes chosen) for a question."""
    routes = (router or Router.of(store)).pick(question)
    return [r.adapter_id for r in routes], routes


def accuracy(router: Router, labelled: list[tuple[str, str]]) -> dict:
    """How often routing finds the scene a question is known to be about: `top1` (the best route is that scene)
    and `picked` (that scene's adapter is among those answering), beside `fixed` — one adapter for every question,
    the most frequent scene's (the best a router that ignores the question can do)."""
    if not labelled:
        return {"questions": 0, "top1": None, "picked": None, "fixed": None, "misses": []}
    top1 = picked = 0
    misses = []
    for question, scene in labelled:
        routes = router.pick(question)
        top1 += routes[0].scene == scene
        picked += any(r.scene == scene for r in routes)
        if routes[0].scene != scene:
            misses.append({"question": question[:160], "scene": scene, "routed": routes[0].scene,
                           "score": round(routes[0].score, 3)})
    counts: dict[str, int] = {}
    for _, scene in labelled:
        counts[scene] = counts.get(scene, 0) + 1
    n = len(labelled)
    return {"questions": n, "top1": top1 / n, "picked": picked / n, "fixed": max(counts.values()) / n,
            "misses": misses}
