"""The thinking module: one substantive dialog (or paper) in three layers plus its details. Versioned.

Layer 1 `phrase`: the core claim in one sentence, in the person's words.
Layer 2 `concepts`: what the claim is made of.
Layer 3 `meta_move`: the thinking move that produced it (inversion, decomposition, scaling estimate, analogy,
critique of own premise, …).
Then the details the seeds ask for: axes, inversions, hypotheses, transition rules, open questions, and verbatim
quotes of the person with their message ids, so every module traces back to its conversation.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from . import taxonomy

SCHEMA_VERSION = 1

META_MOVES = taxonomy.names()  # the taxonomy's moves (taxonomy.yaml, docs/meta-moves.md)


class Quote(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="verbatim user line")
    message_id: str


class PaperDigest(BaseModel):
    """For papers: what they mean for the twin's design."""

    model_config = ConfigDict(extra="forbid")
    problem: str
    method: str
    results: list[str] = Field(default_factory=list, description="with their numbers")
    limitations: list[str] = Field(default_factory=list)
    application: str = Field(description="what it changes in the twin's data, training or architecture")


class Module(BaseModel):
    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION
    id: str
    kind: str = Field("dialog", description="dialog | paper")
    conversation_id: str
    message_ids: list[str] = Field(default_factory=list)
    title: str
    language: str
    phrase: str = Field(description="the core claim in one sentence, in the person's words")
    concepts: list[str] = Field(default_factory=list)
    meta_move: str = Field(description="one of META_MOVES (the meta-move taxonomy)")
    meta_move_raw: str = Field("", description="the backend's own word for the move where it was not a taxonomy "
                               "name: mapped by synonym, or, when it named none, replaced by the rules' choice; "
                               "kept so no answer is dropped silently")
    axes: list[str] = Field(default_factory=list, description="tensions the thinking moves along: 'A ↔ B'")
    inversions: list[str] = Field(default_factory=list)
    hypotheses: list[str] = Field(default_factory=list)
    transition_rules: list[str] = Field(default_factory=list, description="'if … then …' moves between states")
    open_questions: list[str] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    paper: PaperDigest | None = None
    backend: str = ""  # which backend/model wrote it
    prompt_version: str = ""


# What a backend is asked to fill: the module without the fields the pipeline knows already.
MODEL_FIELDS = ("title", "phrase", "concepts", "meta_move", "axes", "inversions", "hypotheses", "transition_rules",
                "open_questions", "quotes")


def output_schema(paper: bool = False) -> dict:
    """The JSON schema a backend's answer must follow (constrained decoding where the backend supports it)."""
    props: dict = {
        "title": {"type": "string"},
        "phrase": {"type": "string"},
        "concepts": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        "meta_move": {"type": "string"},
        "axes": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "inversions": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "hypotheses": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "transition_rules": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "open_questions": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        "quotes": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    }
    required = ["title", "phrase", "concepts", "meta_move"]
    if paper:
        props["paper"] = {
            "type": "object",
            "properties": {
                "problem": {"type": "string"}, "method": {"type": "string"},
                "results": {"type": "array", "items": {"type": "string"}},
                "limitations": {"type": "array", "items": {"type": "string"}},
                "application": {"type": "string"},
            },
            "required": ["problem", "method", "application"],
        }
        required.append("paper")
    return {"type": "object", "properties": props, "required": required}
