"""Search by when and where in the window: chips of the understood query, the sidebar's Years and Places,
the detail panel's place and date source, and the opt-in place tags. Real widgets, offscreen, on a small
library of generated photos that carry EXIF dates and GPS positions."""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

import pytest
from gui_helpers import index_library, write_photos
from PIL import Image
from PySide6.QtCore import Qt

from attalos_desktop.core.library import Library
from attalos_desktop.core.query_terms import QueryTerm, UnderstoodQuery
from attalos_desktop.gui.chips import QueryChip, QueryChips
from attalos_desktop.gui.settings import Settings

PARIS = (48.8584, 2.2945)  # the Eiffel Tower
LYON = (45.7640, 4.8357)
SYDNEY = (-33.8568, 151.2153)  # the Opera House
FILE_TIME = _dt.datetime(2018, 3, 4, 12, 30)  # the undated photo's file time


def _dms(x: float) -> tuple[float, float, float]:
    x = abs(x)
    d = int(x)
    m = int((x - d) * 60)
    return float(d), float(m), round(((x - d) * 60 - m) * 60, 2)


def _stamp(path: Path, date: str | None, where: tuple[float, float] | None = None) -> None:
    """Rewrite a JPEG with an EXIF DateTimeOriginal and a GPS position, as a camera would."""
    im = Image.open(path)
    im.load()
    exif = Image.Exif()
    if date:
        exif.get_ifd(0x8769)[0x9003] = date
    if where:
        lat, lon = where
        exif.get_ifd(0x8825).update(
            {1: "N" if lat >= 0 else "S", 2: _dms(lat), 3: "E" if lon >= 0 else "W", 4: _dms(lon)}
        )
    im.save(path, "JPEG", quality=88, exif=exif.tobytes())


@pytest.fixture
def travel(tmp_path: Path) -> dict:
    """Six photos: two in Paris in 2019, Lyon 2020, Sydney 2021, one with an impossible date, one undated."""
    paths = write_photos(tmp_path / "travel", 6, seed=11, exclude=("water",))
    _stamp(paths[0], "2019:06:01 10:00:00", PARIS)
    _stamp(paths[1], "2019:07:01 10:00:00", PARIS)
    _stamp(paths[2], "2020:01:01 10:00:00", LYON)
    _stamp(paths[3], "2021:01:01 10:00:00", SYDNEY)
    _stamp(paths[4], "2099:01:01 10:00:00")  # in the future: recorded, but cannot be right
    t = FILE_TIME.timestamp()
    os.utime(paths[5], (t, t))  # no EXIF at all: the file's time, marked as such
    home = tmp_path / "home"
    report = index_library(home, [tmp_path / "travel"])
    assert report.new == 6 and not report.failures
    names = ["paris_a", "paris_b", "lyon", "sydney", "bad_date", "undated"]
    return {"home": home, "folder": tmp_path / "travel", **{n: str(p.resolve()) for n, p in zip(names, paths)}}


def _shown(w) -> set[str]:
    return {w.model.photo_at(i).path for i in range(w.model.rowCount())}


def _search(qtbot, w, text: str) -> None:
    with qtbot.waitSignal(w.searchFinished, timeout=20000):
        w.search(text)


def _select(qtbot, w, path: str) -> None:
    row = next(i for i in range(w.model.rowCount()) if w.model.photo_at(i).path == path)
    with qtbot.waitSignal(w.detailLoaded, timeout=20000):
        w.select_rows([row])


def _click_sidebar(qtbot, w, key: str) -> None:
    """Click a Years/Places entry like a user, and wait for the search it runs."""
    item = w.sidebar.item_for_filter(key)
    assert item is not None, w.sidebar.filters()
    w.sidebar.scrollToItem(item)
    with qtbot.waitSignal(w.searchFinished, timeout=20000):
        qtbot.mouseClick(w.sidebar.viewport(), Qt.MouseButton.LeftButton, pos=w.sidebar.visualItemRect(item).center())


