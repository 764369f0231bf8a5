"""The hyper stage."""
