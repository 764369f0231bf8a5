"""`twinforge` entry point: the command group with every command attached."""

from __future__ import annotations

from . import (  # noqa: F401  (each module attaches its commands to `cli` when imported)
    adapter_ops,
    adapters,
    clean,
    dataset,
    distill,
    estimate,
    evaluate,
    expand,
    hyper,
    ingest,
    inspect,
    memory,
    persona,
    pipeline,
    scenes,
    serve,
    train,
)
from .group import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="twinforge")
