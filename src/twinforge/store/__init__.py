"""SQLite workspace store and its migrations."""

from .db import DB_NAME, Store, resolve_workspace

__all__ = ["DB_NAME", "Store", "resolve_workspace"]
