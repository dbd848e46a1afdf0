"""The sidebar's views: All photos, one folder (a root) or Problems, and the page the window shows for each;
its Years and Places entries, which search (``choose_filter``).

The window's ``browse_key`` says which view is browsed; this controller reads the overview (roots, counts,
failures) into the sidebar, loads the view's photos into the grid (keeping the scroll position and the
selection over a reload), shows the empty state when there is nothing to browse, adds what an index run
finds as it arrives, and remembers the view across runs (a folder by its path). It acts on the window
through host.py's ``ViewsHost``, never by importing window.py.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from PySide6.QtCore import QObject, Slot

from attalos_desktop.gui.host import ViewsHost
from attalos_desktop.gui.queries import (
    FailuresRequest,
    Overview,
    OverviewRequest,
    PhotosRequest,
    PlaceQueryRequest,
    RemoveRootRequest,
)
from attalos_desktop.gui.sidebar import ALL, PROBLEMS, root_id_of, root_key

SIDEBAR_REFRESH_S = 1.0  # while indexing, the folder counts are re-read at most this often
_heap_frozen = False


def freeze_startup_heap() -> None:
    """Take what startup made (modules, widgets, the library, the first photo list) out of the GC's walks.

    A full (generation 2) collection visits every tracked object of the process while holding the
    GIL: after startup some 50k objects, 25-45 ms measured here (bench_gui_responsiveness --probe),
    and the allocations of an index run trigger one, typically as it ends. Frozen objects are still
    freed by reference counting; only reference cycles among them would outlive the process, so the
    garbage is collected first. Once per process (later windows, in tests, find it done).
    """
    global _heap_frozen
    if _heap_frozen:
        return
    _heap_frozen = True
    gc.collect()
    gc.freeze()


class ViewsController(QObject):
    def __init__(self, win: ViewsHost) -> None:
        super().__init__(win.window())
        self.win = win
        self.roots_known = False  # the first overview has answered
        self.last_overview = 0.0
        self._warmed = False

    # ---- the overview and the views ------------------------------------------------------------
    def refresh_overview(self, then: Any = None) -> None:
        """Re-read the roots, their counts and the failure count (on the query thread)."""
        self.last_overview = time.monotonic()

        def shown(ov: Overview) -> None:
            self.roots_known = True
            self.win.sidebar.set_roots(ov.roots, ov.failures, self.win.browse_key, ov.years, ov.places)
            self.update_empty_state()
            if then is not None:
                then()

        self.win.query.submit(OverviewRequest(), shown)

    def select_view(self, key: str, from_sidebar: bool = False) -> None:
        """Browse ALL, a root's key or PROBLEMS (leaving any search or similar results)."""
        win = self.win
        rid = root_id_of(key)
        if rid is not None and win.sidebar.root(rid) is None:
            key = ALL
        win.browse_key = key
        win.searcher.reset()
        if not from_sidebar:
            win.sidebar.show_key(key)
        if key == PROBLEMS:
            win.detail.show_nothing()
            win.stack.setCurrentWidget(win.problems_page)
            win.problems_page.show_loading()
            win.query.submit(FailuresRequest(), self._on_failures)
            return
        self.load_browse_photos()

    @Slot(str)
    def choose_filter(self, key: str) -> None:
        """A Years/Places entry was picked: search for it, as if its text were typed ("2019", "paris france").

        A place's text is first read back by the core (``PlaceQueryRequest``), so the search box holds words
        the core takes for exactly that place; the user sees and edits it like any search.
        """
        sidebar = self.win.sidebar
        year = sidebar.year_of(key)
        if year is not None:
            self._search_filter(key, str(year))
            return
        place = sidebar.place_of(key)
        if place is not None:
            self.win.query.submit(PlaceQueryRequest(place), lambda text: self._search_filter(key, text))

    def _search_filter(self, key: str, text: str) -> None:
        if self.win.sidebar.current_filter() != key:
            return  # the user has moved on meanwhile
        self.win.sidebar.set_query(key, text)
        self.win.searcher.search(text)

    def _on_failures(self, failures: list[Any]) -> None:
        self.win.problems_page.fill(failures)
        self._startup_done()
        self.win.problemsLoaded.emit()

    def browsed_root(self) -> Any:
        rid = root_id_of(self.win.browse_key)
        root = self.win.sidebar.root(rid) if rid is not None else None
        return root.id if root is not None else None

    def load_browse_photos(self) -> None:
        self.win.query.submit(PhotosRequest(self.browsed_root()), self._on_browse_photos)
        self.update_empty_state()

    def _on_browse_photos(self, rows: list[Any]) -> None:
        win = self.win
        if win.mode != "browse":
            return
        if not win.model.update_photos(rows):  # a reset: keep the scroll position and the selection
            selected = [r.id for r in win.selected_photos()]
            scroll = win.grid.verticalScrollBar().value()
            win.model.set_photos(rows)
            keep = [i for i in (win.model.row_of(pid) for pid in selected) if i is not None]
            if keep:
                win.select_rows(keep)
            else:
                win.on_selection_changed()  # a reset selects nothing and says nothing: clear the panel
            win.grid.verticalScrollBar().setValue(scroll)
        self.update_empty_state()
        self._startup_done()
        win.photosLoaded.emit()

    def _startup_done(self) -> None:
        """The first view is shown: prepare what the first index run would otherwise pay for."""
        if self._warmed:
            return
        self._warmed = True
        self.win.delegate.warm_up(self.win.grid.font(), self.win.grid.palette())
        freeze_startup_heap()

    def update_empty_state(self) -> None:
        win = self.win
        if win.browse_key == PROBLEMS and win.mode == "browse":
            return
        empty = self.roots_known and not win.sidebar.roots and not win.indexing and win.model.rowCount() == 0
        target = win.empty_page if empty and win.mode == "browse" else win.grid_page
        if win.stack.currentWidget() is not target:
            win.stack.setCurrentWidget(target)

    def is_empty_state(self) -> bool:
        return self.win.stack.currentWidget() is self.win.empty_page

    @Slot(object)
    def remove_root(self, root_id: Any) -> None:
        if self.win.indexing:
            return

        def removed(rid: Any) -> None:
            win = self.win
            self.refresh_overview(
                then=lambda: self.select_view(ALL if win.browse_key == root_key(rid) else win.browse_key)
            )

        self.win.query.submit(RemoveRootRequest(root_id), removed)

    # ---- an index run --------------------------------------------------------------------------
    @Slot(list)
    def on_index_photos(self, rows: list) -> None:
        """Photos an index run has just added: into the grid when they belong to the view browsed."""
        win = self.win
        if win.mode == "browse" and win.browse_key != PROBLEMS:
            rid = self.browsed_root()
            if rid is not None:
                rows = [r for r in rows if str(r.root_id) == str(rid)]
            if rows:
                win.model.append_photos(rows)
                if win.stack.currentWidget() is win.empty_page:
                    win.stack.setCurrentWidget(win.grid_page)
        if time.monotonic() - self.last_overview > SIDEBAR_REFRESH_S:
            self.refresh_overview()

    def index_finished(self) -> None:
        """An index run ended: new counts, and the view browsed read again."""
        self.refresh_overview()
        if self.win.mode == "browse":
            self.select_view(PROBLEMS) if self.win.browse_key == PROBLEMS else self.load_browse_photos()

    # ---- remembered across runs ----------------------------------------------------------------
    def remembered_key(self) -> str:
        """The view to save in the settings: a folder is remembered by its path (ids are the catalog's)."""
        key = self.win.browse_key
        rid = root_id_of(key)
        if rid is not None:
            root = self.win.sidebar.root(rid)
            key = f"root:{root.path}" if root is not None else ALL
        return key

    def restore(self) -> None:
        """Browse the view the settings remember (All photos when its folder is gone)."""
        key = self.win.settings.last_view or ALL
        if key.startswith("root:"):
            root = self.win.sidebar.root_by_path(key[5:])
            key = root_key(root.id) if root is not None else ALL
        elif key not in (ALL, PROBLEMS):
            key = ALL
        self.select_view(key)
