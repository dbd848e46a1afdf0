"""A query mixing the user's own words with a place or a date: only the filter's photos answer, those
carrying the words first (core/personal_search.py inside core/when_where_search.py's filter)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from attalos_desktop.core.library import Library
from core_helpers import make_photos

PARIS = ("48.8584", "N", "2.2945", "E")
SYDNEY = ("33.8568", "S", "151.2153", "E")


def _tag_position(exiftool: str, path: Path, where: tuple[str, str, str, str], when: str) -> None:
    lat, lat_ref, lon, lon_ref = where
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", f"-DateTimeOriginal={when}", f"-GPSLatitude={lat}",
         f"-GPSLatitudeRef={lat_ref}", f"-GPSLongitude={lon}", f"-GPSLongitudeRef={lon_ref}", str(path)],
        check=True,
    )  # fmt: skip


def test_user_words_with_a_place_answer_only_from_there(tmp_path: Path, bundle_dir: Path, exiftool: str) -> None:
    photos = make_photos(tmp_path / "photos", 8, seed=11)
    for p in photos[:4]:
        _tag_position(exiftool, p, PARIS, "2019:06:14 12:00:00")
    for p in photos[4:]:
        _tag_position(exiftool, p, SYDNEY, "2021:01:03 12:00:00")
    with Library.open(home=tmp_path / "lib", model=bundle_dir) as lib:
        lib.index([tmp_path / "photos"], workers=1)
        lib.edit_tags([str(photos[0]), str(photos[5])], add=["grandma"])
        answer = lib.find("grandma paris", limit=10)
        paths = [h.path for h in answer.hits]
        assert paths and paths[0] == str(photos[0])  # carries the word and was taken in Paris
        assert set(paths) <= {str(p) for p in photos[:4]}  # nothing from Sydney, not even the tagged one
        assert answer.matching == 4 and [t.kind for t in answer.understood.terms] == ["words", "place"]
        in_2021 = [h.path for h in lib.find("grandma 2021", limit=10).hits]
        assert in_2021[0] == str(photos[5]) and set(in_2021) <= {str(p) for p in photos[4:]}
        none = lib.find("grandma paris 2021", limit=10)
        assert none.hits == [] and none.why_empty == "no photos from Paris, France in 2021"
