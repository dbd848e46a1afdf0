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
    QPointF,
    QRect,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QStaticText,
    QTransform,
)
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
        # Lookups are kept small for a 100k-photo library: the id -> row map is built when first asked
        # for (None until then), and only paths whose thumbnail was asked for map to their rows.
        self._by_id: dict[int, int] | None = None
        self._wanted: dict[str, list[int]] = {}
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
        known = self._id_map() if self._rows else {}
        new = []
        for r in rows:
            i = known.get(r.id)
            if i is None:
                new.append(r)
            else:
                self._rows[i] = r
                ix = self.index(i)
                self.dataChanged.emit(ix, ix)
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows.extend(new)
            self._scores.extend([None] * len(new))
            if self._by_id is not None:
                for i, r in enumerate(new, first):
                    self._by_id[r.id] = i
            self.endInsertRows()
            self.countChanged.emit(len(self._rows))
        return len(new)

    def clear(self) -> None:
        self.set_photos([])

    def _reindex(self) -> None:
        self._by_id = None
        self._wanted = {}

    def _id_map(self) -> dict[int, int]:
        if self._by_id is None:
            self._by_id = {r.id: i for i, r in enumerate(self._rows)}
        return self._by_id

    def photo_at(self, row: int) -> Any:
        return self._rows[row]

    def row_of(self, photo_id: int) -> int | None:
        return self._id_map().get(photo_id)

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
            path = str(r.path)
            pm = self.pixmap_for(path)
            rows = self._wanted.get(path) if pm is None else None
            if rows is not None and index.row() not in rows:
                rows.append(index.row())  # repainted when its thumbnail arrives
            return pm
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
            self._wanted.setdefault(path, [])  # its thumbnail is kept when it arrives
            self.loader.request(path, self.thumb_size)
        return None

    def set_thumb_size(self, size: int) -> None:
        if size == self.thumb_size:
            return
        self.thumb_size = size
        self._pixmaps.clear()
        self._broken.clear()
        self._wanted.clear()
        if self._rows:
            self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1))

    @Slot(str, int, QImage)
    def on_thumbnail(self, path: str, size: int, image: QImage) -> None:
        if size != self.thumb_size:
            return
        rows = self._wanted.pop(path, None)
        if rows is None:
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
        for i in self._wanted.pop(path, []):
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


# Looked up once: a PySide6 enum attribute costs microseconds, and paint() runs for every visible cell.
_SELECTED = QStyle.StateFlag.State_Selected.value
_HOVER = QStyle.StateFlag.State_MouseOver.value
_DECORATION = Qt.ItemDataRole.DecorationRole
_DISPLAY = Qt.ItemDataRole.DisplayRole
_STATE = Role.STATE
_SCORE = Role.SCORE


