"""Distill: each substantive dialog or paper becomes a thinking module (phrase → concept → meta-move)."""
