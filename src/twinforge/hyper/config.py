"""The recipe's `hyper:` section."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..backends.config import BackendConfig
from ..strict import Strict


class HyperConfig(Strict):
    """Hyperphrases: text ↔ dense chains of lemmatized concepts, their corpus, the bridge adapter, the report."""

    # --- encode ---
    join: Literal["concat", "sep"] = Field("sep", description="concat: concepts written together as in "
                                           "'ночьгрудьтьма'; sep: joined by `separator`")
    separator: str = Field("·", min_length=1, description="between concepts when join is sep")
    scene: Literal["sentence", "paragraph"] = Field("sentence", description="the unit that becomes one line "
                                                    "of the hyperphrase")
    max_concepts: int = Field(6, ge=1, description="at most this many concepts per scene (the most salient, "
                              "kept in order of first occurrence)")
    pos: list[str] = Field(default_factory=lambda: ["NOUN", "VERB", "ADJ", "ADV"],
                           description="parts of speech that can be concepts: NOUN, VERB, ADJ, ADV, NUM "
                           "(Latin-script words inside Russian text count as NOUN)")
    salience: Literal["tfidf", "pos"] = Field("tfidf", description="tfidf: rank by corpus inverse document "
                                              "frequency × part-of-speech weight (falls back to pos before "
                                              "`hyper vocab` ran); pos: by part of speech only")
    # --- vocabulary ---
    min_count: int = Field(1, ge=1, description="a concept lemma enters the concept tokenizer when seen this "
                           "often in the corpus")
    # --- dataset ---
    min_scene_chars: int = Field(20, ge=1, description="shorter scenes are not used for pairs")
    max_scene_chars: int = Field(600, ge=20, description="longer scenes are cut at a sentence boundary")
    max_pairs: int = Field(4000, ge=1, description="at most this many scenes (each gives two pairs)")
    modules: bool = Field(True, description="also use distilled modules' phrase, hypotheses, inversions, rules")
    val_fraction: float = Field(0.2, ge=0, lt=1, description="share of conversations held out (by hash of "
                                "the conversation id, as the dataset stage splits)")
    seed: int = Field(0, description="picks which scenes are kept past max_pairs")
    # --- decode / bridge / report ---
    backend: BackendConfig = Field(default_factory=lambda: BackendConfig(name="llamacpp", max_tokens=160,
                                                                         temperature=0.0),
                                   description="the plain backend that expands a hyperphrase into text")
    decode_max_tokens: int = Field(160, ge=1, description="longest decoded text, in tokens (also capped at 24 + "
                                   "14 per concept, so a short chain gets a short answer)")
    bridge_base: str | None = Field(None, description="base model of the bridge adapter (None = the embedded "
                                    "Gemma 3 270M)")
    bridge_steps: int = Field(200, ge=1, description="training steps of the bridge adapter")
    bridge_max_len: int = Field(256, ge=32, description="tokens per training example")
    bridge: bool = Field(False, description="recipe stage: train the bridge adapter too (slow on CPU)")
    report_limit: int = Field(40, ge=1, description="held-out scenes the report decodes")
    fidelity_threshold: float = Field(0.7, gt=0, le=1, description="embedding cosine of decode(encode(x)) to x "
                                      "at and above which meaning counts as preserved")
