"""Scenes: one thinking module as a YAML file a person writes or edits, trained into an adapter of its own, then
measured (eval/scenes.py) and routed to (serve/routing.py)."""
