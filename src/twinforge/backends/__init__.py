"""Model backends behind one interface, chosen by name: extractive, llamacpp, openai."""

from .base import Backend, BackendError, Completion, get_backend

__all__ = ["Backend", "BackendError", "Completion", "get_backend"]