def test_chips_show_what_was_understood_and_removing_one_searches_without_it(qtbot, make_window, travel):
    w = make_window(travel["home"])
    qtbot.waitUntil(lambda: w.model.rowCount() == 6, timeout=10000)
    france = {travel["paris_a"], travel["paris_b"], travel["lyon"]}

    _search(qtbot, w, "cat paris 2019")
    chips = w.results_bar.chips
    assert chips.isVisible()
    assert chips.labels() == [("words", "cat"), ("place", "Paris, France"), ("date", "2019")]
    assert _shown(w) == {travel["paris_a"], travel["paris_b"]}
    assert "from Paris, France in 2019" in w.results_bar.text()

    _search(qtbot, w, "cat france 2019")
    assert _shown(w) == {travel["paris_a"], travel["paris_b"]}
    # The date chip's ×: the query loses "2019", and Lyon's photo of 2020 joins the answer.
    with qtbot.waitSignal(w.searchFinished, timeout=20000):
        qtbot.mouseClick(chips.chips[2].remove_btn, Qt.MouseButton.LeftButton)
    assert w.search_box.text() == "cat france"
    assert chips.labels() == [("words", "cat"), ("place", "France")]
    assert _shown(w) == france
    # Without the visual word, the place alone lists its photos, newest first.
    with qtbot.waitSignal(w.searchFinished, timeout=20000):
        qtbot.mouseClick(chips.chips[0].remove_btn, Qt.MouseButton.LeftButton)
    assert w.search_box.text() == "france" and chips.labels() == [("place", "France")]
    assert [w.model.photo_at(i).path for i in range(3)] == [travel["lyon"], travel["paris_b"], travel["paris_a"]]
    assert "newest first" in w.results_bar.text()
    assert not w.model.has_scores()  # a listing, not a ranking: no score badges
    # Removing the last term leaves nothing to search: back to browsing.
    qtbot.mouseClick(chips.chips[0].remove_btn, Qt.MouseButton.LeftButton)
    assert w.mode == "browse" and w.search_box.text() == "" and not w.results_bar.isVisible()
    qtbot.waitUntil(lambda: w.model.rowCount() == 6, timeout=10000)
    assert w.errors == []


def test_an_empty_answer_says_why_and_notes_are_shown(qtbot, make_window, travel):
    w = make_window(travel["home"])
    qtbot.waitUntil(lambda: w.model.rowCount() == 6, timeout=10000)

    _search(qtbot, w, "paris 2021")
    assert w.model.rowCount() == 0
    assert "no photos from Paris, France in 2021" in w.results_bar.text()
    assert w.results_bar.chips.labels() == [("place", "Paris, France"), ("date", "2021")]

    # "turkey": no photos from Turkey, so the thing; a date-shaped word that is no date is ignored.
    _search(qtbot, w, "turkey 2019-13-40 paris")
    chips = w.results_bar.chips
    assert chips.labels() == [("words", "turkey"), ("ignored", "2019-13-40"), ("place", "Paris, France")]
    notes = chips.notes.text()
    assert chips.notes.isVisible() and "turkey" in notes and '"2019-13-40": not a date' in notes
    assert _shown(w) == {travel["paris_a"], travel["paris_b"]}
    # The ignored chip's × takes the word out of the box too.
    with qtbot.waitSignal(w.searchFinished, timeout=20000):
        qtbot.mouseClick(chips.chips[1].remove_btn, Qt.MouseButton.LeftButton)
    assert w.search_box.text() == "turkey paris"
    assert w.errors == []


def test_sidebar_years_and_places_count_photos_filter_the_grid_and_follow_indexing(
    qtbot, make_window, travel, tmp_path
):
    w = make_window(travel["home"])
    qtbot.waitUntil(lambda: w.model.rowCount() == 6, timeout=10000)
    assert w.sidebar.filters() == {
        "year:2021": "2021  (1)",
        "year:2020": "2020  (1)",
        "year:2019": "2019  (2)",
        "year:2018": "2018  (1)",  # the undated photo, by its file's time
        "place:FR": "France  (3)",
        "place:FR/Paris": "Paris  (2)",
        "place:FR/Lyon": "Lyon  (1)",
        "place:AU": "Australia  (1)",
        "place:AU/Sydney": "Sydney  (1)",
    }
    assert w.sidebar.item_for_filter("place:FR").child(0).data(0, 0).strip() == "Paris  (2)"  # cities nested

    _click_sidebar(qtbot, w, "year:2019")
    assert w.search_box.text() == "2019" and w.mode == "search"
    assert _shown(w) == {travel["paris_a"], travel["paris_b"]}

    _click_sidebar(qtbot, w, "place:FR/Lyon")
    assert w.search_box.text() == "Lyon France"
    assert w.results_bar.chips.labels() == [("place", "Lyon, France")]
    assert _shown(w) == {travel["lyon"]}

    _click_sidebar(qtbot, w, "place:FR")
    assert _shown(w) == {travel["paris_a"], travel["paris_b"], travel["lyon"]}
    assert w.sidebar.current_filter() == "place:FR"
    # A typed search that no entry runs leaves no entry highlighted; typing one highlights it.
    _search(qtbot, w, "cat")
    assert w.sidebar.current_filter() is None
    _search(qtbot, w, "2021")
    assert w.sidebar.current_filter() == "year:2021" and _shown(w) == {travel["sydney"]}

    # Escape returns to browsing; an index run that adds photos brings new counts.
    qtbot.keyClick(w.search_box, Qt.Key.Key_Escape)
    more = write_photos(tmp_path / "more", 1, seed=5, exclude=("water",))
    _stamp(more[0], "2021:02:01 09:00:00", SYDNEY)
    w.add_folders([str(tmp_path / "more")])
    qtbot.waitUntil(lambda: not w.indexing, timeout=60000)
    qtbot.waitUntil(lambda: w.sidebar.filters().get("place:AU/Sydney") == "Sydney  (2)", timeout=20000)
    assert w.sidebar.filters()["year:2021"] == "2021  (2)" and w.sidebar.filters()["place:AU"] == "Australia  (2)"
    assert w.errors == []


