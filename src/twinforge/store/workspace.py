"""The workspace folder and its layout: the one place that knows where each stage keeps its files.

    <workspace>/
      twin.db                 the SQLite store (store/db.py)
      modules/<id>.md|.yaml   distilled thinking modules
      datasets/<name>/        train.jsonl, val.jsonl, exports, stats
      adapters/<id>/          trained adapters, each with twinforge.json (written last: present = finished)
      adapters/stacks.json    named stacks
      adapters/.gguf-lora/    GGUF LoRA exports cached for llama.cpp
      reports/                funnel.html, eval-<run>/, hyper report
      hyper/                  concept vocabulary, idf, hypertrain.jsonl, bridge record
      estimate/               this machine's calibration
      persona.md              the persona card
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

ENV = "TWINFORGE_WORKSPACE"
DEFAULT = "twin"
DB_NAME = "twin.db"
ADAPTER_META = "twinforge.json"
_DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None) -> Workspace:
        """--workspace, else $TWINFORGE_WORKSPACE, else ./twin."""
        return cls(Path(path or os.environ.get(ENV) or DEFAULT))

    @property
    def db(self) -> Path:
        return self.root / DB_NAME

    @property
    def modules(self) -> Path:
        return self.root / "modules"

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    def dataset(self, name: str = "default") -> Path:
        if not _DATASET_NAME.match(name):
            raise ConfigError(f"dataset name {name!r} is not usable as a folder name",
                              "use letters, digits, '.', '_' or '-' (at most 64)")
        return self.datasets / name

    @property
    def adapters(self) -> Path:
        return self.root / "adapters"

    def adapter(self, adapter_id: str) -> Path:
        return self.adapters / adapter_id

    @property
    def stacks_file(self) -> Path:
        return self.adapters / "stacks.json"

    @property
    def gguf_lora_cache(self) -> Path:
        return self.adapters / ".gguf-lora"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    @property
    def hyper(self) -> Path:
        return self.root / "hyper"

    @property
    def estimate(self) -> Path:
        return self.root / "estimate"

    @property
    def persona_card(self) -> Path:
        return self.root / "persona.md"
