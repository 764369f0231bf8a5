"""Timestamps as they appear in exports (epoch floats, ISO strings) → epoch seconds (UTC)."""

from __future__ import annotations

from datetime import datetime, timezone


def to_epoch(value) -> float | None:
    """Epoch seconds from a number or an ISO-8601 string; None for missing, zero or unparseable values."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        v = float(value)
        if v > 1e11:  # milliseconds
            v /= 1000.0
        return v if v > 0 else None
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return None
        try:
            return to_epoch(float(s))
        except ValueError:
            pass
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    return None
