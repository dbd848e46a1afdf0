"""Search by when and where (issue 21) with the real pieces: JPEGs whose EXIF ExifTool wrote, a real catalog,
the real ONNX encoder and the GeoNames gazetteer; the query grammar on hand-made place lists."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from attalos_desktop.core import pipeline
from attalos_desktop.core.catalog import MIGRATIONS
from attalos_desktop.core.gazetteer import Gazetteer, PlaceName, valid_position
from attalos_desktop.core.library import Library
from attalos_desktop.core.query_terms import PLACE_NAMES_THAT_ARE_WORDS, UnderstoodQuery, understand
from core_helpers import make_spec_photo


# -- photos with EXIF written by ExifTool (the suite's ``exiftool`` fixture) --------------------------------
def gps(lat: float, lon: float) -> dict[str, str]:
    """ExifTool's GPS tags for a signed position: the hemisphere goes in the Ref tags, as cameras write it."""
    return {
        "GPSLatitude": str(abs(lat)),
        "GPSLatitudeRef": "N" if lat >= 0 else "S",
        "GPSLongitude": str(abs(lon)),
        "GPSLongitudeRef": "E" if lon >= 0 else "W",
    }


def write_exif(exiftool: str, tags_by_file: dict[Path, dict[str, str]]) -> None:
    """One ExifTool run writes every file's tags (``-execute`` between files). A tag name ending in ``#``
    is written as given, without ExifTool's check (a camera's impossible date)."""
    args: list[str] = []
    for path, tags in tags_by_file.items():
        args += ["-overwrite_original", *(f"-{k}={v}" for k, v in tags.items()), str(path), "-execute"]
    argfile = next(iter(tags_by_file)).parent / ".exiftool-args"
    argfile.write_text("\n".join(args) + "\n", encoding="utf-8")
    subprocess.run([exiftool, "-@", str(argfile)], check=True, capture_output=True, timeout=120)
    argfile.unlink()


PARIS = gps(48.8584, 2.2945)  # the Eiffel Tower
NO_DATE_MTIME = dt.datetime(2016, 8, 1, 12, 0, 0).timestamp()  # local time, as the file's mtime is read

# name: (scene, EXIF tags)
PHOTOS: dict[str, tuple[tuple[str, list[tuple[str, str]]], dict[str, str]]] = {
    "paris_red": (
        ("sand", [("red", "circle")]),
        {"DateTimeOriginal": "2019:06:15 14:30:00", "OffsetTimeOriginal": "+02:00", **PARIS},
    ),
    "paris_blue": (
        ("grass", [("blue", "square")]),
        {"DateTimeOriginal": "2019:07:20 10:00:00", "OffsetTimeOriginal": "+02:00", **gps(48.8606, 2.3376)},
    ),
    "versailles": (
        ("water", [("yellow", "triangle")]),
        {"DateTimeOriginal": "2018:05:02 11:00:00", "OffsetTimeOriginal": "+02:00", **gps(48.8049, 2.1204)},
    ),
    "sydney": (
        ("sand", [("red", "circle")]),
        {"DateTimeOriginal": "2020:01:05 09:00:00", "OffsetTimeOriginal": "+11:00", **gps(-33.8568, 151.2153)},
    ),
    "new_york": (
        ("sand", [("green", "star")]),
        {"DateTimeOriginal": "2018:12:24 18:00:00", "OffsetTimeOriginal": "-05:00", **gps(40.7580, -73.9855)},
    ),
    "rio": (  # no offset recorded
        ("sky", [("purple", "cross")]),
        {"DateTimeOriginal": "2021:03:10 16:00:00", **gps(-22.9711, -43.1822)},
    ),
    "london": (
        ("grass", [("red", "circle")]),
        {"DateTimeOriginal": "2022:08:01 12:00:00", "OffsetTimeOriginal": "+01:00", **gps(51.5007, -0.1246)},
    ),
    "istanbul": (
        ("water", [("blue", "square")]),
        {"DateTimeOriginal": "2017:05:01 09:15:00", "OffsetTimeOriginal": "+03:00", **gps(41.0086, 28.9802)},
    ),
    "null_island": (  # a GPS without a fix writes 0/0
        ("sky", [("yellow", "triangle")]),
        {"DateTimeOriginal": "2019:02:01 08:00:00", **gps(0.0, 0.0)},
    ),
    "off_globe": (
        ("sand", [("green", "star")]),
        {
            "DateTimeOriginal": "2019:03:03 07:00:00",
            "GPSLatitude": "95",  # past the pole: ExifTool writes it as asked
            "GPSLatitudeRef": "N",
            "GPSLongitude": "10",
            "GPSLongitudeRef": "E",
        },
    ),
    "no_date": (("grass", [("purple", "cross")]), {}),  # no EXIF at all: the file's time
    "bad_date": (  # month 13, day 40: ExifTool refuses it unless told to write it raw
        ("water", [("red", "circle")]),
        {"DateTimeOriginal#": "2019:13:40 10:00:00", **gps(48.8530, 2.3499)},
    ),
    "future": (("sky", [("blue", "square")]), {"DateTimeOriginal": "2099:01:01 00:00:00"}),
    "before_1826": (("sand", [("yellow", "triangle")]), {"DateTimeOriginal": "1800:01:01 12:00:00"}),
}

