"""The dataset stage."""
