"""Fixtures of the adapter stack/merge/export tests (a pytest plugin loaded by conftest.py)."""

from __future__ import annotations
