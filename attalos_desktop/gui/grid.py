"""The thumbnail grid: a virtualised list model, its delegate and its view.

Only the cells Qt paints ask for a thumbnail (``data(DecorationRole)``), so a 10,000-photo library
costs the pixmaps of one screenful plus a bounded LRU, and scrolling never waits for a decode: a
cell without its thumbnail yet paints a placeholder and is repainted when the loader delivers.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from attalos_desktop.gui.workers import ThumbnailLoader

from attalos_desktop.gui.roles import Role


class PhotoGridModel(QAbstractListModel):
    """Rows are PhotoRow objects (optionally with a score, for search and similar results)."""

    countChanged = Signal(int)

    def __init__(self, loader: ThumbnailLoader, thumb_size: int = 160, cache_items: int = 1500, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.thumb_size = thumb_size
        self._rows: list[Any] = []
        self._scores: list[float | None] = []
        self._by_id: dict[int, int] = {}
        self._by_path: dict[str, list[int]] = {}
        self._pixmaps: OrderedDict[str, QPixmap] = OrderedDict()
        self._broken: dict[str, str] = {}
        self._cache_items = cache_items
        loader.signals.loaded.connect(self.on_thumbnail)
        loader.signals.failed.connect(self.on_thumbnail_failed)

    # ---- content -------------------------------------------------------------------------
    def set_photos(self, rows: list[Any], scores: list[float] | None = None) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self._scores = list(scores) if scores is not None else [None] * len(self._rows)
        self._reindex()
        self.endResetModel()
        self.countChanged.emit(len(self._rows))

    def update_photos(self, rows: list[Any]) -> bool:
        """Show ``rows`` (no scores) without a reset when the current rows are a prefix of them.

        A reset would lose the scroll position and the selection; after an index run the reloaded
        list usually extends what the grid already shows. Returns False when a reset was needed.
        """
        n = len(self._rows)
        if self.has_scores() or len(rows) < n or any(a.id != b.id for a, b in zip(self._rows, rows)):
            self.set_photos(rows)
            return False
        changed = [i for i in range(n) if self._rows[i] != rows[i]]
        for i in changed:
            self._rows[i] = rows[i]
            ix = self.index(i)
            self.dataChanged.emit(ix, ix)
        if len(rows) > n:
            self.append_photos(rows[n:])
        return True

    def append_photos(self, rows: list[Any]) -> int:
        """Add photos that are not shown yet; photos already shown are updated in place."""
        new = []
        for r in rows:
            i = self._by_id.get(r.id)
            if i is None:
                new.append(r)
            else:
                self._rows[i] = r
                ix = self.index(i)
                self.dataChanged.emit(ix, ix)
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for r in new:
                self._rows.append(r)
                self._scores.append(None)
                self._by_id[r.id] = len(self._rows) - 1
                self._by_path.setdefault(str(r.path), []).append(len(self._rows) - 1)
            self.endInsertRows()
            self.countChanged.emit(len(self._rows))
        return len(new)

    def clear(self) -> None:
        self.set_photos([])

    def _reindex(self) -> None:
        self._by_id = {r.id: i for i, r in enumerate(self._rows)}
        self._by_path = {}
        for i, r in enumerate(self._rows):
            self._by_path.setdefault(str(r.path), []).append(i)

    def photo_at(self, row: int) -> Any:
        return self._rows[row]

    def row_of(self, photo_id: int) -> int | None:
        return self._by_id.get(photo_id)

    def photos(self) -> list[Any]:
        return list(self._rows)

    def has_scores(self) -> bool:
        return any(s is not None for s in self._scores)

    # ---- Qt model API --------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(str(r.path))
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pixmap_for(str(r.path))
        if role == Qt.ItemDataRole.ToolTipRole:
            s = self._scores[index.row()]
            tip = str(r.path)
            if s is not None:
                tip += f"\nscore {s:.3f}"
            return tip
        if role == Role.PHOTO_ID:
            return r.id
        if role == Role.PATH:
            return str(r.path)
        if role == Role.SCORE:
            return self._scores[index.row()]
        if role == Role.ROW:
            return r
        if role == Role.STATE:
            p = str(r.path)
            if p in self._pixmaps:
                return "ready"
            return "broken" if p in self._broken else "loading"
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    # ---- thumbnails ----------------------------------------------------------------------
    def pixmap_for(self, path: str) -> QPixmap | None:
        pm = self._pixmaps.get(path)
        if pm is not None:
            self._pixmaps.move_to_end(path)
            return pm
        if path not in self._broken:
            self.loader.request(path, self.thumb_size)
        return None

    def set_thumb_size(self, size: int) -> None:
        if size == self.thumb_size:
            return
        self.thumb_size = size
        self._pixmaps.clear()
        self._broken.clear()
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1))

    @Slot(str, int, QImage)
    def on_thumbnail(self, path: str, size: int, image: QImage) -> None:
        if size != self.thumb_size:
            return
        rows = self._by_path.get(path)
        if not rows:
            return
        self._pixmaps[path] = QPixmap.fromImage(image)
        while len(self._pixmaps) > self._cache_items:
            self._pixmaps.popitem(last=False)
        for i in rows:
            ix = self.index(i)
            self.dataChanged.emit(ix, ix, [Qt.ItemDataRole.DecorationRole])

    @Slot(str, int, str)
    def on_thumbnail_failed(self, path: str, size: int, reason: str) -> None:
        if size != self.thumb_size:
            return
        self._broken[path] = reason
        for i in self._by_path.get(path, []):
            ix = self.index(i)
            self.dataChanged.emit(ix, ix, [Qt.ItemDataRole.DecorationRole])

    def thumbnails_ready(self, rows: range) -> bool:
        """Whether the given rows all have their thumbnail (or a known failure)."""
        for i in rows:
            if 0 <= i < len(self._rows):
                p = str(self._rows[i].path)
                if p not in self._pixmaps and p not in self._broken:
                    return False
        return True


class PhotoDelegate(QStyledItemDelegate):
    """Paints a card: the thumbnail centred in a square, the file name, a score badge in results."""

    LABEL_H = 22
    PAD = 6

    def __init__(self, thumb_size: int = 160, parent=None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(self.thumb_size + 2 * self.PAD, self.thumb_size + self.LABEL_H + 2 * self.PAD)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect = option.rect.adjusted(2, 2, -2, -2)
        pal = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hover = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if selected:
            painter.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 2))
            bg = QColor(pal.color(QPalette.ColorRole.Highlight))
            bg.setAlpha(60)
            painter.setBrush(bg)
            painter.drawRoundedRect(rect, 6, 6)
        elif hover:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(127, 127, 127, 40))
            painter.drawRoundedRect(rect, 6, 6)

        ts = self.thumb_size
        box = QRect(rect.x() + (rect.width() - ts) // 2, rect.y() + self.PAD - 2, ts, ts)
        pm = index.data(Qt.ItemDataRole.DecorationRole)
        image_rect = box
        if isinstance(pm, QPixmap) and not pm.isNull():
            scaled = pm
            if pm.width() > ts or pm.height() > ts:
                scaled = pm.scaled(ts, ts, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            # Sit the photo on the bottom of its square so the name stays close to it.
            x = box.x() + (ts - scaled.width()) // 2
            y = box.y() + (ts - scaled.height())
            image_rect = QRect(x, y, scaled.width(), scaled.height())
            painter.drawPixmap(x, y, scaled)
        else:
            state = index.data(Role.STATE)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(128, 128, 128, 50))
            inner = box.adjusted(0, ts // 4, 0, 0)
            image_rect = inner
            path = QPainterPath()
            path.addRoundedRect(inner, 4, 4)
            painter.drawPath(path)
            if state == "broken":
                painter.setPen(QColor(200, 80, 80))
                painter.drawText(inner, Qt.AlignmentFlag.AlignCenter, "unreadable")

        score = index.data(Role.SCORE)
        if score is not None:
            badge = f"{float(score):.2f}"
            f = QFont(option.font)
            f.setPointSizeF(max(6.0, f.pointSizeF() * 0.8))
            painter.setFont(f)
            fm = painter.fontMetrics()
            w = fm.horizontalAdvance(badge) + 10
            brect = QRect(image_rect.right() - w - 3, image_rect.y() + 4, w, fm.height() + 2)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(20, 20, 20, 170))
            painter.drawRoundedRect(brect, 4, 4)
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(brect, Qt.AlignmentFlag.AlignCenter, badge)
            painter.setFont(option.font)

        text_rect = QRect(rect.x() + 4, box.bottom() + 3, rect.width() - 8, self.LABEL_H - 2)
        painter.setPen(pal.color(QPalette.ColorRole.Text))
        name = painter.fontMetrics().elidedText(str(index.data(Qt.ItemDataRole.DisplayRole) or ""), Qt.TextElideMode.ElideMiddle, text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, name)
        painter.restore()


class PhotoGridView(QListView):
    """Icon-mode list view tuned for big libraries (uniform sizes, batched layout, pixel scrolling)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSpacing(4)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(30)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setMouseTracking(True)
        self.setDragEnabled(False)
        self.setObjectName("photoGrid")

    def visible_rows(self) -> range:
        """Rows whose cells intersect the viewport (for readiness checks and prefetch)."""
        model = self.model()
        n = model.rowCount() if model is not None else 0
        if n == 0:
            return range(0)
        vp = self.viewport().rect()
        first = self.indexAt(vp.topLeft() + QPoint(self.spacing() + 2, self.spacing() + 2))
        start = first.row() if first.isValid() else 0
        while start > 0 and self.visualRect(model.index(start - 1, 0)).intersects(vp):
            start -= 1
        while start < n and not self.visualRect(model.index(start, 0)).intersects(vp):
            start += 1
            if self.visualRect(model.index(start - 1, 0)).top() > vp.bottom():
                return range(0)
        end = start
        while end < n and self.visualRect(model.index(end, 0)).top() <= vp.bottom():
            end += 1
        return range(start, end)