# name: (taken, offset, source, place)
EXPECTED = {
    "paris_red": ("2019-06-15T14:30:00", "+02:00", "exif", "Paris, Île-de-France, France"),
    "paris_blue": ("2019-07-20T10:00:00", "+02:00", "exif", "Paris, Île-de-France, France"),
    "versailles": ("2018-05-02T11:00:00", "+02:00", "exif", "Versailles, Île-de-France, France"),
    "sydney": ("2020-01-05T09:00:00", "+11:00", "exif", "Sydney, New South Wales, Australia"),
    "new_york": ("2018-12-24T18:00:00", "-05:00", "exif", "New York City, New York, United States"),
    "rio": ("2021-03-10T16:00:00", None, "exif", "Rio de Janeiro, Rio de Janeiro, Brazil"),
    "london": ("2022-08-01T12:00:00", "+01:00", "exif", "London, England, United Kingdom"),
    "istanbul": ("2017-05-01T09:15:00", "+03:00", "exif", "Istanbul, Istanbul, Turkey"),
    "null_island": ("2019-02-01T08:00:00", None, "exif", None),
    "off_globe": ("2019-03-03T07:00:00", None, "exif", None),
    "no_date": ("2016-08-01T12:00:00", None, "file", None),
    "bad_date": (None, None, "unknown", "Paris, Île-de-France, France"),
    "future": (None, None, "unknown", None),
    "before_1826": (None, None, "unknown", None),
}


def make_photos(exiftool: str, folder: Path, names: list[str]) -> dict[str, Path]:
    """The named photos of PHOTOS, their EXIF written by ExifTool (one run for all)."""
    paths = {}
    for i, name in enumerate(names):
        (bg, objects), _ = PHOTOS[name]
        paths[name] = make_spec_photo(folder / f"{name}.jpg", bg, objects, seed=i)
    write_exif(exiftool, {paths[n]: PHOTOS[n][1] for n in names if PHOTOS[n][1]})
    if "no_date" in paths:
        os.utime(paths["no_date"], (NO_DATE_MTIME, NO_DATE_MTIME))
    return paths


@pytest.fixture(scope="module")
def world_lib(tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path, exiftool: str):
    """One library of every photo above, indexed once for the module."""
    base = tmp_path_factory.mktemp("when_where")
    paths = make_photos(exiftool, base / "photos", list(PHOTOS))
    lib = Library.open(base / "lib", model=bundle_dir)
    report = lib.index([base / "photos"])
    assert (report.new, report.failed) == (len(PHOTOS), 0), report.to_json()
    yield lib, paths
    lib.close()


def names(lib: Library, hits) -> list[str]:
    by_path = {str(p): n for n, p in _paths(lib).items()}
    return [by_path[h.path] for h in hits]


def _paths(lib: Library) -> dict[str, Path]:
    return {Path(p.path).stem: Path(p.path) for p in lib.photos()}


# -- what the catalog keeps ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_photo_gets_its_time_offset_source_and_place(world_lib, name: str) -> None:
    lib, paths = world_lib
    row = lib.photo_by_path(paths[name])
    taken, offset, source, place = EXPECTED[name]
    assert (row.taken, row.taken_source, row.place) == (taken, source, place)
    stored = lib.catalog.db.execute("SELECT taken_offset FROM photos WHERE id=?", (row.id,)).fetchone()[0]
    assert stored == offset


