"""Typed errors. The library raises these; only the CLI turns them into one line and an exit code.

Every message says what is wrong, what was found, and what to do next.
"""

from __future__ import annotations


class TwinforgeError(Exception):
    """Base class: a problem the user can act on (not a bug)."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class WorkspaceError(TwinforgeError):
    """The workspace folder or its twin.db cannot be used."""


class ConfigError(TwinforgeError):
    """A recipe or option is invalid."""


class InputError(TwinforgeError):
    """One input file cannot be ingested. Names the file and what was found there."""

    def __init__(self, path: str, found: str, hint: str | None = None):
        super().__init__(f"{path}: {found}", hint)
        self.path = path
        self.found = found

    @property
    def reason(self) -> str:
        """The message without the path, for reports that print the path themselves."""
        return f"{self.found} — {self.hint}" if self.hint else self.found
