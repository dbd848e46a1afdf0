"""Where a library keeps its files.

One rule for every front end, so the GUI and the commands always open the same library:
``--library DIR`` > ``$ATTALOS_HOME`` > platformdirs' user data dir. Caches (thumbnails) live in the
user cache dir, except when the library was named explicitly: then they stay inside it, so a test or
a portable install leaves nothing behind elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "attalos-desktop"
ENV_HOME = "ATTALOS_HOME"


@dataclass(frozen=True)
class LibraryPaths:
    """All locations of one library."""

    home: Path
    cache: Path

    @property
    def catalog(self) -> Path:
        return self.home / "catalog.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def models(self) -> Path:
        """User-installed / fine-tuned bundles."""
        return self.home / "models"

    @property
    def lock(self) -> Path:
        return self.home / "indexer.lock"

    @property
    def thumbnails(self) -> Path:
        return self.cache / "thumbnails"


def resolve_paths(home: str | os.PathLike[str] | None = None) -> LibraryPaths:
    """Resolve the library's folders (nothing is created here)."""
    explicit = home is not None or bool(os.environ.get(ENV_HOME))
    if home is None:
        home = os.environ.get(ENV_HOME) or platformdirs.user_data_dir(APP_NAME, appauthor=False)
    root = Path(home).expanduser().absolute()
    cache = root / "cache" if explicit else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    return LibraryPaths(home=root, cache=cache)