def test_gps_keeps_its_hemisphere(world_lib) -> None:
    lib, paths = world_lib
    signs = {
        n: tuple(v > 0 for v in lib.photo_by_path(paths[n]).gps) for n in ("paris_red", "sydney", "new_york", "rio")
    }
    assert signs == {
        "paris_red": (True, True),
        "sydney": (False, True),
        "new_york": (True, False),
        "rio": (False, False),
    }
    assert lib.photo_by_path(paths["off_globe"]).gps is None  # latitude 95 is no position


def test_years_and_places_leave_out_what_is_unknown(world_lib) -> None:
    lib, _ = world_lib
    assert lib.years() == [(2022, 1), (2021, 1), (2020, 1), (2019, 4), (2018, 2), (2017, 1), (2016, 1)]
    places = {c.place.name: (c.count, [(city.place.name, city.count) for city in c.cities]) for c in lib.places()}
    assert places == {
        "France": (4, [("Paris", 3), ("Versailles", 1)]),
        "Australia": (1, [("Sydney", 1)]),
        "United States": (1, [("New York City", 1)]),
        "Brazil": (1, [("Rio de Janeiro", 1)]),
        "United Kingdom": (1, [("London", 1)]),
        "Turkey": (1, [("Istanbul", 1)]),
    }
    assert lib.places()[0].place.name == "France"  # most photos first


# -- filters ---------------------------------------------------------------------------------------------
PARIS_ALL = ["paris_blue", "paris_red", "bad_date"]  # newest first; the unknown date last
FRANCE_ALL = ["paris_blue", "paris_red", "versailles", "bad_date"]


@pytest.mark.parametrize(
    "query,expected",
    [
        ("2019", ["paris_blue", "paris_red", "off_globe", "null_island"]),
        ("june 2019", ["paris_red"]),
        ("Jun 2019", ["paris_red"]),
        ("2019-06", ["paris_red"]),
        ("2018-2020", ["sydney", "paris_blue", "paris_red", "off_globe", "null_island", "new_york", "versailles"]),
        ("2019-06-01..2019-08-31", ["paris_blue", "paris_red"]),
        ("2019-07-20", ["paris_blue"]),
        ("summer 2019", ["paris_blue", "paris_red"]),
        ("2016", ["no_date"]),  # the file's time counts when no date was recorded
        ("paris", PARIS_ALL),
        ("PARIS", PARIS_ALL),
        ("in Paris", PARIS_ALL),
        ("ile de france", FRANCE_ALL),
        ("Île-de-France", FRANCE_ALL),
        ("france", FRANCE_ALL),
        ("versailles", ["versailles"]),
        ("new york", ["new_york"]),
        ("New York City", ["new_york"]),
        ("usa", ["new_york"]),
        ("united states", ["new_york"]),
        ("uk", ["london"]),
        ("england", ["london"]),
        ("sydney australia", ["sydney"]),
        ("new south wales", ["sydney"]),
        ("rio de janeiro", ["rio"]),
        ("brazil", ["rio"]),
        ("istanbul", ["istanbul"]),
        ("2018 2020", ["sydney", "new_york", "versailles"]),  # several dates widen
        ("paris london", ["london", "paris_blue", "paris_red", "bad_date"]),  # several places widen
        ("paris île-de-france", FRANCE_ALL),  # overlapping places: each photo once
        ("2019 june 2019", ["paris_blue", "paris_red", "off_globe", "null_island"]),
        ("paris london 2019 2022", ["london", "paris_blue", "paris_red"]),
        ("paris 2019", ["paris_blue", "paris_red"]),  # a date and a place narrow
        ("france 2018", ["versailles"]),
    ],
)
def test_a_filter_alone_lists_its_photos_newest_first(world_lib, query: str, expected: list[str]) -> None:
    lib, _ = world_lib
    answer = lib.find(query)
    assert names(lib, answer.hits) == expected, answer.understood.describe()
    assert answer.matching == len(expected) and answer.why_empty is None
    assert all(h.score == 1.0 for h in answer.hits)  # no relevance to show: every photo matches
    assert not answer.understood.visual_text
    assert names(lib, lib.search(query)) == expected


def test_a_filter_alone_respects_the_limit(world_lib) -> None:
    lib, _ = world_lib
    answer = lib.find("france", limit=2)
    assert names(lib, answer.hits) == ["paris_blue", "paris_red"] and answer.matching == 4


