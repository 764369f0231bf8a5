"""The one config every backend shares (kept apart from the stages' sections so any of them can use it)."""

from __future__ import annotations

from pydantic import Field

from ..strict import Strict


class BackendConfig(Strict):
    """Which model answers, and how it is called. Shared by every backend (and every stage that uses one)."""

    name: str = Field("extractive", description="extractive | llamacpp | openai | transformers")
    model: str | None = Field(None, description="model name (openai), GGUF path (llamacpp), Hugging Face folder "
                              "(transformers); local ones default to the embedded model")
    base_urls: list[str] = Field(default_factory=list, description="OpenAI-compatible servers; work is spread "
                                 "over all of them")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key (if any)")
    concurrency: int = Field(2, ge=1, description="requests in flight at once (per backend)")
    per_url_concurrency: int | None = Field(None, ge=1, description="openai: requests in flight on each of the "
                                            "base_urls (set it to a server's parallel slots); a batch then runs "
                                            "this many × servers at once, each request to the least-loaded server "
                                            "(default: `concurrency` in all)")
    timeout: float = Field(120.0, gt=0, description="seconds per request")
    retries: int = Field(3, ge=0, description="retries after a failed request, with exponential backoff")
    max_tokens: int = Field(1024, ge=1)
    temperature: float = Field(0.2, ge=0)
    context: int = Field(4096, ge=256, description="context window (llamacpp, transformers)")
    seed: int = Field(0, description="sampling seed, for reproducible runs")

    def overridden(self, name: str | None = None, model: str | None = None) -> BackendConfig:
        """This config with a backend and/or model given on the command line. Another backend drops the recipe's
        model (a GGUF path means nothing to an OpenAI server); other settings are kept."""
        cfg = self
        if name and name != cfg.name:
            cfg = cfg.model_copy(update={"name": name, "model": None})
        if model:
            cfg = cfg.model_copy(update={"model": model})
        return cfg
