"""The memory stage."""
