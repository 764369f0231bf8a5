"""The base of every config section: unknown keys are errors, so a typo in a recipe is caught at load."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
