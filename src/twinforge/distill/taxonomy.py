"""The meta-move taxonomy (taxonomy.yaml): names, definitions, examples, and mapping a free answer onto it.

A model may name a move in its own words ("Инверсия", "scaling estimate", "pattern matching"). `map_meta_move`
returns the taxonomy entry the words name, or None with the reason, so a caller rejects it rather than keeping a
name nobody else understands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import yaml


@dataclass(frozen=True)
class Move:
    name: str
    definition: str
    synonyms: tuple[str, ...]
    ru: str
    en: str


@cache
def moves() -> dict[str, Move]:
    data = yaml.safe_load(files(__package__).joinpath("taxonomy.yaml").read_text(encoding="utf-8"))
    return {name: Move(name, m["definition"], tuple(m.get("synonyms") or ()), m["ru"], m["en"])
            for name, m in data["moves"].items()}


def names() -> tuple[str, ...]:
    return tuple(moves())


def map_meta_move(value: str) -> tuple[str | None, str]:
    """(taxonomy name, how it was matched) or (None, why not): exact name, then the first synonym found."""
    v = (value or "").casefold().strip(" .!\"'«»`")
    slug = re.sub(r"[\s_]+", "-", v)
    if slug in moves():
        return slug, "name"
    for move in moves().values():
        for syn in move.synonyms:
            if syn.casefold() in v:
                return move.name, f"synonym '{syn}'"
    return None, f"'{value}' is not a meta-move of the taxonomy ({', '.join(names())})"


def prompt_list() -> str:
    """The moves as the distill prompts list them: one `name: definition` line each."""
    return "\n".join(f"  {m.name}: {m.definition}" for m in moves().values())


def markdown() -> str:
    """docs/meta-moves.md: every move with its definition and both examples (tests/test_docs.py keeps it current)."""
    out = ["# Meta-moves", "",
           "The one list of thinking moves a module's `meta_move` names. Prompts, the offline classifier, the module "
           "score, eval and the web UI all use it. A model's answer outside it is mapped to the entry its words name "
           "(by the synonyms in `src/twinforge/distill/taxonomy.yaml`), or rejected with its reason: the move is then "
           "chosen by rules, the model's own word is kept in the module's `meta_move_raw`, and `twinforge distill` "
           "counts it. Nothing is kept silently.", "",
           "Generated from `src/twinforge/distill/taxonomy.yaml` by "
           "`python -m twinforge.distill.taxonomy > docs/meta-moves.md`; `tests/test_docs.py` fails when it is out "
           "of date.", ""]
    for m in moves().values():
        out += [f"## {m.name}", "", m.definition[0].upper() + m.definition[1:] + ".", "",
                f"- ru: «{m.ru}»", f"- en: “{m.en}”", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(markdown(), end="")
