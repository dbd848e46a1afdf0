"""The window's parts on their own: typed query requests, named roles, the core's notices in the status bar."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from attalos_desktop.core.library import QueryError
from attalos_desktop.gui.queries import DetailRequest, PhotosRequest, QueryClient, Request, SearchRequest
from attalos_desktop.gui.roles import Role


@dataclass
class _Fails(Request):
    """A request whose run raises the core's own exception type."""

    title: ClassVar[str] = "Test request failed"

    def run(self, lib: Any) -> Any:
        raise QueryError("nothing to search")


def test_typed_requests_carry_their_handlers_and_errors_keep_their_type(qtbot, library_copy):
    client = QueryClient(str(library_copy["home"]))
    try:
        got: dict[str, Any] = {}
        client.submit(PhotosRequest(None), lambda rows: got.setdefault("photos", rows))
        client.submit(
            _Fails(), lambda _r: got.setdefault("unexpected", True), lambda exc, tb: got.setdefault("error", (exc, tb))
        )
        unhandled: list[tuple] = []
        client.failed.connect(lambda title, exc, tb: unhandled.append((title, exc)))
        client.submit(_Fails())
        # Superseded: only the newest search answers, older ones are dropped (or never run).
        answers: list[str] = []
        for text in ("red", "green", "water"):
            client.submit(SearchRequest(text, 5), lambda res, t=text: answers.append(t))
        qtbot.waitUntil(lambda: not client.busy, timeout=30000)
        assert len(got["photos"]) == len(library_copy["photos"])
        exc, tb = got["error"]
        assert isinstance(exc, QueryError) and "nothing to search" in str(exc) and "QueryError" in tb
        assert "unexpected" not in got
        assert (
            len(unhandled) == 1 and unhandled[0][0] == "Test request failed" and isinstance(unhandled[0][1], QueryError)
        )
        assert answers == ["water"]
        d: list[Any] = []
        client.submit(DetailRequest(got["photos"][0].id, 3, 0.0), d.append)
        qtbot.waitUntil(lambda: bool(d), timeout=30000)
        assert d[0].photo.id == got["photos"][0].id and len(d[0].suggestions) <= 3
    finally:
        client.shutdown()


def test_grid_and_sidebar_answer_named_roles(qtbot, make_window, library_copy):
    w = make_window(library_copy["home"])
    qtbot.waitUntil(lambda: w.model.rowCount() == len(library_copy["photos"]), timeout=10000)
    ix = w.model.index(0)
    row = w.model.photo_at(0)
    assert w.model.data(ix, Role.PHOTO_ID) == row.id
    assert w.model.data(ix, Role.PATH) == str(row.path)
    assert w.model.data(ix, Role.ROW) == row
    assert w.model.data(ix, Role.SCORE) is None  # browsing: no scores
    assert w.model.data(ix, Role.STATE) in ("ready", "loading", "broken")
    keys = [w.sidebar.topLevelItem(i).data(0, Role.VIEW_KEY) for i in range(w.sidebar.topLevelItemCount())]
    assert [k for k in keys if k] == list(w.sidebar_items())
    assert w.sidebar.choose("problems")  # like a click: the window follows
    qtbot.waitUntil(lambda: w.stack.currentWidget() is w.problems_page, timeout=10000)


def test_core_notices_show_in_the_status_bar_once(qtbot, make_window, library_copy):
    from attalos_desktop.core import notices

    w = make_window(library_copy["home"])
    msg = "the search index was damaged; rebuilt it from the catalog (test)"
    notices.notice(msg)
    notices.notice(msg)  # told once
    qtbot.waitUntil(lambda: msg in w.status.notices, timeout=5000)
    assert w.status.text() == msg
    w.status.poll_notices()
    assert w.status.notices.count(msg) == 1


def test_grid_cards_lay_out_each_name_once_and_show_the_state(qtbot, tmp_path, monkeypatch):
    """A repaint of the grid (every batch an index run adds) reuses the laid-out names and placeholders."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

    from attalos_desktop.core.library import PhotoRow
    from attalos_desktop.core.thumbnails import ThumbnailCache
    from attalos_desktop.gui import grid
    from attalos_desktop.gui.grid import PhotoDelegate, PhotoGridModel
    from attalos_desktop.gui.workers import ThumbnailLoader

    laid_out: list[str] = []
    real_static_text = grid.QStaticText

    def counting_static_text(text: str):
        laid_out.append(text)
        return real_static_text(text)

    monkeypatch.setattr(grid, "QStaticText", counting_static_text)

    loader = ThumbnailLoader(ThumbnailCache(tmp_path / "cache"), threads=1)
    try:
        model = PhotoGridModel(loader, 64)
        long_name = tmp_path / ("a-very-long-file-name-" * 6 + "end.jpg")  # missing: its thumbnail fails
        model.set_photos([PhotoRow(1, str(long_name), 1, 10, 10, None, None, None, None, 1, 0.0)])
        delegate = PhotoDelegate(64)
        option = QStyleOptionViewItem()
        option.font = QApplication.font()
        option.palette = QApplication.palette()
        option.rect = QRect(0, 0, 76, 98)

        def paint() -> QImage:
            img = QImage(76, 98, QImage.Format.Format_ARGB32_Premultiplied)
            img.fill(Qt.GlobalColor.transparent)
            p = QPainter(img)
            delegate.paint(p, option, model.index(0))
            p.end()
            return img

        loading = paint()
        assert model.data(model.index(0), Role.STATE) == "loading"
        qtbot.waitUntil(lambda: model.data(model.index(0), Role.STATE) == "broken", timeout=10000)
        broken = paint()
        paint()
        assert len(laid_out) == 1  # one name, laid out (and elided) once for three paints
        shown = laid_out[0]
        assert "…" in shown and shown.startswith("a-") and shown.endswith(".jpg")  # elided in the middle
        # The placeholder is drawn in both states; "unreadable" adds red text to the broken one.
        assert (
            loading.pixelColor(38, 50).alpha() > 0 and loading.pixelColor(38, 10).alpha() == 0
        )  # the box, below its top quarter
        reds = sum(1 for x in range(76) for y in range(20, 80) if (c := broken.pixelColor(x, y)).red() > c.green() + 40)
        assert reds > 0 and loading != broken
    finally:
        loader.shutdown()


def test_cancel_reaches_the_childs_flag_at_once():
    """Cancel sets the child's shared flag itself: it does not wait for the supervising thread's poll."""
    import ctypes

    from attalos_desktop.gui.workers import IndexWorker

    w = IndexWorker(None, [])
    w.cancel()  # before the child exists: run() forwards it when it makes the flag
    assert w.cancel_event.is_set()
    w._child_cancel = ctypes.c_byte(0)  # what run() makes (a shared byte)
    w.cancel()
    assert w._child_cancel.value == 1
