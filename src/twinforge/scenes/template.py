"""`twinforge scenes new`: a commented scene file to fill in (the module format, every field explained)."""

from __future__ import annotations

from pathlib import Path

from ..distill.schema import META_MOVES
from ..errors import InputError

TEMPLATE = """\
# A hand-written scene: one thinking module in twinforge's module format (the same fields as a distilled
# modules/<id>.yaml). Train an adapter on it alone with `twinforge train --scene {name}`.
# Lines starting with # are comments. Unknown fields are errors, so a typo is caught.

# A short name for the scene.
title: Small data beats big data for a twin

# The core claim in one sentence, in your own words.
phrase: A twin trained on a few pages of my own reasoning learns more of how I think than one trained on everything I ever wrote.

# What the claim is made of: the words an answer about this scene should use.
concepts:
  - own reasoning
  - small data
  - thinking twin

# The thinking move that produced the claim; one of:
#   {moves}
meta_move: inversion

# Tensions the thinking moves along, each 'A ↔ B'.
axes:
  - volume ↔ signal
  - copying words ↔ copying moves

# The claim turned around: what would be true if it were wrong.
inversions:
  - If more text always helped, the twin of a prolific writer would think better than the writer.

# Guesses worth testing.
hypotheses:
  - Ten scenes written by hand teach the twin more than a thousand scraped chats.

# Moves between states, each 'if … then …'.
transition_rules:
  - If an answer could have come from anyone, then go back to the scene that makes it mine.

# What is still open.
open_questions:
  - How few scenes are enough?

# Optional. Filled in when left out: id (from the file name), language (from the text),
# conversation_id (scene-<id>), kind (scene). quotes: verbatim lines with their message ids, e.g.
# quotes:
#   - text: "a line you said"
#     message_id: "m-1"
"""


def write_template(path: str | Path, force: bool = False) -> Path:
    """Write the template to `path` (refusing to overwrite a file unless `force`)."""
    path = Path(path)
    if path.exists() and not force:
        raise InputError(str(path), "already exists", "pick another file name, or pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(template_text(path.name), encoding="utf-8")
    return path


def template_text(name: str = "my-scene.yaml") -> str:
    return TEMPLATE.format(name=name, moves=", ".join(META_MOVES))