@pytest.mark.parametrize(
    "query,why",
    [
        ("paris 2021", "no photos from Paris, France in 2021"),
        ("paris 2018", "no photos from Paris, France in 2018"),
        ("june 2020", "no photos in June 2020"),
        ("sao paulo", "no photos from São Paulo, Brazil"),
        ("japan", "no photos from Japan"),
        ("red 1999", "no photos in 1999"),
    ],
)
def test_an_empty_answer_says_why(world_lib, query: str, why: str) -> None:
    lib, _ = world_lib
    answer = lib.find(query)
    assert answer.hits == [] and answer.matching == 0
    assert answer.why_empty == why
    assert lib.search(query) == []


def test_a_mixed_query_ranks_only_the_filtered_photos(world_lib) -> None:
    lib, _ = world_lib
    everywhere = names(lib, lib.search("red"))
    answer = lib.find("red france")
    got = names(lib, answer.hits)
    assert answer.understood.visual_text == "red" and answer.matching == 4
    assert sorted(got) == sorted(FRANCE_ALL)  # every filtered photo, nothing else (limit 50)
    assert got == [n for n in everywhere if n in FRANCE_ALL]  # in the order the words alone rank them
    assert set(everywhere) - set(FRANCE_ALL)  # the filter did take photos away
    assert got[0] in ("paris_red", "bad_date")  # the red ones of France
    assert names(lib, lib.find("red france", limit=1).hits) == got[:1]


def test_connectors_go_with_a_filter_and_stay_with_words(world_lib) -> None:
    lib, _ = world_lib
    q = lib.understand("red in paris")
    assert q.visual_text == "red" and q.describe() == 'photos of "red" from Paris, France'
    assert lib.understand("red in the sand").visual_text == "red in the sand"


def test_turkey_is_the_place_when_the_library_has_photos_there(world_lib) -> None:
    lib, _ = world_lib
    answer = lib.find("turkey")
    assert names(lib, answer.hits) == ["istanbul"]
    assert answer.understood.notes == ['read "turkey" as the place Turkey, not the thing']


def test_turkey_is_the_thing_in_a_library_without_photos_there(tmp_path: Path, bundle_dir: Path, exiftool: str) -> None:
    photos = make_photos(exiftool, tmp_path / "photos", ["paris_red", "sydney"])
    with Library.open(tmp_path / "lib", model=bundle_dir) as lib:
        lib.index([tmp_path / "photos"])
        answer = lib.find("turkey")
        assert not answer.understood.filtered and answer.understood.visual_text == "turkey"
        assert answer.understood.notes == ['read "turkey" as a thing: no photos from Turkey']
        assert {h.path for h in answer.hits} == {str(p) for p in photos.values()}  # a visual search
        # compass words name regions somewhere ("West", Cameroon), and are no filter either
        for text in ("north beach", "west", "central park"):
            assert not lib.understand(text).filtered, text


def test_a_date_shaped_non_date_is_ignored_with_a_note(world_lib) -> None:
    lib, _ = world_lib
    answer = lib.find("red 2019-13-40")
    assert not answer.understood.filtered and answer.matching is None
    assert answer.understood.notes == ['ignored "2019-13-40": not a date']
    assert names(lib, answer.hits) == names(lib, lib.search("red"))
    assert answer.understood.without(0) == ""  # the ignored word is no part of the query left


# -- a catalog from before when and where ----------------------------------------------------------------
def _shape(db: sqlite3.Connection) -> tuple[list[tuple], list[str]]:
    cols = [tuple(r[1:]) for r in db.execute("PRAGMA table_info(photos)")]
    idx = sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"))
    return cols, idx


def back_to_schema_2(catalog: Path) -> None:
    """Make the catalog what the app before schema 3 left: no when/where columns or indexes, no file-time
    fallback (an undated photo had no date) and dates up to 2200 accepted; checked against MIGRATIONS[:2]."""
    ref = sqlite3.connect(":memory:")
    for script in MIGRATIONS[:2]:
        ref.executescript(script)
    ref_cols, ref_idx = _shape(ref)
    db = sqlite3.connect(str(catalog), isolation_level=None)
    db.execute("UPDATE photos SET taken=NULL WHERE taken_source='file'")
    db.execute("UPDATE photos SET taken='2099-01-01T00:00:00' WHERE path LIKE '%future.jpg'")
    cols, idx = _shape(db)
    for name in set(idx) - set(ref_idx):
        db.execute(f"DROP INDEX {name}")
    for col in cols[len(ref_cols) :]:
        db.execute(f"ALTER TABLE photos DROP COLUMN {col[0]}")
    db.execute("PRAGMA user_version=2")
    assert _shape(db) == (ref_cols, ref_idx)
    db.close()


