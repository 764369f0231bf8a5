"""The wording of each view, one YAML file per language (templates/en.yaml, templates/ru.yaml)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

TEMPLATES_DIR = Path(__file__).parent / "templates"
FALLBACK = "en"  # modules in a language without a file get English wording around their own text


def pick(seed: int, *parts: object) -> int:
    """A stable pseudo-random number from the seed and the example's coordinates (same on every machine)."""
    key = "\0".join(map(str, (seed, *parts)))
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)


@dataclass(frozen=True)
class Templates:
    language: str
    data: dict
    digest: str  # of the file: part of every module's signature, so editing wording re-expands

    def ask(self, view: str, key: str, choice: int, **fields: str) -> str:
        variants = self.data[view][key]
        return variants[choice % len(variants)].format(**fields)

    def line(self, view: str, key: str, **fields: str) -> str:
        return self.data[view][key].format(**fields)

    def move(self, meta_move: str) -> str:
        """A meta-move as words of this language ("critique-of-premise" → "критика собственной посылки")."""
        return self.data.get("meta_moves", {}).get(meta_move.strip(), meta_move.strip())

    def patterns(self, view: str) -> list[re.Pattern]:
        return [re.compile(p, re.IGNORECASE | re.DOTALL) for p in self.data[view].get("patterns", [])]


def language_code(language: str | None) -> str:
    """'ru', 'ru-RU', 'russian' → 'ru'."""
    return (language or "").strip().lower()[:2]


@cache
def load(language: str | None) -> Templates:
    code = language_code(language)
    path = TEMPLATES_DIR / f"{code}.yaml"
    if not code or not path.exists():
        code, path = FALLBACK, TEMPLATES_DIR / f"{FALLBACK}.yaml"
    raw = path.read_bytes()
    return Templates(code, yaml.safe_load(raw), hashlib.sha1(raw).hexdigest()[:12])


def available() -> list[str]:
    return sorted(p.stem for p in TEMPLATES_DIR.glob("*.yaml"))
