"""How the CLI writes a length of time: rough for an estimate, to the second for what was measured."""

from __future__ import annotations


def rough(seconds: float) -> str:
    """An estimate: 40 s, 12 min, 3.5 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def measured(seconds: float) -> str:
    """A stage's wall time: 12.3 s, 1 min 56 s."""
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