def test_detail_panel_shows_the_place_and_where_the_date_comes_from(qtbot, make_window, travel):
    w = make_window(travel["home"])
    qtbot.waitUntil(lambda: w.model.rowCount() == 6, timeout=10000)
    d = w.detail

    _select(qtbot, w, travel["paris_a"])
    assert d.fields["date"].text() == "2019-06-01 10:00"
    assert d.fields["place"].text() == "Paris, Île-de-France, France"
    assert d.form.isRowVisible(d.fields["place"])

    _select(qtbot, w, travel["undated"])
    assert d.fields["date"].text() == "2018-03-04 12:30 (file date)"
    assert not d.form.isRowVisible(d.fields["place"])  # no GPS: no Place row

    _select(qtbot, w, travel["bad_date"])
    assert d.fields["date"].text() == "unknown"
    assert w.errors == []


def _place_suggestions(suggestions) -> list[str]:
    return [s.tag for s in suggestions if s.source == "place"]


def test_place_tags_are_suggested_only_when_the_setting_is_on(qtbot, make_window, travel):
    w = make_window(travel["home"])
    qtbot.waitUntil(lambda: w.model.rowCount() == 6, timeout=10000)
    assert w.settings.suggest_place_tags is False  # off by default

    _select(qtbot, w, travel["paris_a"])
    assert _place_suggestions(w.detail.detail.suggestions) == []
    assert "from GPS" not in w.detail.suggestions.text()
    dlg = w.suggest_tags_for_selection() or w.suggest_dialog
    review = dlg.reviews[w.selected_photos()[0].id]
    qtbot.waitUntil(lambda: len(review.rows) > 0, timeout=20000)
    assert all(r.source != "place" for r in review.rows)
    dlg.reject()

    # Tools → Settings: the checkbox turns it on, and the choice is saved with the other settings.
    settings = w.show_settings()
    assert not settings.place_tags.isChecked()
    settings.place_tags.setChecked(True)
    with qtbot.waitSignal(w.detailLoaded, timeout=20000):
        settings.accept()  # OK: applied, saved, and the shown photo's suggestions asked again
    assert Settings.load().suggest_place_tags is True
    assert w.detail.detail.suggestions[:2] == [s for s in w.detail.detail.suggestions if s.source == "place"]
    assert _place_suggestions(w.detail.detail.suggestions) == ["paris", "france"]
    assert "from GPS" in w.detail.suggestions.text()

    # The review dialog offers them first; accepting one makes it the photo's tag like any other.
    pid = w.selected_photos()[0].id
    w.suggest_tags_for_selection()
    dlg = w.suggest_dialog
    review = dlg.reviews[pid]
    qtbot.waitUntil(lambda: len(review.rows) > 2, timeout=20000)
    assert [(r.tag, r.source) for r in review.rows[:2]] == [("paris", "place"), ("france", "place")]
    assert review.rows[0].badge.text() == "place" and review.rows[0].badge.isVisibleTo(review.rows[0])
    qtbot.mouseClick(review.rows[0].accept_btn, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(w.tagsSaved, timeout=20000):
        qtbot.mouseClick(dlg.save_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "paris" in w.detail.user_tags.text(), timeout=20000)
    # Once it is the photo's own tag, it is no longer suggested.
    assert _place_suggestions(w.detail.detail.suggestions) == ["france"]
    lib = Library.open(home=str(travel["home"]))
    try:
        assert lib.user_tags(pid) == ["paris"]
    finally:
        lib.close()

    # A photo without GPS has no place to offer.
    _select(qtbot, w, travel["undated"])
    assert _place_suggestions(w.detail.detail.suggestions) == []
    assert w.errors == []


def test_new_chips_replace_the_old_ones_at_once(qtbot) -> None:
    """What is painted: the earlier query's chips go before the event loop runs again (deleteLater alone
    left them drawn under the new ones until then)."""
    chips = QueryChips()
    qtbot.addWidget(chips)
    chips.show()
    term = QueryTerm
    chips.set_understood(UnderstoodQuery([term("words", "cat", "cat"), term("ignored", "2019-13-40", "2019-13-40")]))
    chips.set_understood(UnderstoodQuery([term("date", "2019", "2019")]))
    assert [c.label_text for c in chips.findChildren(QueryChip)] == ["2019"]
