"""Fit the meta-move classifier's cue weight (distill/moves.py CUE_WEIGHT) on the labelled set's TUNING part.

    PYTHONPATH=src .venv/bin/python bench/fit_moves.py [tests/data/modules]

For each candidate weight: accuracy on the tuning dialogs and the mean margin (the gold move's score minus the
best other move's), the person's turns only. The weight with the best accuracy, then the best margin, is printed;
copy it into moves.py by hand. Held-out dialogs are skipped unread, so the figures reported on them stay honest.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from twinforge.distill.moves import score_moves

WEIGHTS = (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3)  # a cue worth at most ~a third of a cosine


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/modules") / "dialogs"
    dialogs = []
    for path in sorted(folder.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if data.get("split") != "tuning":
            continue
        text = "\n\n".join(m["text"] for m in data["messages"] if m["role"] == "user")
        dialogs.append((data["id"], text, data["labels"]["meta_move"]))
    best = None
    for w in WEIGHTS:
        right, margins = 0, []
        for _, text, gold in dialogs:
            scores = score_moves(text, w)
            right += scores[0].name == gold
            mine = next(s.score for s in scores if s.name == gold)
            margins.append(mine - max(s.score for s in scores if s.name != gold))
        margin = sum(margins) / len(margins)
        print(f"cue weight {w:.2f}: accuracy {right}/{len(dialogs)}, mean margin {margin:+.3f}")
        if best is None or (right, margin) > best[:2]:
            best = (right, margin, w)
    print(f"best: {best[2]} (tuning dialogs: {len(dialogs)})")


if __name__ == "__main__":
    main()