def test_a_schema_2_catalog_is_migrated_and_filled_at_rescan_without_decoding(
    tmp_path: Path, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch, exiftool: str
) -> None:
    names_ = ["paris_red", "sydney", "new_york", "no_date", "future"]
    paths = make_photos(exiftool, tmp_path / "photos", names_)
    home = tmp_path / "lib"
    with Library.open(home, model=bundle_dir) as lib:
        lib.index([tmp_path / "photos"])
    back_to_schema_2(home / "catalog.sqlite3")

    def no_decoding(*a: object, **k: object) -> None:
        raise AssertionError("a photo was decoded")

    monkeypatch.setattr(pipeline, "decode_for_model", no_decoding)
    phases: list[str] = []
    with Library.open(home, model=bundle_dir) as lib:
        assert lib.catalog.db.execute("PRAGMA user_version").fetchone()[0] == 3
        assert {(r.taken_source, r.place) for r in lib.photos()} == {(None, None)}  # migrated, not yet filled
        assert lib.find("australia").why_empty == "no photos from Australia"
        report = lib.index(progress=lambda p: phases.append(p.phase))
        assert (report.new, report.changed, report.unchanged, report.failed) == (0, 0, len(names_), 0)
        assert "places" in phases
        for name in names_:
            row = lib.photo_by_path(paths[name])
            taken, offset, source, place = EXPECTED[name]
            assert (row.taken, row.taken_source, row.place) == (taken, source, place), name
            stored = lib.catalog.db.execute("SELECT taken_offset FROM photos WHERE id=?", (row.id,)).fetchone()[0]
            assert stored == offset, name
        assert names(lib, lib.find("2019").hits) == ["paris_red"]
        assert names(lib, lib.find("australia").hits) == ["sydney"]
        assert lib.catalog.photos_without_capture() == []  # the next rescan reads nothing again


def test_an_index_run_without_gps_never_reads_the_gazetteer(
    tmp_path: Path, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch, exiftool: str
) -> None:
    def no_gazetteer() -> Gazetteer:
        raise AssertionError("the gazetteer was read")

    monkeypatch.setattr(Gazetteer, "_shared", None)
    monkeypatch.setattr(Gazetteer, "load", no_gazetteer)
    make_photos(exiftool, tmp_path / "photos", ["no_date", "future", "before_1826"])
    with Library.open(tmp_path / "lib", model=bundle_dir) as lib:
        report = lib.index([tmp_path / "photos"])
        assert (report.new, report.failed) == (3, 0)
        assert [n for n, _ in lib.years()] == [2016]


# -- the query grammar, on hand-made place lists (no gazetteer) ------------------------------------------
def _p(kind: str, name: str, cc: str, country: str) -> PlaceName:
    return PlaceName(kind, name, cc, country)


PARIS_P = _p("city", "Paris", "FR", "France")
FRANCE_P = _p("country", "France", "FR", "France")
IDF_P = _p("region", "Île-de-France", "FR", "France")
LONDON_P = _p("city", "London", "GB", "United Kingdom")
SYDNEY_P = _p("city", "Sydney", "AU", "Australia")
AUSTRALIA_P = _p("country", "Australia", "AU", "Australia")
TURKEY_P = _p("country", "Turkey", "TR", "Turkey")
NY_STATE_P = _p("region", "New York", "US", "United States")
NYC_P = _p("city", "New York City", "US", "United States")
LIBRARY = {
    "paris": [PARIS_P],
    "france": [FRANCE_P],
    "ile de france": [IDF_P],
    "london": [LONDON_P],
}
WORLD = {
    **LIBRARY,
    "sydney": [SYDNEY_P],
    "australia": [AUSTRALIA_P],
    "turkey": [TURKEY_P],
    "new york": [NY_STATE_P, NYC_P],
    "north": [_p("region", "North", "CM", "Cameroon")],
}
TODAY = dt.date(2025, 6, 1)


def read(
    text: str, library: dict[str, list[PlaceName]] = LIBRARY, world_calls: list[int] | None = None
) -> UnderstoodQuery:
    def world() -> dict[str, list[PlaceName]]:
        if world_calls is not None:
            world_calls.append(1)
        return WORLD

    return understand(
        text,
        library_places=library,
        world_places=world,
        is_thing=lambda w: w in PLACE_NAMES_THAT_ARE_WORDS or w in {"cat", "red"},
        today=TODAY,
    )


