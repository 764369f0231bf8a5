"""CLI: filled in by its stage (see twinforge/cli/main.py for the group and the error boundary)."""

from __future__ import annotations
