"""The sidebar: All photos, one entry per folder (root) with its count, the Years and Places the photos
were taken in, and Problems.

A view entry carries its view key (``Role.VIEW_KEY``): ``ALL``, ``root_key(root.id)`` or ``PROBLEMS``;
choosing one emits ``viewChosen(key)`` and the window decides what to show. A Years or Places entry is a
search, not a view: it carries a filter key (``Role.FILTER_KEY``: ``year_key(2019)``, ``place_key(place)``)
and the search text it runs (``Role.QUERY``); choosing one emits ``filterChosen(key)`` and the window puts
that text in the search box. Places are countries with their cities nested under them.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal, Slot
from PySide6.QtWidgets import QMenu, QTreeWidget, QTreeWidgetItem, QTreeWidgetItemIterator

from attalos_desktop.gui.roles import Role

ALL = "all"
PROBLEMS = "problems"
_ROOT = "root:"
_YEAR = "year:"
_PLACE = "place:"
EXPAND_PLACES_UP_TO = 16  # countries start expanded when the Places section has at most this many entries


def root_key(root_id: Any) -> str:
    return f"{_ROOT}{root_id}"


def root_id_of(key: str) -> str | None:
    """The root id in a folder's view key (as text), None for the other views."""
    return key[len(_ROOT) :] if key.startswith(_ROOT) else None


def year_key(year: int) -> str:
    return f"{_YEAR}{int(year)}"


def place_key(place: Any) -> str:
    """A country by its code ("place:FR"), a city by its code and name ("place:FR/Paris")."""
    code = str(place.country_code)
    return f"{_PLACE}{code}" if place.kind == "country" else f"{_PLACE}{code}/{place.name}"


def place_query(place: Any) -> str:
    """The search text that names a place: a country's name; a city with its country ("paris france")."""
    return str(place.name) if place.kind == "country" else f"{place.name} {place.country}"


