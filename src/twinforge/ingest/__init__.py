"""Ingest: read every kind of chat archive into the workspace store."""
