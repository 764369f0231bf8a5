"""SQLite workspace store and its migrations."""

from .db import Store, resolve_workspace
from .workspace import DB_NAME, Workspace

__all__ = ["DB_NAME", "Store", "Workspace", "resolve_workspace"]
