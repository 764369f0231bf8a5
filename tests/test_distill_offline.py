"""The offline distiller (`--backend extractive`) on the held-out part of the labelled module set: floors a little
below what it measures (bench/distill_paths.py --split heldout), so a regression fails here. Scored by the
product's scorer (distill/quality.py), the one `twinforge modules score --gold` uses."""

from __future__ import annotations

from pathlib import Path

from twinforge.distill import quality
from twinforge.distill.assemble import build_module, merge
from twinforge.distill.gold import load_gold
from twinforge.distill.render import chunk_dialog
from twinforge.distill.rules import ExtractiveStrategy

GOLD = Path(__file__).parent / "data" / "modules"
# measured (21 held-out dialogs, extractive.v4): concept recall 0.746 (precision 0.49), meta-move accuracy 0.62,
# axis recall 0.45 (9 of 20)
FLOORS = {"concept_recall": 0.72, "meta_move_accuracy": 0.58, "axis_recall": 0.42}


def _module(dialog):
    strategy = ExtractiveStrategy()
    drafts = [(strategy.draft("{}", dialog, c), c.user_chars) for c in chunk_dialog(dialog, 4000, 400) if c.user_chars]
    return build_module(dialog, merge(drafts), "extractive", strategy.version)[0]


def test_extractive_meets_floors_on_heldout():
    total = quality.GoldCounts(dialogs=0)
    concepts = function = 0
    for g in load_gold(GOLD):
        if g.split != "heldout":
            continue
        m = _module(g.dialog)
        total.add(quality.score_gold(m, g.labels, g.language))
        turns = [(t.id, t.role, t.text) for t in g.dialog.turns]
        check = quality.check_module(m, *quality.sides(turns, g.language))
        concepts += len(m.concepts)
        function += len(check.function_concepts)
        assert check.phrase in ("verbatim", "lemmas"), f"{g.id}: the phrase is not the person's: {m.phrase!r}"
        assert all(q == "ok" for q in check.quotes), f"{g.id}: a quote is not the person's: {check.quotes}"
        person = [" ".join(t.text.split()) for t in g.dialog.user_turns]
        for said in [m.phrase, *m.inversions, *m.hypotheses, *m.transition_rules]:
            assert any(" ".join(said.split()) in p for p in person), f"{g.id}: not the person's words: {said!r}"
    figures = total.figures()
    assert figures["dialogs"] >= 10
    for name, floor in FLOORS.items():
        assert figures[name] >= floor, f"{name} {figures[name]:.3f} below {floor} ({figures})"
    assert function / concepts <= 0.02