@pytest.mark.parametrize(
    "text,start,end,label",
    [
        ("2019", "2019-01-01", "2020-01-01", "2019"),
        ("june 2019", "2019-06-01", "2019-07-01", "June 2019"),
        ("JUN 2019", "2019-06-01", "2019-07-01", "June 2019"),
        ("2019-06", "2019-06-01", "2019-07-01", "June 2019"),
        ("2019/06", "2019-06-01", "2019-07-01", "June 2019"),
        ("december 2019", "2019-12-01", "2020-01-01", "December 2019"),
        ("2019-06-01", "2019-06-01", "2019-06-02", "2019-06-01"),
        ("summer 2019", "2019-06-01", "2019-09-01", "summer 2019"),
        ("winter 2019", "2019-12-01", "2020-03-01", "winter 2019"),
        ("2018-2020", "2018-01-01", "2021-01-01", "2018 to 2020"),
        ("2020-2018", "2018-01-01", "2021-01-01", "2018 to 2020"),
        ("2018..2020", "2018-01-01", "2021-01-01", "2018 to 2020"),
        ("2019-06-01..2019-08-31", "2019-06-01", "2019-09-01", "2019-06-01 to 2019-08-31"),
        ("2019-06..2019-08", "2019-06-01", "2019-09-01", "June 2019 to August 2019"),
        ("june 2019 to august 2019", "2019-06-01", "2019-09-01", "June 2019 to August 2019"),
        ("2018 - 2020", "2018-01-01", "2021-01-01", "2018 to 2020"),
        ("1826", "1826-01-01", "1827-01-01", "1826"),
        ("2026", "2026-01-01", "2027-01-01", "2026"),  # next year: a camera a zone ahead
    ],
)
def test_dates_and_ranges(text: str, start: str, end: str, label: str) -> None:
    q = read(text)
    assert [t.kind for t in q.terms] == ["date"] and q.visual_text == ""
    (span,) = q.dates
    assert (span.bounds(), span.label) == ((start, end), label)
    assert q.terms[0].text == text  # taking the term out takes all of it


@pytest.mark.parametrize("text", ["1825", "2027", "june", "summer", "12345", "may"])
def test_numbers_and_words_that_are_no_dates_stay_words(text: str) -> None:
    q = read(text)
    assert not q.filtered and q.visual_text == text and q.notes == []


@pytest.mark.parametrize("text", ["2019-13-40", "2019-02-30", "2019-13", "2019-13..2019-14"])
def test_a_date_shaped_word_that_is_no_date_is_ignored(text: str) -> None:
    q = read(f"cat {text}")
    assert [t.kind for t in q.terms] == ["words", "ignored"] and not q.filtered
    assert q.notes == [f'ignored "{text}": not a date']
    assert q.describe() == f'photos of "cat"; ignored "{text}": not a date'
    assert q.without(0) == ""


def test_words_places_and_dates_in_one_query() -> None:
    q = read("cat in paris 2019")
    assert [(t.kind, t.text, t.label) for t in q.terms] == [
        ("words", "cat", "cat"),
        ("place", "paris", "Paris, France"),
        ("date", "2019", "2019"),
    ]
    assert q.visual_text == "cat" and q.places == [PARIS_P]
    assert q.describe() == 'photos of "cat" from Paris, France in 2019'
    assert q.why_empty() == "no photos from Paris, France in 2019"
    assert (q.without(0), q.without(1), q.without(2)) == ("paris 2019", "cat 2019", "cat paris")


@pytest.mark.parametrize(
    "text,visual",
    [
        ("cat in paris", "cat"),
        ("cat from 2019", "cat"),
        ("in paris", ""),
        ("during june 2019 cat", "cat"),
        ("cat in the garden", "cat in the garden"),  # kept: "in" before words is part of them
        ("cat in", "cat in"),
        ("at home in paris", "at home"),
    ],
)
def test_a_connector_is_dropped_before_a_filter_only(text: str, visual: str) -> None:
    assert read(text).visual_text == visual


def test_places_any_case_accents_and_several_words() -> None:
    for text in ("PARIS", "Paris", "paris"):
        assert read(text).places == [PARIS_P]
    for text in ("Île-de-France", "ILE DE FRANCE", "ile-de-france"):
        assert read(text).places == [IDF_P]
    q = read("new york")  # not in the library: the world's names, the state and its city
    assert q.places == [NY_STATE_P, NYC_P] and q.terms[0].label == "New York, United States"
    assert q.why_empty() == "no photos from New York, United States"


