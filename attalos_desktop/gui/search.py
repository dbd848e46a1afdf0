"""Search as you type (debounced) and Find similar: what the grid shows instead of a browse view.

The window's ``mode`` is this controller's: "browse", "search" or "similar". Results replace the
grid's rows (with their scores) under the results bar; Esc or "Back to browsing" returns to the view.

A search's text may hold dates and places besides visual words ("cat paris 2019"): the core answers
with what it understood, shown as chips under the results line (a chip's × searches again without that
term), with its notes, and says why an empty answer is empty ("no photos from Paris, France in 2021").
"""

from __future__ import annotations

import html
import os
from typing import Any

from PySide6.QtCore import QObject, QTimer, Slot

from attalos_desktop.core.library import QueryError
from attalos_desktop.gui.host import SearchHost
from attalos_desktop.gui.queries import Results, SearchRequest, SimilarRequest, describe

SEARCH_DEBOUNCE_MS = 300
SEARCH_LIMIT = 200
SIMILAR_LIMIT = 100


def _photos(n: int) -> str:
    return f"{n:,} photo" if n == 1 else f"{n:,} photos"


def results_label(text: str, res: Results) -> str:
    """The results line of a search (HTML): how many, of what, in which order, and why none."""
    u = res.understood
    n = len(res.rows)
    back = " Esc returns to browsing."
    if u is None or not u.filtered:
        return f"{_photos(n)} ranked for “{html.escape(text)}” — best first.{back}"
    if not res.rows:
        why = res.why_empty or "nothing matched"
        return f"No results: {html.escape(why)}.{back}"
    where_when = html.escape(u.where_and_when())
    matching = res.matching or 0
    if u.visual_text:
        more = f" (the best {n:,} of {matching:,})" if matching > n else ""
        return f"{_photos(n)} {where_when} ranked for “{html.escape(u.visual_text)}” — best first{more}.{back}"
    more = f" (the newest {n:,} of {matching:,})" if matching > n else ""
    return f"{_photos(n)} {where_when}, newest first{more}.{back}"


class SearchController(QObject):
    def __init__(self, win: SearchHost) -> None:
        super().__init__(win.window())
        self.win = win
        self.mode = "browse"
        self.text = ""  # the search shown (or asked for)
        self.understood: Any = None  # what the core understood of the search shown (UnderstoodQuery)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(SEARCH_DEBOUNCE_MS)
        self.timer.timeout.connect(self.run_now)

    @property
    def pending(self) -> bool:
        """Typing has paused for less than the debounce: a search is about to start."""
        return self.timer.isActive()

    def reset(self) -> None:
        """Back to browsing (the window shows its view again)."""
        self.mode = "browse"
        self.text = ""
        self.understood = None
        self.timer.stop()
        self.win.search_box.clear()
        self.win.results_bar.show_understood(None)
        self.win.results_bar.setVisible(False)

    # ---- search --------------------------------------------------------------------------------
    @Slot(str)
    def on_edited(self, text: str) -> None:
        if text.strip():
            self.timer.start()
        else:
            self.timer.stop()
            self.clear()

    def search(self, text: str) -> None:
        self.win.search_box.setText(text)
        self.run_now()

    @Slot()
    def run_now(self) -> None:
        self.timer.stop()
        text = self.win.search_box.text().strip()
        if not text:
            self.clear()
            return
        if text == self.text and self.mode == "search":
            return
        self.mode = "search"
        self.text = text
        self.understood = None  # the chips shown belong to the previous text: their × would lose this one
        self.win.results_bar.show_understood(None)
        self.win.results_bar.say(f"Searching for “{html.escape(text)}”…")
        self.win.sidebar.show_search(text)
        self.win.stack.setCurrentWidget(self.win.grid_page)
        self.win.query.submit(SearchRequest(text, SEARCH_LIMIT), self._on_results, self._on_failed)

    def _on_results(self, res: Results) -> None:
        if self.mode == "search":
            self.understood = res.understood
            self.win.show_results(res, results_label(self.text, res))
            self.win.results_bar.show_understood(res.understood)
            self.win.searchFinished.emit(self.text)

    @Slot(int)
    def remove_term(self, index: int) -> None:
        """A chip's ×: search again without that term (back to browsing when nothing is left)."""
        u = self.understood
        if self.mode != "search" or u is None or not 0 <= index < len(u.terms):
            return
        rest = u.without(index).strip()
        if rest:
            self.search(rest)
        else:
            self.clear()

    def _on_failed(self, exc: BaseException, tb: str) -> None:
        if self.mode != "search":
            return
        self.win.model.set_photos([])
        self.win.results_bar.say(f"No results for “{html.escape(self.text)}”: {html.escape(str(exc))}")
        if not isinstance(exc, QueryError):  # QueryError (empty library, no usable word) is an answer
            self.win.show_error(SearchRequest.title, describe(exc), tb)
        self.win.searchFinished.emit(self.text)

    @Slot()
    def clear(self) -> None:
        self.timer.stop()
        if self.win.search_box.text():
            self.win.search_box.clear()
        if self.mode != "browse":
            self.win.select_view(self.win.browse_key)

    @Slot()
    def on_escape(self) -> None:
        if self.mode != "browse" or self.win.search_box.text():
            self.clear()

    # ---- similar -------------------------------------------------------------------------------
    def find_similar(self, row: Any) -> None:
        self.timer.stop()
        self.win.search_box.clear()
        self.mode = "similar"
        self.text = ""
        self.understood = None
        self.win.results_bar.show_understood(None)
        name = html.escape(os.path.basename(str(row.path)))
        self.win.results_bar.say(f"Looking for photos like {name}…")

        def answered(res: Results) -> None:
            if self.mode == "similar":
                self.win.show_results(res, f"{len(res.rows):,} photos similar to {name}. Esc returns to browsing.")
                self.win.similarFinished.emit(row.id)

        self.win.query.submit(SimilarRequest(row.id, SIMILAR_LIMIT), answered)
