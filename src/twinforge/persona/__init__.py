"""The persona card: the twin's recurring themes, kinds of questions and thinking moves, with quotes (persona.md)."""
