"""What the library facade hands out: its errors, rows, hits, progress and reports (core/library.py).

Plain dataclasses, a floor under the facade and the rooms it delegates to (search.py, personal_search.py,
index_run.py); ``attalos_desktop.core.library`` re-exports every name, so callers import them from there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


class LibraryError(RuntimeError):
    """A fatal problem with the library itself (folder not writable, catalog unreadable, bad path)."""


class LibraryLocked(LibraryError):
    """Another process is indexing this library."""


class QueryError(LibraryError):
    """A search that cannot be answered: empty library, or no usable word in the text."""


@dataclass(frozen=True)
class Root:
    id: int
    path: str
    photo_count: int


@dataclass(frozen=True, slots=True)  # slots: a 100k-photo grid holds one per photo
class PhotoRow:
    id: int
    path: str
    root_id: int | None
    width: int | None
    height: int | None
    taken: str | None
    camera: str | None
    lens: str | None
    gps: tuple[float, float] | None
    size_bytes: int
    mtime: float
    taken_source: str | None = None  # "exif", "file" (no date recorded: the file's time), "unknown"
    place: str | None = None  # "Paris, Île-de-France, France" (core/gazetteer.py), None without GPS


@dataclass(frozen=True)
class TagScore:
    tag: str
    score: float
    source: str = "model"  # "model": the bundle's tag layer; "personal": votes of the user's tagged photos;
    # "place": the photo's town or country (Library.place_tags, when the user asked for them)


@dataclass(frozen=True)
class SearchHit:
    photo_id: int | None  # None for a photo outside the library (never returned by search today)
    path: str
    score: float


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


@dataclass(frozen=True)
class IndexProgress:
    phase: str  # "scanning", "comparing", "indexing", "places" (dates and places of older photos), "saving", "done"
    done: int
    total: int
    rate: float  # photos per second in this phase
    eta_s: float | None
    current: str | None  # path being worked on


@dataclass
class IndexReport:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    model: str = ""
    provider: str = ""
    cancelled: bool = False

    def to_json(self) -> dict[str, Any]:
        """Exactly the object `attalos-index --json` prints (the issue's shape)."""
        d = asdict(self)
        del d["cancelled"]
        d["failures"] = [{"path": f.path, "reason": f.reason} for f in self.failures]
        d["seconds"] = round(self.seconds, 3)
        return d


def photo_row(r: tuple, memo: dict[Any, Any] | None = None) -> PhotoRow:
    """A PhotoRow from a catalog row; ``memo`` shares the objects of values that repeat from photo to
    photo (root, sizes, camera, lens), so a long listing holds one copy of each instead of one per row."""
    pid, path, root_id, w, h, taken, camera, lens, lat, lon, size, mtime_ns, source, city, region, country = r
    place = ", ".join(p for p in (city, region, country) if p) or None
    if memo is not None:  # keyed with the type: 1 and 1.0 are equal but not the same value to show
        root_id, w, h, camera, lens, source, place = (
            memo.setdefault((type(v), v), v) for v in (root_id, w, h, camera, lens, source, place)
        )
    gps = (lat, lon) if lat is not None and lon is not None else None
    return PhotoRow(pid, path, root_id, w, h, taken, camera, lens, gps, size, mtime_ns / 1e9, source, place)
