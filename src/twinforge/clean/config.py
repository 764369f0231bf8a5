"""The recipe's `clean:` section."""

from __future__ import annotations

from pydantic import Field

from ..backends.config import BackendConfig
from ..strict import Strict


class JudgeConfig(Strict):
    """An optional LLM second opinion on conversations whose chatter score is close to the threshold."""

    enabled: bool = False
    band: tuple[float, float] = Field((0.5, 0.95), description="chatter scores inside this band go to the judge")
    backend: BackendConfig = Field(default_factory=lambda: BackendConfig(name="openai"))


class CleanConfig(Strict):
    chatter: bool = Field(True, description="drop everyday-chatter conversations")
    chatter_threshold: float | None = Field(
        None, ge=0, le=1, description="chatter score at or above which a conversation is chatter (default: calibrated)"
    )
    boilerplate: bool = Field(True, description="strip assistant flattery, closing offers and decoration")
    redact: bool = Field(True, description="replace secrets and personal data with typed placeholders")
    redact_kinds: list[str] | None = Field(None, description="only these kinds (default: all)")
    dedupe: bool = Field(True, description="drop exact and near-duplicate messages")
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1, description="estimated Jaccard for near-duplicates")
    near_duplicate_min_words: int = Field(8, ge=1, description="shorter messages are not judged as near-duplicates")
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
