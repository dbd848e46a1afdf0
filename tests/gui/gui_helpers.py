"""Helpers shared by the GUI tests: generated photos, waiting for index runs, indexing without the GUI."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Iterable, Sequence

from attalos_desktop.synthetic import BACKGROUNDS, COLOURS, SHAPES, render_photo

PHOTO_SIZE = (240, 180)


def write_photos(
    folder: Path, n: int, seed: int = 0, specs: Sequence[dict[str, Any] | None] = (), exclude: Iterable[str] = ()
) -> list[Path]:
    """Write ``n`` synthetic JPEGs; the first ones follow ``specs``; the rest avoid the ``exclude`` words."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    banned = set(exclude)
    backgrounds = [b for b in BACKGROUNDS if b not in banned]
    colours = [c for c in COLOURS if c not in banned]
    shapes = [s for s in SHAPES if s not in banned]
    out = []
    for i in range(n):
        spec = specs[i] if i < len(specs) else None
        if spec is None and banned:
            spec = {
                "background": rng.choice(backgrounds),
                "objects": [(rng.choice(colours), rng.choice(shapes)) for _ in range(rng.randint(1, 2))],
            }
        img, tags = render_photo(rng, size=PHOTO_SIZE, spec=spec)
        p = folder / f"img_{i:04d}_{'-'.join(tags)}.jpg"
        img.save(p, quality=88)
        out.append(p)
    return out


def wait_indexed(qtbot, w, timeout: int = 60000):
    """Wait for the running index job (and the view reload after it) to finish; return its report."""
    qtbot.waitUntil(lambda: not w.indexing, timeout=timeout)
    qtbot.waitUntil(lambda: not w.query.busy, timeout=timeout)
    return w.last_report  # the report of the run that just ended


def index_library(home: Path, folders: list[Path]):
    """Index ``folders`` into ``home`` with the core directly (for tests about browsing, not indexing)."""
    from attalos_desktop.core.library import Library

    lib = Library.open(home=str(home))
    try:
        return lib.index([str(f) for f in folders])
    finally:
        lib.close()
