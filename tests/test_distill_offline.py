"""The offline distiller (`--backend extractive`) on the held-out part of the labelled module set: floors a little
below what it measures (bench/distill_paths.py --split heldout), so a regression fails here."""

from __future__ import annotations

from pathlib import Path

import yaml

from twinforge.distill.assemble import build_module, merge
from twinforge.distill.render import Dialog, Turn, chunk_dialog
from twinforge.distill.rules import ExtractiveStrategy
from twinforge.text.lemmas import analyze

GOLD = Path(__file__).parent / "data" / "modules" / "dialogs"
# measured (21 held-out dialogs, extractive.v3): concept recall 0.62, meta-move accuracy 0.62, axis recall 0.45
FLOORS = {"concept_recall": 0.6, "meta_move_accuracy": 0.58, "axis_recall": 0.42}


def _key(text: str, lang: str) -> frozenset[str]:
    toks = analyze(text, lang)
    return frozenset(t.lemma for t in toks if t.pos != "FUNC") or frozenset(t.lemma for t in toks)


def _match(a: frozenset, b: frozenset) -> bool:
    return a <= b or b <= a


def _module(data: dict):
    turns = [Turn(m["id"], m["role"], m["text"]) for m in data["messages"]]
    dialog = Dialog(data["id"], data["title"], data["language"], turns)
    strategy = ExtractiveStrategy()
    drafts = [(strategy.draft("{}", dialog, c), c.user_chars) for c in chunk_dialog(dialog, 4000, 400) if c.user_chars]
    return dialog, build_module(dialog, merge(drafts), "extractive", strategy.version)[0]


def test_extractive_meets_floors_on_heldout():
    found = gold = moves = axes_found = axes_gold = concepts = function = n = 0
    for path in sorted(GOLD.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data["split"] != "heldout":
            continue
        dialog, m = _module(data)
        lang, labels = data["language"], data["labels"]
        n += 1
        pred = [_key(c, lang) for c in m.concepts]
        concepts += len(pred)
        function += sum(all(t.pos == "FUNC" for t in analyze(c, lang)) for c in m.concepts)
        for c in labels["concepts"]:
            gold += 1
            found += any(_match(_key(c, lang), p) for p in pred)
        moves += m.meta_move == labels["meta_move"]
        poles = [tuple(_key(x, lang) for x in a.split(" ↔ ", 1)) for a in m.axes if " ↔ " in a]
        for a, b in labels["axes"]:
            axes_gold += 1
            ka, kb = _key(a, lang), _key(b, lang)
            axes_found += any((_match(ka, p) and _match(kb, q)) or (_match(ka, q) and _match(kb, p)) for p, q in poles)
        person = [" ".join(t.text.split()) for t in dialog.user_turns]
        for said in [m.phrase, *(q.text for q in m.quotes), *m.inversions, *m.hypotheses, *m.transition_rules]:
            assert any(" ".join(said.split()) in p for p in person), f"{data['id']}: not the person's words: {said!r}"
    assert n >= 10
    figures = {"concept_recall": found / gold, "meta_move_accuracy": moves / n, "axis_recall": axes_found / axes_gold}
    for name, floor in FLOORS.items():
        assert figures[name] >= floor, f"{name} {figures[name]:.3f} below {floor} ({figures})"
    assert function / concepts <= 0.02
