"""Records that cross stage boundaries. Parsers produce them; the store persists them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What a message is, beyond its role. Only `dialog` messages make up the conversation text.
KINDS = ("dialog", "hidden", "system", "tool", "reasoning", "custom-instructions", "memory")
ROLES = ("user", "assistant", "system", "tool")

# A4 page as the person counts it: 1,800 characters with spaces.
PAGE_CHARS = 1800


@dataclass(slots=True)
class Message:
    uid: str  # id in the source: ChatGPT node id, Claude uuid, Nexus UID comment, ...
    role: str  # one of ROLES
    text: str
    kind: str = "dialog"  # one of KINDS
    created_at: float | None = None  # epoch seconds, UTC
    model: str | None = None
    content_type: str | None = None
    parent_uid: str | None = None
    canonical: bool = True  # on the displayed branch (current_node → root)
    repaired: bool = False  # mojibake was repaired in this text
    meta: dict[str, Any] = field(default_factory=dict)  # attachments, tool name, citations, ...


@dataclass(slots=True)
class Conversation:
    uid: str | None  # provider's conversation id; None when the source has none
    provider: str  # chatgpt / claude / deepseek / grok / document ...
    title: str
    messages: list[Message] = field(default_factory=list)
    created_at: float | None = None
    updated_at: float | None = None
    # Lossy sources (Nexus markdown) yield to a lossless copy of the same conversation (the JSON export).
    lossy: bool = False
    warnings: list[str] = field(default_factory=list)  # what could not be recovered, in words
    meta: dict[str, Any] = field(default_factory=dict)

    def fill_times(self, times) -> None:
        """Where the source gives no conversation times, take them from its messages' times."""
        known = [t for t in times if t is not None]
        if self.created_at is None and known:
            self.created_at = min(known)
        if self.updated_at is None and known:
            self.updated_at = max(known)

    @property
    def repaired(self) -> int:
        return sum(1 for m in self.messages if m.repaired)
