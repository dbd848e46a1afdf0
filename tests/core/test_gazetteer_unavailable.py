"""A broken install whose GeoNames files cannot be read: indexing and search go on without places (they
are derived), one warning says why, and the first rescan after the install is mended fills them in."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from attalos_desktop.core import gazetteer
from attalos_desktop.core.gazetteer import Gazetteer
from attalos_desktop.core.library import Library
from core_helpers import make_photos


@pytest.fixture
def fresh_gazetteer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no gazetteer loaded (and the process's one is put back afterwards)."""
    monkeypatch.setattr(Gazetteer, "_shared", None)
    monkeypatch.setattr(Gazetteer, "_unavailable", None)
    monkeypatch.setattr(gazetteer, "_world", None)


def test_places_wait_for_a_readable_gazetteer(
    tmp_path: Path, bundle_dir: Path, fresh_gazetteer: None, monkeypatch: pytest.MonkeyPatch, caplog, exiftool: str
) -> None:
    photos = make_photos(tmp_path / "photos", 3, seed=5)
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", "-DateTimeOriginal=2019:06:14 12:00:00", "-GPSLatitude=48.8584",
         "-GPSLatitudeRef=N", "-GPSLongitude=2.2945", "-GPSLongitudeRef=E", str(photos[0])],
        check=True,
    )  # fmt: skip
    monkeypatch.setattr(gazetteer, "_data_dir", lambda: tmp_path / "no-such-folder")
    with caplog.at_level(logging.WARNING), Library.open(home=tmp_path / "lib", model=bundle_dir) as lib:
        report = lib.index([tmp_path / "photos"], workers=1)
        assert report.new == 3 and report.failed == 0  # nothing is lost for want of places
        row = lib.photo_by_path(photos[0])
        assert row is not None and row.place is None and row.taken == "2019-06-14T12:00:00"
        warnings = [r.message for r in caplog.records if r.message.startswith("places are unavailable")]
        assert len(warnings) == 1 and "no-such-folder" in warnings[0]  # said once, with the reason
        assert [h.path for h in lib.find("2019", limit=5).hits] == [str(photos[0])]  # dates still filter
        assert [t.kind for t in lib.understand("paris").terms] == ["words"]  # no place known: a word

    monkeypatch.undo()  # the install is mended
    monkeypatch.setattr(Gazetteer, "_shared", None)
    monkeypatch.setattr(Gazetteer, "_unavailable", None)
    with Library.open(home=tmp_path / "lib", model=bundle_dir) as lib:
        report = lib.index(workers=1)
        assert report.new == report.changed == 0  # nothing decoded again
        row = lib.photo_by_path(photos[0])
        assert row is not None and row.place == "Paris, Île-de-France, France" and row.taken_source == "exif"
        assert [h.path for h in lib.find("paris 2019", limit=5).hits] == [str(photos[0])]
