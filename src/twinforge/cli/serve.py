"""`twinforge serve`: the twin as an OpenAI-compatible server, and the web UI to look inside it."""

from __future__ import annotations

import click

from ..backends.base import BACKENDS
from ..config import load_recipe
from .group import Ctx, cli
from .options import config_option


@cli.command()
@config_option(help="Recipe whose `serve:` and `memory:` sections to use (YAML file or bundled recipe name).")
@click.option("--host", help="Address to bind (default 127.0.0.1; any other needs a token).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port (default 8765).")
@click.option("--token", help="Require this token on every request (default: $TWINFORGE_TOKEN, if set).")
@click.option("--backend", type=click.Choice(list(BACKENDS)), help="Backend the twin answers with instead of "
              "the recipe's (default: llamacpp, the embedded model).")
@click.option("--model", help="Model for the backend (a name for openai, a GGUF path for llamacpp, a folder for "
              "transformers).")
@click.option("--adapter", "adapters", multiple=True, help="Let the model `twin` run the base + this adapter "
              "(repeat to stack); every adapter is also offered as `twin+ID`.")
@click.option("--no-llm", is_flag=True, help="Answer with the retrieved evidence only; no model is loaded.")
@click.pass_obj
def serve(obj: Ctx, config: str, host: str | None, port: int | None, token: str | None, backend: str | None,
          model: str | None, adapters: tuple[str, ...], no_llm: bool) -> None:
    """Serve the twin: an OpenAI-compatible API at /v1 (models `twin`, `twin+ADAPTER`; streaming; answers cite
    your conversations) and a web UI to browse conversations, modules, paper digests, the concept graph, the
    funnel and eval reports, and to chat with the twin.

    Binds 127.0.0.1 unless told otherwise; binding anywhere else requires a token, which clients send as
    `Authorization: Bearer TOKEN` (browsers: open /?token=TOKEN once).
    """
    from ..serve.app import bind, create_app, resolve_token, run

    recipe = load_recipe(config)
    cfg = recipe.serve
    update = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if backend or model:
        update["backend"] = cfg.backend.overridden(backend, model)
    if adapters:
        update["adapters"] = list(adapters)
    if no_llm:
        update["no_llm"] = True
    cfg = cfg.model_copy(update=update)
    secret = resolve_token(cfg, token)
    app = create_app(obj.workspace, cfg, token=secret, memory=recipe.memory)
    sock = bind(cfg)  # a busy port fails here, before the banner
    port = sock.getsockname()[1]
    shown = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
    url = f"http://{'127.0.0.1' if cfg.host in ('0.0.0.0', '::') else shown}:{port}"
    answers = "evidence only (--no-llm)" if cfg.no_llm else (
        f"base + {', '.join(cfg.adapters)}" if cfg.adapters else cfg.backend.name)
    click.echo(f"twinforge serve: {url}/  (OpenAI API at {url}/v1, model `twin`: {answers})", err=True)
    if secret:
        click.echo(f"token required; browsers: open {url}/?token=… once", err=True)
    run(app, cfg, sock)
