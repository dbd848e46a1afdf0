"""The sidebar: All photos, one entry per folder (root) with its count, and Problems.

Each entry carries its view key (``Role.VIEW_KEY``): ``ALL``, ``root_key(root.id)`` or ``PROBLEMS``.
Choosing an entry emits ``viewChosen(key)``; the window decides what to show.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal, Slot
from PySide6.QtWidgets import QMenu, QTreeWidget, QTreeWidgetItem

from attalos_desktop.gui.roles import Role

ALL = "all"
PROBLEMS = "problems"
_ROOT = "root:"


def root_key(root_id: Any) -> str:
    return f"{_ROOT}{root_id}"


def root_id_of(key: str) -> str | None:
    """The root id in a folder's view key (as text), None for the other views."""
    return key[len(_ROOT) :] if key.startswith(_ROOT) else None


class Sidebar(QTreeWidget):
    viewChosen = Signal(str)  # a view key, when the user picks an entry
    removeRootRequested = Signal(object)  # a root id, from the entry's context menu

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(10)
        self.setMinimumWidth(180)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.itemSelectionChanged.connect(self._on_selection_changed)
        self.customContextMenuRequested.connect(self._on_context_menu)
        self.roots: list[Any] = []
        self.failure_count = 0
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

    def set_roots(self, roots: list[Any], failure_count: int, current: str) -> None:
        """Rebuild the entries (only when something changed) and keep ``current`` selected."""
        self.roots = list(roots)
        self.failure_count = int(failure_count)
        shown = (tuple((str(r.id), str(r.path), int(r.photo_count)) for r in self.roots), self.failure_count)
        if shown == self._shown:
            return  # nothing to redraw: a rebuild costs a relayout and a repaint
        self._shown = shown
        self.blockSignals(True)
        try:
            self.clear()
            self._heading("LIBRARY")
            self._entry(f"All photos  ({self.total:,})", ALL)
            if self.roots:
                self._heading("FOLDERS")
                for r in self.roots:
                    name = os.path.basename(str(r.path).rstrip("/\\")) or str(r.path)
                    it = self._entry(f"{name}  ({int(r.photo_count):,})", root_key(r.id))
                    it.setToolTip(0, str(r.path))
            spacer = QTreeWidgetItem([""])
            spacer.setFlags(Qt.ItemFlag.NoItemFlags)
            self.addTopLevelItem(spacer)
            self._entry(f"Problems  ({self.failure_count:,})" if self.failure_count else "Problems", PROBLEMS)
            self._select(current)
        finally:
            self.blockSignals(False)

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

    @Slot()
    def _on_selection_changed(self) -> None:
        items = self.selectedItems()
        key = items[0].data(0, Role.VIEW_KEY) if items else None
        if key:
            self.viewChosen.emit(str(key))

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
