"""Plain-text output of attalos-tag and attalos-search: what a person reads (JSON is elsewhere)."""

from __future__ import annotations

import os
from typing import Any

from .common import show_path


def short_path(path: str) -> str:
    """``path`` relative to the current folder when that is shorter, else as it is; printable anywhere."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        rel = path
    return show_path(rel if len(rel) < len(path) else path)


def percent(score: float) -> str:
    """A tag score (0..1) as the detail panel shows it: a whole percentage."""
    return f"{max(0.0, min(1.0, float(score))) * 100:3.0f}%"


def relevance(score: float) -> str:
    """A search score as the grid's badge shows it (two decimals; no "-0.00")."""
    text = f"{float(score):5.2f}"
    return text.replace("-0.00", " 0.00")


def photos(n: int) -> str:
    return f"{n} photo" + ("" if n == 1 else "s")


def library_size(lib: Any) -> int:
    return sum(r.photo_count for r in lib.roots())
