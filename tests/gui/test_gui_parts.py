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
        client.submit(_Fails(), lambda _r: got.setdefault("unexpected", True), lambda exc, tb: got.setdefault("error", (exc, tb)))
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
        assert len(unhandled) == 1 and unhandled[0][0] == "Test request failed" and isinstance(unhandled[0][1], QueryError)
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
