"""The recipe's `train:` section."""

from __future__ import annotations

from pydantic import Field  # noqa: F401

from ..backends.config import BackendConfig  # noqa: F401
from ..strict import Strict


class TrainConfig(Strict):
    """Filled in by the train stage."""