def _same_query(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


class Sidebar(QTreeWidget):
    viewChosen = Signal(str)  # a view key, when the user picks an entry
    filterChosen = Signal(str)  # a Years/Places filter key, when the user picks one
    removeRootRequested = Signal(object)  # a root id, from the entry's context menu

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setHeaderHidden(True)
        self.setRootIsDecorated(True)
        self.setIndentation(10)
        self.setMinimumWidth(180)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.itemSelectionChanged.connect(self._on_selection_changed)
        self.customContextMenuRequested.connect(self._on_context_menu)
        self.itemExpanded.connect(lambda it: self._remember_expanded(it, True))
        self.itemCollapsed.connect(lambda it: self._remember_expanded(it, False))
        self.roots: list[Any] = []
        self.failure_count = 0
        self.years: list[tuple[int, int]] = []
        self.places: list[Any] = []  # PlaceCount: countries, each with its cities
        self._place_of: dict[str, Any] = {}  # filter key -> PlaceName
        self._expanded: dict[str, bool] = {}  # a country's key -> the user's choice
        self.menu_actions: list[Any] = []  # actions every context menu starts with (add, rescan)
        self.context_menu: QMenu | None = None
        self._shown: tuple | None = None

    # ---- content -----------------------------------------------------------------------------
    def root(self, root_id: Any) -> Any:
        return next((r for r in self.roots if str(r.id) == str(root_id)), None)

    def root_by_path(self, path: str) -> Any:
        return next((r for r in self.roots if str(r.path) == str(path)), None)

    @property
    def total(self) -> int:
        return sum(int(r.photo_count) for r in self.roots)

    def set_roots(
        self,
        roots: list[Any],
        failure_count: int,
        current: str,
        years: list[tuple[int, int]] | None = None,
        places: list[Any] | None = None,
    ) -> None:
        """Rebuild the entries (only when something changed) and keep ``current`` selected (or the Years or
        Places entry that was). ``years``/``places`` None keep the ones shown."""
        self.roots = list(roots)
        self.failure_count = int(failure_count)
        if years is not None:
            self.years = [(int(y), int(n)) for y, n in years]
        if places is not None:
            self.places = list(places)
        shown = (
            tuple((str(r.id), str(r.path), int(r.photo_count)) for r in self.roots),
            self.failure_count,
            tuple(self.years),
            tuple(
                (place_key(c.place), int(c.count), tuple((place_key(t.place), int(t.count)) for t in c.cities))
                for c in self.places
            ),
        )
        if shown == self._shown:
            return  # nothing to redraw: a rebuild costs a relayout and a repaint
        self._shown = shown
        chosen = self.current_filter()
        queries = self._queries()  # texts the core has already read back
        self.blockSignals(True)
        try:
            self.clear()
            self._place_of = {}
            self._heading("LIBRARY")
            self._entry(f"All photos  ({self.total:,})", ALL)
            if self.roots:
                self._heading("FOLDERS")
                for r in self.roots:
                    name = os.path.basename(str(r.path).rstrip("/\\")) or str(r.path)
                    it = self._entry(f"{name}  ({int(r.photo_count):,})", root_key(r.id))
                    it.setToolTip(0, str(r.path))
            if self.years:
                self._heading("YEARS")
                for year, n in self.years:
                    it = self._filter_entry(f"{year}  ({n:,})", year_key(year), str(year))
                    it.setToolTip(0, f"Photos taken in {year}")
                    self.addTopLevelItem(it)
            if self.places:
                self._heading("PLACES")
                self._place_entries(queries)
            spacer = QTreeWidgetItem([""])
            spacer.setFlags(Qt.ItemFlag.NoItemFlags)
            self.addTopLevelItem(spacer)
            self._entry(f"Problems  ({self.failure_count:,})" if self.failure_count else "Problems", PROBLEMS)
            it = self.item_for_filter(chosen) if chosen else None
            if it is not None:
                self.setCurrentItem(it)
            else:
                self._select(current)
        finally:
            self.blockSignals(False)

    def _place_entries(self, queries: dict[str, str]) -> None:
        """Countries with their cities nested; expanded as the user left them (all when they are few)."""
        entries = sum(1 + len(c.cities) for c in self.places)
        for c in self.places:
            key = place_key(c.place)
            top = self._filter_entry(f"{c.place.name}  ({int(c.count):,})", key, queries.get(key, place_query(c.place)))
            top.setToolTip(0, f"Photos taken in {c.place.label}")
            self._place_of[key] = c.place
            for city in c.cities:
                ck = place_key(city.place)
                child = self._filter_entry(
                    f"{city.place.name}  ({int(city.count):,})", ck, queries.get(ck, place_query(city.place))
                )
                child.setToolTip(0, f"Photos taken in {city.place.label}")
                self._place_of[ck] = city.place
                top.addChild(child)
            self.addTopLevelItem(top)
            top.setExpanded(self._expanded.get(key, entries <= EXPAND_PLACES_UP_TO))

    def _remember_expanded(self, item: QTreeWidgetItem, on: bool) -> None:
        key = item.data(0, Role.FILTER_KEY)
        if key:
            self._expanded[str(key)] = on

    def _heading(self, text: str) -> None:
        item = QTreeWidgetItem([text])
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        f = item.font(0)
        f.setBold(True)
        f.setPointSizeF(max(7.0, f.pointSizeF() * 0.85))
        item.setFont(0, f)
        item.setForeground(0, Qt.GlobalColor.gray)
        self.addTopLevelItem(item)

    def _entry(self, text: str, key: str) -> QTreeWidgetItem:
        it = QTreeWidgetItem(["  " + text])
        it.setData(0, Role.VIEW_KEY, key)
        self.addTopLevelItem(it)
        return it

    @staticmethod
    def _filter_entry(text: str, key: str, query: str) -> QTreeWidgetItem:
        it = QTreeWidgetItem(["  " + text])
        it.setData(0, Role.FILTER_KEY, key)
        it.setData(0, Role.QUERY, query)
        return it

    # ---- reading and choosing ------------------------------------------------------------------
    def entries(self) -> dict[str, str]:
        """{view key: label}: what a user reads there."""
        out = {}
        for i in range(self.topLevelItemCount()):
            it = self.topLevelItem(i)
            key = it.data(0, Role.VIEW_KEY)
            if key:
                out[str(key)] = it.text(0).strip()
        return out

    def item_for(self, key: str) -> QTreeWidgetItem | None:
        for i in range(self.topLevelItemCount()):
            it = self.topLevelItem(i)
            if it.data(0, Role.VIEW_KEY) == key:
                return it
        return None

    def _select(self, key: str) -> None:
        it = self.item_for(key)
        if it is not None:
            self.setCurrentItem(it)

    def show_key(self, key: str) -> None:
        """Highlight ``key``'s entry without emitting ``viewChosen``."""
        self.blockSignals(True)
        try:
            self._select(key)
        finally:
            self.blockSignals(False)

    def choose(self, key: str) -> bool:
        """Pick ``key``'s entry as a click would (emits ``viewChosen``)."""
        it = self.item_for(key)
        if it is None:
            return False
        self.setCurrentItem(it)
        return True

    # ---- the Years and Places entries -------------------------------------------------------------
    def _filter_items(self) -> list[QTreeWidgetItem]:
        out = []
        it = QTreeWidgetItemIterator(self)
        while it.value() is not None:
            if it.value().data(0, Role.FILTER_KEY):
                out.append(it.value())
            it += 1
        return out

    def filters(self) -> dict[str, str]:
        """{filter key: label} of the Years and Places entries, cities included (what a user reads)."""
        return {str(it.data(0, Role.FILTER_KEY)): it.text(0).strip() for it in self._filter_items()}

    def _queries(self) -> dict[str, str]:
        return {str(it.data(0, Role.FILTER_KEY)): str(it.data(0, Role.QUERY)) for it in self._filter_items()}

    def item_for_filter(self, key: str) -> QTreeWidgetItem | None:
        return next((it for it in self._filter_items() if it.data(0, Role.FILTER_KEY) == key), None)

    def choose_filter(self, key: str) -> bool:
        """Pick a Years/Places entry as a click would (emits ``filterChosen``)."""
        it = self.item_for_filter(key)
        if it is None:
            return False
        self.setCurrentItem(it)
        return True

    def current_filter(self) -> str | None:
        """The Years/Places entry selected, if one is."""
        items = self.selectedItems()
        key = items[0].data(0, Role.FILTER_KEY) if items else None
        return str(key) if key else None

    def year_of(self, key: str) -> int | None:
        return int(key[len(_YEAR) :]) if key.startswith(_YEAR) and key[len(_YEAR) :].isdigit() else None

    def place_of(self, key: str) -> Any:
        """The PlaceName of a Places entry's key (None for any other key)."""
        return self._place_of.get(key)

    def set_query(self, key: str, text: str) -> None:
        """The search text an entry runs, once the core has read it back as that place."""
        it = self.item_for_filter(key)
        if it is not None:
            it.setData(0, Role.QUERY, text)

    def show_search(self, text: str) -> None:
        """A search is shown: highlight the Years/Places entry that runs exactly it (typed or clicked), and
        no longer one that does not (without emitting anything)."""
        match = next((it for it in self._filter_items() if _same_query(str(it.data(0, Role.QUERY)), text)), None)
        self.blockSignals(True)
        try:
            if match is not None:
                self.setCurrentItem(match)
            elif self.current_filter() is not None:
                self.clearSelection()
        finally:
            self.blockSignals(False)

    @Slot()
    def _on_selection_changed(self) -> None:
        items = self.selectedItems()
        if not items:
            return
        key = items[0].data(0, Role.VIEW_KEY)
        if key:
            self.viewChosen.emit(str(key))
            return
        key = items[0].data(0, Role.FILTER_KEY)
        if key:
            self.filterChosen.emit(str(key))

    # ---- context menu ----------------------------------------------------------------------------
    def build_context_menu(self, key: str | None) -> QMenu:
        menu = QMenu(self)
        for a in self.menu_actions:
            menu.addAction(a)
        rid = root_id_of(key) if key else None
        root = self.root(rid) if rid is not None else None
        if root is not None:
            act = menu.addAction("Remove folder from library")
            act.triggered.connect(lambda _checked=False, r=root.id: self.removeRootRequested.emit(r))
        return menu

    @Slot(QPoint)
    def _on_context_menu(self, pos: QPoint) -> None:
        it = self.itemAt(pos)
        key = it.data(0, Role.VIEW_KEY) if it is not None else None
        self.context_menu = self.build_context_menu(str(key) if key else None)
        self.context_menu.popup(self.viewport().mapToGlobal(pos))