def test_a_city_then_its_country_is_the_city() -> None:
    q = read("sydney australia")
    assert [(t.kind, t.text, t.label) for t in q.terms] == [("place", "sydney australia", "Sydney, Australia")]
    assert q.places == [SYDNEY_P]
    assert read("paris, france").places == [PARIS_P]


def test_several_places_or_dates_widen_a_date_and_a_place_narrow() -> None:
    q = read("paris london 2018 2020")
    assert q.places == [PARIS_P, LONDON_P] and [d.label for d in q.dates] == ["2018", "2020"]
    assert q.describe() == "photos from Paris, France or London, United Kingdom in 2018 or in 2020"


def test_a_place_that_is_also_a_thing_depends_on_the_library() -> None:
    lacking = read("turkey")
    assert not lacking.filtered and lacking.visual_text == "turkey"
    assert lacking.notes == ['read "turkey" as a thing: no photos from Turkey']
    having = read("turkey", library={**LIBRARY, "turkey": [TURKEY_P]})
    assert having.places == [TURKEY_P] and having.visual_text == ""
    assert having.notes == ['read "turkey" as the place Turkey, not the thing']
    assert not read("north beach").filtered  # a compass word names a region somewhere; no filter


def test_a_place_without_photos_is_still_a_place_unless_it_is_a_thing() -> None:
    q = read("cat sydney")
    assert q.places == [SYDNEY_P] and q.visual_text == "cat"


def test_the_world_names_are_read_only_when_a_word_might_need_them() -> None:
    calls: list[int] = []
    for text in ("paris 2019", "june 2019", "2018-2020", "france"):
        read(text, world_calls=calls)
    assert calls == []
    read("sydney", world_calls=calls)
    assert calls


# -- the gazetteer ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "lat,lon,city,country",
    [
        (48.8584, 2.2945, "Paris", "France"),  # the Eiffel Tower
        (40.7580, -73.9855, "New York City", "United States"),  # Times Square
        (-22.9711, -43.1822, "Rio de Janeiro", "Brazil"),  # Copacabana
        (-33.8568, 151.2153, "Sydney", "Australia"),  # the Opera House
        (48.8049, 2.1204, "Versailles", "France"),  # the palace, not Paris 17 km away
        (-34.6037, -58.3816, "Buenos Aires", "Argentina"),
        # inside a big city whose districts and suburbs are the nearest places (Manhattan, Paris 12e)
        (40.7829, -73.9654, "New York City", "United States"),  # Central Park
        (48.8283, 2.4330, "Paris", "France"),  # the Bois de Vincennes
        (51.5054, -0.0235, "London", "United Kingdom"),  # Canary Wharf
        (48.5716, 7.8153, "Kehl", "Germany"),  # across the Rhine from Strasbourg, not Strasbourg
        (41.8897, 12.4695, "Rome", "Italy"),  # Trastevere: the Vatican's point is nearer but does not reach it
        (41.9022, 12.4539, "Vatican City", "Vatican City"),  # St Peter's Square
        (31.7619, -106.4850, "El Paso", "United States"),  # Ciudad Juárez reaches it too, from farther
        (-18.1416, 178.4419, "Suva", "Fiji"),  # near the antimeridian
        (78.2232, 15.6267, "Longyearbyen", "Svalbard and Jan Mayen"),  # near the pole: whole rings of cells
    ],
)
def test_the_gazetteer_names_known_positions(lat: float, lon: float, city: str, country: str) -> None:
    place = Gazetteer.shared().place_at(lat, lon)
    assert place is not None and (place.city, place.country) == (city, country)


def test_the_gazetteer_names_no_place_at_sea_or_for_no_position() -> None:
    g = Gazetteer.shared()
    assert g.place_at(30.0, -40.0) is None  # mid-Atlantic
    assert g.place_at(-77.85, 166.67) is None and g.place_at(89.9, 0.0) is None  # McMurdo, the North Pole
    for lat, lon in [(0.0, 0.0), (95.0, 10.0), (10.0, 181.0), (float("nan"), 2.0), (float("inf"), 2.0), (None, 2.0)]:
        assert not valid_position(lat, lon) and g.place_at(lat, lon) is None
