"""twinforge: forge a thinking twin from an AI-chat archive."""

__version__ = "0.1.0"
