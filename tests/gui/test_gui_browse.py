"""Search, detail panel, suggest-tags review, find similar: on a library of generated photos."""

from __future__ import annotations

from PySide6.QtCore import Qt

from attalos_desktop.core.library import Library
from attalos_desktop.gui.roles import Role


def _menu_action(w, text_start: str):
    menu = w.build_context_menu()
    for a in menu.actions():
        if a.text().replace("&", "").startswith(text_start):
            return a
    raise AssertionError(f"no {text_start!r} in {[a.text() for a in menu.actions()]}")


def _row_of_path(w, path) -> int:
    for i in range(w.model.rowCount()):
        if w.model.photo_at(i).path == str(path.resolve()):
            return i
    raise AssertionError(f"{path} is not in the grid")


def test_typing_a_word_ranks_the_right_photo_first_and_escape_returns_to_browsing(qtbot, make_window, library_copy):
    w = make_window(library_copy["home"])
    n = len(library_copy["photos"])
    qtbot.waitUntil(lambda: w.model.rowCount() == n, timeout=10000)

    qtbot.keyClick(w, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert w.search_box.hasFocus()
    with qtbot.waitSignal(w.searchFinished, timeout=20000) as blocker:
        qtbot.keyClicks(w.search_box, "water")  # debounced: one search when typing pauses
    assert blocker.args == ["water"]
    assert w.mode == "search" and w.results_bar.isVisible()
    assert w.model.photo_at(0).path == str(library_copy["target"].resolve())
    scores = [w.model.data(w.model.index(i), Role.SCORE) for i in range(w.model.rowCount())]
    assert scores == sorted(scores, reverse=True)

    # A word the model never saw still answers (out-of-vocabulary mapping), without an error. (Not a town's
    # name: "zanzibar" is now read as the place, and a library with no photos from there answers none.)
    with qtbot.waitSignal(w.searchFinished, timeout=20000):
        w.search("serendipity")
    assert w.model.rowCount() > 0 and w.errors == []

    # Text without a usable word is an answer ("no results"), not an error.
    with qtbot.waitSignal(w.searchFinished, timeout=20000):
        w.search("?! …")
    assert w.model.rowCount() == 0 and "No results" in w.results_bar.text() and w.errors == []

    qtbot.keyClick(w.search_box, Qt.Key.Key_Escape)
    assert w.mode == "browse" and w.search_box.text() == "" and not w.results_bar.isVisible()
    qtbot.waitUntil(lambda: w.model.rowCount() == n and not w.model.has_scores(), timeout=10000)


def test_detail_panel_shows_metadata_user_tags_and_suggestions(qtbot, make_window, library_copy):
    home = library_copy["home"]
    lib = Library.open(home=str(home))
    target = lib.photo_by_path(library_copy["target"].resolve())
    lib.accept_tags(target.id, ["holiday"])
    lib.close()

    w = make_window(home)
    qtbot.waitUntil(lambda: w.model.rowCount() == len(library_copy["photos"]), timeout=10000)
    with qtbot.waitSignal(w.detailLoaded, timeout=20000):
        w.select_rows([_row_of_path(w, library_copy["target"])])
    d = w.detail
    assert d.fields["size"].text().startswith("240 × 180")
    assert "holiday" in d.user_tags.text()
    assert d.detail.suggestions and "%" in d.suggestions.text()
    # User tags and suggestions are styled differently (chips vs. scored list).
    assert "background-color:#2f6fd6" in d.user_tags.text() and "#2f6fd6" not in d.suggestions.text()
    qtbot.waitUntil(d.preview_ready, timeout=20000)
    assert d.preview.pixmap() is not None and not d.preview.pixmap().isNull()

    # The × on a tag chip removes the tag from the catalog.
    assert "href='remove:holiday'" in d.user_tags.text()
    with qtbot.waitSignal(w.tagsSaved, timeout=20000):
        d.user_tags.linkActivated.emit("remove:holiday")  # what clicking the link emits
    qtbot.waitUntil(lambda: "No tags yet" in d.user_tags.text(), timeout=20000)
    lib = Library.open(home=str(home))
    try:
        assert lib.user_tags(target.id) == []
    finally:
        lib.close()
    assert w.errors == []


def test_suggest_tags_accept_two_reject_one_and_add_a_typed_tag(qtbot, make_window, library_copy):
    home = library_copy["home"]
    w = make_window(home)
    qtbot.waitUntil(lambda: w.model.rowCount() == len(library_copy["photos"]), timeout=10000)
    row = _row_of_path(w, library_copy["target"])
    w.select_rows([row])
    photo = w.model.photo_at(row)

    _menu_action(w, "Suggest tags").trigger()
    dlg = w.suggest_dialog
    assert dlg is not None and dlg.isVisible()
    review = dlg.reviews[photo.id]
    qtbot.waitUntil(lambda: len(review.rows) >= 3, timeout=20000)
    a, b, r = review.rows[0], review.rows[1], review.rows[2]
    qtbot.mouseClick(a.accept_btn, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(b.accept_btn, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(r.reject_btn, Qt.MouseButton.LeftButton)
    # Completion offers the vocabulary and the user's words.
    assert a.tag in dlg.completer_model.stringList() or w.tagging.words is None
    qtbot.keyClicks(dlg.tag_edit, "Grandma's Garden")
    qtbot.keyClick(dlg.tag_edit, Qt.Key.Key_Return)
    assert dlg.row(photo.id, "grandma's garden").decision == "accept"
    assert [x.tag for x in review.rows if x.decision is None] == [
        x.tag for x in review.rows[3:] if x.tag != "grandma's garden"
    ]

    with qtbot.waitSignal(w.tagsSaved, timeout=20000):
        qtbot.mouseClick(dlg.save_btn, Qt.MouseButton.LeftButton)

    lib = Library.open(home=str(home))
    try:
        assert sorted(lib.user_tags(photo.id)) == sorted([a.tag, b.tag, "grandma's garden"])
        again = [s.tag for s in lib.suggest_tags(photo.id, top=100)]
        assert r.tag not in again and a.tag not in again and b.tag not in again
        assert "grandma's garden" in lib.completion_words()
    finally:
        lib.close()
    # The detail panel refreshed with the new user tags.
    qtbot.waitUntil(
        lambda: a.tag in w.detail.user_tags.text() and "grandma" in w.detail.user_tags.text(), timeout=20000
    )
    assert r.tag not in [s.tag for s in w.detail.detail.suggestions]

    # Reopening the review does not offer the rejected tag again.
    _menu_action(w, "Suggest tags").trigger()
    dlg2 = w.suggest_dialog
    qtbot.waitUntil(
        lambda: not dlg2.reviews[photo.id].status.text().startswith("<span style='color:#888'>Asking"), timeout=20000
    )
    assert r.tag not in [x.tag for x in dlg2.reviews[photo.id].rows]
    dlg2.reject()
    assert w.errors == []


def test_suggest_tags_for_a_selection_and_accept_all(qtbot, make_window, library_copy):
    home = library_copy["home"]
    w = make_window(home)
    qtbot.waitUntil(lambda: w.model.rowCount() == len(library_copy["photos"]), timeout=10000)
    w.select_rows([1, 2, 3])
    act = _menu_action(w, "Suggest tags")
    assert "3 photos" in act.text()
    act.trigger()
    dlg = w.suggest_dialog
    ids = [w.model.photo_at(i).id for i in (1, 2, 3)]
    assert sorted(dlg.reviews) == sorted(ids)
    qtbot.waitUntil(lambda: all(len(dlg.reviews[i].rows) > 0 for i in ids), timeout=20000)
    dlg.reviews[ids[0]].rows[0].set_decision("reject")  # "Accept all" overrides earlier choices
    qtbot.mouseClick(dlg.accept_all_btn, Qt.MouseButton.LeftButton)
    assert all(x.decision == "accept" for i in ids for x in dlg.reviews[i].rows)
    expected = {i: sorted(x.tag for x in dlg.reviews[i].rows) for i in ids}
    with qtbot.waitSignal(w.tagsSaved, timeout=20000):
        qtbot.mouseClick(dlg.save_btn, Qt.MouseButton.LeftButton)
    lib = Library.open(home=str(home))
    try:
        for i in ids:
            assert sorted(lib.user_tags(i)) == expected[i]
    finally:
        lib.close()


def test_find_similar_photos_from_the_context_menu(qtbot, make_window, library_copy):
    w = make_window(library_copy["home"])
    n = len(library_copy["photos"])
    qtbot.waitUntil(lambda: w.model.rowCount() == n, timeout=10000)
    w.select_rows([0])
    src = w.model.photo_at(0)
    with qtbot.waitSignal(w.similarFinished, timeout=20000):
        _menu_action(w, "Find similar").trigger()
    assert w.mode == "similar" and w.results_bar.isVisible()
    got = [w.model.photo_at(i).id for i in range(w.model.rowCount())]
    assert src.id not in got and len(got) == n - 1
    scores = [w.model.data(w.model.index(i), Role.SCORE) for i in range(w.model.rowCount())]
    assert scores == sorted(scores, reverse=True)
    lib = Library.open(home=str(library_copy["home"]))
    try:
        assert got == [h.photo_id for h in lib.similar(photo_id=src.id, limit=100)]
    finally:
        lib.close()
    qtbot.keyClick(w.grid, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: w.mode == "browse" and w.model.rowCount() == n, timeout=10000)


def test_open_and_show_in_folder_hand_urls_to_the_desktop(qtbot, make_window, library_copy, monkeypatch):
    import attalos_desktop.gui.desktop as desktop

    opened = []
    monkeypatch.setattr(desktop, "show_items_in_file_manager", lambda paths: False)  # no file manager here
    monkeypatch.setattr(desktop, "open_url", lambda url: opened.append(url.toLocalFile()) or True)
    w = make_window(library_copy["home"])
    qtbot.waitUntil(lambda: w.model.rowCount() > 0, timeout=10000)
    w.select_rows([0])
    p = w.model.photo_at(0).path
    _menu_action(w, "Open with default application").trigger()
    _menu_action(w, "Show in folder").trigger()
    assert opened == [p, str(library_copy["folder"].resolve())]