class PhotoDelegate(QStyledItemDelegate):
    """Paints a card: the thumbnail centred in a square, the file name, a score badge in results.

    The grid repaints every visible card whenever it is laid out again (each batch of photos an
    index run adds), so a card is cheap to paint: its file name is laid out once (a cached
    QStaticText) and the placeholder of a card without its thumbnail yet is one cached pixmap; a
    card is then a few drawPixmap/drawStaticText calls (about 3x less GUI-thread time than laying
    out and antialiasing them on every paint).
    """

    LABEL_H = 22
    PAD = 6
    NAMES_KEPT = 4000  # laid-out names (a few hundred bytes each)

    def __init__(self, thumb_size: int = 160, parent=None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size
        self._names: OrderedDict[tuple, QStaticText] = OrderedDict()
        self._placeholders: dict[tuple, QPixmap] = {}
        self._font_key: tuple[QFont, str] | None = None  # (font, font.key()): key() costs microseconds
        self._text_pen: tuple[int, QPen] | None = None  # (palette cache key, pen of its Text colour)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(self.thumb_size + 2 * self.PAD, self.thumb_size + self.LABEL_H + 2 * self.PAD)

    def warm_up(self, font: QFont, palette: QPalette) -> None:
        """Paint a placeholder card off screen once, at startup.

        The first card painted pays for loading the font's glyphs (about 0.5 ms per new file name
        measured here) and for the first placeholder; without this the first photos an index run
        adds cost the GUI thread ~15 ms more in one paint.
        """
        option = QStyleOptionViewItem()
        option.font = font
        option.palette = palette
        option.rect = QRect(0, 0, self.thumb_size + 2 * self.PAD, self.thumb_size + self.LABEL_H + 2 * self.PAD)
        image = QImage(option.rect.size(), QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        try:
            self.paint(painter, option, QModelIndex())
            sample = "".join(chr(c) for c in range(32, 127))  # the characters of most file names
            painter.drawStaticText(0, 0, self._name(sample, 10_000, font))
        finally:
            painter.end()
        self._names.clear()

    def _key_of(self, font: QFont) -> str:
        fk = self._font_key
        if fk is None or fk[0] != font:
            fk = self._font_key = (QFont(font), font.key())
        return fk[1]

    def _pen_for_text(self, pal: QPalette) -> QPen:
        tp = self._text_pen
        if tp is None or tp[0] != pal.cacheKey():
            tp = self._text_pen = (pal.cacheKey(), QPen(pal.color(QPalette.ColorRole.Text)))
        return tp[1]

    def _name(self, text: str, width: int, font: QFont) -> QStaticText:
        """``text`` elided in the middle to ``width`` pixels, laid out once per (text, width, font)."""
        key = (text, width, self._key_of(font))
        st = self._names.get(key)
        if st is not None:
            self._names.move_to_end(key)
            return st
        st = QStaticText(QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideMiddle, width))
        st.setTextFormat(Qt.TextFormat.PlainText)
        st.prepare(QTransform(), font)
        self._names[key] = st
        while len(self._names) > self.NAMES_KEPT:
            self._names.popitem(last=False)
        return st

    def _placeholder(self, w: int, h: int, broken: bool, font: QFont, dpr: float) -> QPixmap:
        """The grey rounded box a card shows until its thumbnail arrives ("unreadable" when broken)."""
        key = (w, h, broken, self._key_of(font) if broken else "", dpr)
        pm = self._placeholders.get(key)
        if pm is not None:
            return pm
        pm = QPixmap(max(1, round(w * dpr)), max(1, round(h * dpr)))
        pm.setDevicePixelRatio(dpr)
        pm.fill(Qt.GlobalColor.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(128, 128, 128, 50))
        path = QPainterPath()
        path.addRoundedRect(QRect(0, 0, w, h), 4, 4)
        p.drawPath(path)
        if broken:
            p.setFont(font)
            p.setPen(QColor(200, 80, 80))
            p.drawText(QRect(0, 0, w, h), Qt.AlignmentFlag.AlignCenter, "unreadable")
        p.end()
        if len(self._placeholders) > 16:  # thumbnail sizes or screens changed: start again
            self._placeholders.clear()
        self._placeholders[key] = pm
        return pm

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        rect = option.rect.adjusted(2, 2, -2, -2)
        pal = option.palette
        font = option.font
        state = option.state.value
        selected = bool(state & _SELECTED)
        hover = bool(state & _HOVER)
        if selected or hover:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            if selected:
                painter.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 2))
                bg = QColor(pal.color(QPalette.ColorRole.Highlight))
                bg.setAlpha(60)
                painter.setBrush(bg)
            else:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QColor(127, 127, 127, 40))
            painter.drawRoundedRect(rect, 6, 6)

        ts = self.thumb_size
        box = QRect(rect.x() + (rect.width() - ts) // 2, rect.y() + self.PAD - 2, ts, ts)
        pm = index.data(_DECORATION)
        if isinstance(pm, QPixmap) and not pm.isNull():
            scaled = pm
            if pm.width() > ts or pm.height() > ts:
                scaled = pm.scaled(
                    ts, ts, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
            # Sit the photo on the bottom of its square so the name stays close to it.
            x = box.x() + (ts - scaled.width()) // 2
            y = box.y() + (ts - scaled.height())
            image_rect = QRect(x, y, scaled.width(), scaled.height())
            painter.drawPixmap(x, y, scaled)
        else:
            image_rect = box.adjusted(0, ts // 4, 0, 0)
            broken = index.data(_STATE) == "broken"
            device = painter.device()
            dpr = device.devicePixelRatioF() if device is not None else 1.0
            painter.drawPixmap(
                image_rect.topLeft(), self._placeholder(image_rect.width(), image_rect.height(), broken, font, dpr)
            )

        score = index.data(_SCORE)
        if score is not None:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            badge = f"{float(score):.2f}"
            f = QFont(font)
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

        text_rect = QRect(rect.x() + 4, box.bottom() + 3, rect.width() - 8, self.LABEL_H - 2)
        name = self._name(str(index.data(_DISPLAY) or ""), text_rect.width(), font)
        size = name.size()
        painter.setFont(font)
        painter.setPen(self._pen_for_text(pal))
        painter.drawStaticText(
            QPointF(
                text_rect.x() + (text_rect.width() - size.width()) / 2,
                text_rect.y() + (text_rect.height() - size.height()) / 2,
            ),
            name,
        )
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
