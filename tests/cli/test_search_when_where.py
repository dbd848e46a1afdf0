"""attalos-search with dates and places: the JSON keeps its shape, the plain listing's first line says what
was understood, an empty filtered answer is an answer (exit 0) that says why."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from attalos_desktop.cli import search as cli_search
from attalos_desktop.core.library import Library
from attalos_desktop.synthetic import render_photo
from cli_helpers import model_args

# name: (scene, ExifTool tags)
PHOTOS = {
    "paris": (
        {"background": "sand", "objects": [("red", "circle")]},
        [
            "-DateTimeOriginal=2019:06:15 14:30:00",
            "-OffsetTimeOriginal=+02:00",
            "-GPSLatitude=48.8584",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=2.2945",
            "-GPSLongitudeRef=E",
        ],
    ),
    "sydney": (
        {"background": "water", "objects": [("red", "circle")]},
        [
            "-DateTimeOriginal=2020:01:05 09:00:00",
            "-OffsetTimeOriginal=+11:00",
            "-GPSLatitude=33.8568",
            "-GPSLatitudeRef=S",
            "-GPSLongitude=151.2153",
            "-GPSLongitudeRef=E",
        ],
    ),
    "undated": ({"background": "grass", "objects": [("blue", "square")]}, []),
}


@pytest.fixture(scope="module")
def library(
    tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path, exiftool: str
) -> tuple[list[str], dict[str, str]]:
    """(the commands' library arguments, photo name -> path), indexed once for the module."""
    base = tmp_path_factory.mktemp("search_when_where")
    paths = {}
    for i, (name, (spec, tags)) in enumerate(PHOTOS.items()):
        im, _ = render_photo(random.Random(i), size=(160, 120), spec=spec)
        paths[name] = base / "photos" / f"{name}.jpg"
        paths[name].parent.mkdir(exist_ok=True)
        im.save(paths[name], quality=90)
        if tags:
            subprocess.run([exiftool, "-overwrite_original", *tags, str(paths[name])], check=True, capture_output=True)
    t = dt.datetime(2016, 8, 1, 12, 0).timestamp()
    os.utime(paths["undated"], (t, t))
    with Library.open(base / "lib", model=bundle_dir) as lib:
        assert lib.index([base / "photos"]).new == 3
    return ["--library", str(base / "lib"), *model_args()], {n: str(p) for n, p in paths.items()}


def run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> list[str]:
    assert cli_search.main(argv) == 0
    return capsys.readouterr().out.splitlines()


def test_json_keeps_its_shape(library, capsys: pytest.CaptureFixture[str]) -> None:
    lib, paths = library
    assert json.loads(run(capsys, [*lib, "--json", "2019"])[0]) == [{"path": paths["paris"], "score": 1.0}]
    assert json.loads(run(capsys, [*lib, "--json", "2016"])[0]) == [{"path": paths["undated"], "score": 1.0}]
    mixed = json.loads(run(capsys, [*lib, "--json", "red", "australia"])[0])
    assert [d["path"] for d in mixed] == [paths["sydney"]] and set(mixed[0]) == {"path", "score"}
    assert 0.0 < mixed[0]["score"] <= 1.0
    assert json.loads(run(capsys, [*lib, "--json", "paris", "2021"])[0]) == []


def test_the_first_line_says_what_was_understood(library, capsys: pytest.CaptureFixture[str]) -> None:
    lib, paths = library
    lines = run(capsys, [*lib, "in", "Paris"])
    assert lines[0] == "Newest 1 of 1 photo from Paris, France:"
    assert len(lines) == 2 and lines[1].startswith("  1. ") and lines[1].endswith("paris.jpg")
    lines = run(capsys, [*lib, "2016..2020"])
    assert lines[0] == "Newest 3 of 3 photos from 2016 to 2020:"
    assert [Path(line.split(". ", 1)[1]).name for line in lines[1:]] == ["sydney.jpg", "paris.jpg", "undated.jpg"]
    lines = run(capsys, [*lib, "red", "2019"])
    assert lines[0].startswith('Best 1 of 1 photo in 2019 for "red" (model ') and lines[1].endswith("paris.jpg")
    lines = run(capsys, [*lib, "red", "2019-13-40"])
    assert lines[0].startswith('Best 3 of 3 photos for "red" (model ')
    assert lines[0].endswith('; ignored "2019-13-40": not a date), with the relevance the app shows:')


def test_an_empty_filtered_answer_exits_0_and_says_why(library, capsys: pytest.CaptureFixture[str]) -> None:
    lib, _ = library
    assert run(capsys, [*lib, "paris", "2021"]) == ["No photos from Paris, France in 2021."]
    assert run(capsys, [*lib, "red", "june", "2020"]) == ["No photos in June 2020."]
    assert run(capsys, [*lib, "turkey", "2021"]) == [
        'No photos in 2021 (read "turkey" as a thing: no photos from Turkey).'
    ]
