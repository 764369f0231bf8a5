"""The recipe's `serve:` section: where `twinforge serve` listens and what the twin answers with."""

from __future__ import annotations

from pydantic import Field

from ..backends.config import BackendConfig
from ..strict import Strict


class ServeConfig(Strict):
    """`twinforge serve`: an OpenAI-compatible API and a web UI over the workspace (flags override these)."""

    host: str = Field("127.0.0.1", description="address to bind; anything but loopback needs a token")
    port: int = Field(8765, ge=0, le=65535, description="TCP port (0: any free port)")
    token_env: str = Field("TWINFORGE_TOKEN", description="environment variable holding the access token; with a "
                           "token every request needs `Authorization: Bearer TOKEN` (or the cookie `/?token=` sets)")
    backend: BackendConfig = Field(
        default_factory=lambda: BackendConfig(name="llamacpp", max_tokens=512, temperature=0.3),
        description="who answers as the twin (default: the embedded GGUF through llama.cpp)")
    base: str | None = Field(None, description="base model for adapters (None: the embedded trainable base); "
                             "models `twin+<adapter-id>` run it with that adapter through transformers")
    adapters: list[str] = Field(default_factory=list, description="adapter ids the model `twin` runs on top of "
                                "the base (several: stacked); empty: `twin` uses `backend`")
    k: int = Field(6, ge=1, le=50, description="sources retrieved from memory per answer")
    no_llm: bool = Field(False, description="answer with the retrieved evidence only, no model")
    max_tokens: int = Field(512, ge=1, description="default answer length when a request gives none")
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="largest request body accepted (bytes); "
                                "a larger one, declared or chunked, is refused with 413")
    persona_backend: BackendConfig | None = Field(
        None, description="model that writes the persona card's summary (None: composed from the counts)")
