"""When and where a photo was taken, as the catalog stores it (filled at index time, core/index_run.py).

When: the camera's EXIF DateTimeOriginal with its UTC offset when recorded (source "exif"); a photo with
no recorded date gets its file's modification time, marked as such (source "file"); a recorded date that
cannot be right (impossible, before 1826, in the future) is unknown (source "unknown"), never guessed.
Where: the GPS position's town, region and country (core/gazetteer.py); none without a real position.
"""

from __future__ import annotations

import datetime as _dt

from .gazetteer import Gazetteer, Place, valid_position
from .metadata import Metadata

SOURCES = ("exif", "file", "unknown")


def capture_time(md: Metadata, mtime_ns: int) -> tuple[str | None, str | None, str]:
    """(local time ISO 8601, UTC offset, source) for the catalog."""
    if md.taken:
        return md.taken, md.taken_offset, "exif"
    if md.taken_bad:
        return None, None, "unknown"
    try:
        t = _dt.datetime.fromtimestamp(mtime_ns / 1e9)
    except (OverflowError, OSError, ValueError):
        return None, None, "unknown"
    if t.year < 1826 or t > _dt.datetime.now() + _dt.timedelta(days=1):
        return None, None, "unknown"
    return t.isoformat(timespec="seconds"), None, "file"


def place_pending(lat: float | None, lon: float | None, place: Place | None) -> bool:
    """A real position left without a place because the gazetteer could not be read: the photo is stored
    as not yet dated and placed (taken_source NULL), so a rescan after the install is mended fills it."""
    return place is None and valid_position(lat, lon) and Gazetteer.shared() is None


def capture_place(lat: float | None, lon: float | None) -> Place | None:
    """The photo's place; the gazetteer is read only when a photo has a real position."""
    if not valid_position(lat, lon):
        return None
    g = Gazetteer.shared()
    return g.place_at(lat, lon) if g is not None else None
