"""The recipe's `ingest:` section."""

from __future__ import annotations

from pydantic import Field

from ..strict import Strict


class IngestConfig(Strict):
    inputs: list[str] = Field(default_factory=list, description="files, folders or zips to ingest")
    max_zip_ratio: float = Field(100.0, gt=1, description="refuse zips expanding more than this many times")
    max_zip_bytes: int = Field(64 * 1024**3, gt=0, description="refuse zips expanding past this many bytes")
