"""The detail panel: a larger preview, the photo's metadata, its user tags and the model's suggestions."""

from __future__ import annotations

import datetime as _dt
import html
import os
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPalette, QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from attalos_desktop.gui.queries import Detail
from attalos_desktop.gui.workers import ThumbnailLoader

PREVIEW_SIZE = 512
DATE_TIPS = {
    "exif": "The date the camera recorded.",
    "file": "No date was recorded in the photo: this is its file's date, which copying or editing changes.",
    "unknown": "The photo records a date that cannot be right; it is left out of date searches.",
}

USER_TAG_STYLE = "background-color:#2f6fd6; color:#ffffff; font-weight:600;"
SUGGESTION_STYLE = ""  # the palette's text colour, in italics: suggestions, not facts


def human_size(n: int | None) -> str:
    if n is None:
        return "—"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _clock(t: Any) -> str | None:
    """A catalog or file time as "2019-06-01 10:00" (ISO text, a datetime or seconds since the epoch)."""
    if isinstance(t, _dt.datetime):
        return t.strftime("%Y-%m-%d %H:%M")
    if isinstance(t, (int, float)):
        try:
            return _dt.datetime.fromtimestamp(float(t)).strftime("%Y-%m-%d %H:%M")
        except (OverflowError, OSError, ValueError):
            return None
    try:
        return _dt.datetime.fromisoformat(str(t)).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return str(t).replace("T", " ")


def format_date(taken: Any, mtime: Any = None, source: str | None = None) -> str:
    """When the photo was taken, saying where the date comes from.

    ``source`` is the catalog's: "exif" (the camera's date), "file" (no date recorded, so the file's time,
    which a copy or an edit changes: marked), "unknown" (a recorded date that cannot be right: never
    guessed). A row from before sources were kept (None) shows its date, else the file's time, marked.
    """
    if source == "unknown":
        return "unknown"
    if taken:
        when = _clock(taken) or "—"
        return f"{when} (file date)" if source == "file" else when
    if mtime and source is None:
        when = _clock(mtime)
        return f"{when} (file date)" if when else "—"
    return "—"


def format_gps(gps: Any) -> str | None:
    if not gps:
        return None
    try:
        lat, lon = float(gps[0]), float(gps[1])
    except (TypeError, ValueError, IndexError):
        return None
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.5f}° {ns}, {abs(lon):.5f}° {ew}"


def user_tags_html(tags: list[str]) -> str:
    """The user's tags as chips, each with a remove link (``remove:<tag>``)."""
    if not tags:
        return "<span style='color:#888888'>No tags yet</span>"
    from urllib.parse import quote

    return " ".join(
        f"<span style='{USER_TAG_STYLE}'>&nbsp;{html.escape(t)}&nbsp;"
        f"<a href='remove:{quote(t)}' style='color:#dce6f7; text-decoration:none'>×</a>&nbsp;</span>"
        for t in tags
    )


PERSONAL_BADGE = (
    "<span style='background-color:#7b52c7; color:#ffffff; font-size:8pt; font-weight:600'>&nbsp;yours&nbsp;</span>"
)
PERSONAL_TIP = "Words marked “yours” are suggested from your tags on similar photos."
PLACE_BADGE = (
    "<span style='background-color:#2e8b57; color:#ffffff; font-size:8pt; font-weight:600'>&nbsp;place&nbsp;</span>"
)


def suggestions_html(suggestions: list[Any], dark: bool = False) -> str:
    """The model's and the personal suggestions in one ranked list, on one score scale.

    A personal word (``source == "personal"``: votes of the photo's nearest user-tagged photos)
    wears a "yours" badge and a violet bar; the photo's town or country (``source == "place"``, when the
    user asked for them) a "place" badge and no bar.
    """
    if not suggestions:
        return "<span style='color:#888888'>No suggestions</span>"
    rows = []
    for s in suggestions:
        pct = max(0.0, min(1.0, float(s.score)))
        bar = int(round(pct * 60))
        source = getattr(s, "source", "model")
        if source == "place":  # a fact from the GPS position, not a score: no bar
            rows.append(
                "<tr>"
                f"<td style='{SUGGESTION_STYLE} padding-right:8px'><i>{html.escape(s.tag)}</i> {PLACE_BADGE}</td>"
                "<td colspan='2' style='color:#8a8a8a'>from GPS</td>"
                "</tr>"
            )
            continue
        personal = source == "personal"
        badge = f" {PERSONAL_BADGE}" if personal else ""
        colour = "#9b7be0" if personal else "#5b8fd6"
        rows.append(
            "<tr>"
            f"<td style='{SUGGESTION_STYLE} padding-right:8px'><i>{html.escape(s.tag)}</i>{badge}</td>"
            f"<td><table cellspacing='0' cellpadding='0'><tr>"
            f"<td width='{max(bar, 1)}' style='background-color:{colour}'>&nbsp;</td>"
            f"<td width='{60 - bar + 1}' style='background-color:{'#3c3c3c' if dark else '#e4e4e4'}'>&nbsp;</td></tr></table></td>"
            f"<td style='color:#8a8a8a; padding-left:6px'>{pct * 100:.0f}%</td>"
            "</tr>"
        )
    return "<table cellspacing='2'>" + "".join(rows) + "</table>"


class DetailPanel(QScrollArea):
    """Shows one photo. Data arrives asynchronously (``show_detail``) after ``show_loading``."""

    suggestRequested = Signal(int)
    removeTagRequested = Signal(int, str)  # photo id, tag

    def __init__(self, loader: ThumbnailLoader, parent=None) -> None:
        super().__init__(parent)
        self.loader = loader
        self.photo_id: int | None = None
        self.path: str | None = None
        self._image: QImage | None = None
        self._preview_done = True
        self.detail: Detail | None = None
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMinimumWidth(260)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setObjectName("detailPanel")

        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(10, 10, 10, 10)
        lay.setSpacing(8)

        self.preview = QLabel()
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(200)
        self.preview.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.preview.setStyleSheet("background-color: rgba(128,128,128,30); border-radius: 6px;")
        lay.addWidget(self.preview)

        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        f = self.title.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        f.setBold(True)
        self.title.setFont(f)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.title)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(10)
        self.fields: dict[str, QLabel] = {}
        for key, label in (
            ("date", "Date"),
            ("place", "Place"),
            ("camera", "Camera"),
            ("size", "Size"),
            ("file", "File"),
            ("gps", "GPS"),
            ("folder", "Folder"),
        ):
            val = QLabel("—")
            val.setWordWrap(True)
            val.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            val.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = val
            form.addRow(f"<span style='color:#888888'>{label}</span>", val)
        self.form = form
        lay.addLayout(form)

        lay.addWidget(self._heading("Tags"))
        self.user_tags = QLabel()
        self.user_tags.setWordWrap(True)
        self.user_tags.setTextFormat(Qt.TextFormat.RichText)
        self.user_tags.setObjectName("userTags")
        self.user_tags.setToolTip("Your tags. × removes one.")
        self.user_tags.linkActivated.connect(self._on_tag_link)
        lay.addWidget(self.user_tags)

        lay.addWidget(self._heading("Suggested tags"))
        self.suggestions = QLabel()
        self.suggestions.setWordWrap(True)
        self.suggestions.setTextFormat(Qt.TextFormat.RichText)
        self.suggestions.setObjectName("suggestions")
        lay.addWidget(self.suggestions)

        self.review_button = QPushButton("Review suggestions…")
        self.review_button.clicked.connect(self._on_review)
        lay.addWidget(self.review_button)
        lay.addStretch(1)
        self.setWidget(body)
        loader.signals.loaded.connect(self.on_image)
        self.show_nothing()

    @staticmethod
    def _heading(text: str) -> QLabel:
        h = QLabel(text.upper())
        h.setStyleSheet("color:#888888; font-size:9pt; font-weight:600; margin-top:6px;")
        return h

    def show_nothing(self) -> None:
        self.photo_id = None
        self.path = None
        self.detail = None
        self.preview.clear()
        self.preview.setText("<span style='color:#888888'>Select a photo</span>")
        self.title.setText("")
        for v in self.fields.values():
            v.setText("—")
        self._set_gps(None)
        self._set_place(None)
        self.user_tags.setText("")
        self.suggestions.setText("")
        self.review_button.setEnabled(False)

    def show_many(self, n: int) -> None:
        """Several photos are selected: say so (the panel describes one photo)."""
        self.show_nothing()
        self.title.setText(f"{n} photos selected")
        self.preview.setText(f"<span style='color:#888888'>{n} photos selected</span>")

    def show_loading(self, row: Any) -> None:
        """Show what is known at once (path, size) and ask for the preview; the rest follows."""
        self.photo_id = row.id
        self.path = str(row.path)
        self.detail = None
        self._image = None
        self._preview_done = False
        self.preview.clear()
        # Break long file names anywhere rather than widening the panel.
        self.title.setText(html.escape("\u200b".join(os.path.basename(self.path))))
        self._fill(row)
        self.user_tags.setText("<span style='color:#888888'>…</span>")
        self.suggestions.setText("<span style='color:#888888'>Loading suggestions…</span>")
        self.review_button.setEnabled(True)
        self.preview.setText("<span style='color:#888888'>Loading preview…</span>")
        self.loader.request(self.path, PREVIEW_SIZE)

    def show_detail(self, detail: Detail) -> None:
        if detail.photo.id != self.photo_id:
            return
        self.detail = detail
        self._fill(detail.photo)
        self.user_tags.setText(user_tags_html(detail.user_tags))
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        self.suggestions.setText(suggestions_html(detail.suggestions, dark))
        personal = any(getattr(s, "source", "model") == "personal" for s in detail.suggestions)
        self.suggestions.setToolTip(PERSONAL_TIP if personal else "")

    def show_error(self, message: str) -> None:
        self.suggestions.setText(f"<span style='color:#d05050'>{html.escape(message)}</span>")

    def _fill(self, r: Any) -> None:
        source = getattr(r, "taken_source", None)
        self.fields["date"].setText(format_date(getattr(r, "taken", None), getattr(r, "mtime", None), source))
        self.fields["date"].setToolTip(DATE_TIPS.get(source or "", ""))
        self._set_place(getattr(r, "place", None))
        cam = " · ".join(x for x in (getattr(r, "camera", None), getattr(r, "lens", None)) if x)
        self.fields["camera"].setText(html.escape(cam) if cam else "—")
        w, h = getattr(r, "width", None), getattr(r, "height", None)
        dims = f"{w} × {h} px" if w and h else "—"
        if w and h:
            dims += f" ({w * h / 1e6:.1f} MP)"
        self.fields["size"].setText(dims)
        self.fields["file"].setText(human_size(getattr(r, "size_bytes", None)))
        self.fields["folder"].setText(html.escape(os.path.dirname(str(r.path))))
        self._set_gps(format_gps(getattr(r, "gps", None)))

    def _set_place(self, place: str | None) -> None:
        """The town, region and country of the photo's GPS position; the row is hidden without one."""
        self.fields["place"].setText(html.escape(place) if place else "")
        self.form.setRowVisible(self.fields["place"], bool(place))

    def _set_gps(self, text: str | None) -> None:
        self.fields["gps"].setText(text or "")
        self.form.setRowVisible(self.fields["gps"], bool(text))

    @Slot(str, int, QImage)
    def on_image(self, path: str, size: int, image: QImage) -> None:
        if size != PREVIEW_SIZE or path != self.path:
            return
        self._image = image
        self._preview_done = True
        self._show_scaled()

    def _show_scaled(self) -> None:
        img = getattr(self, "_image", None)
        if img is None or img.isNull() or self.path is None:
            return
        w = max(120, self.preview.width() - 8)
        pm = QPixmap.fromImage(img)
        if pm.width() > w:
            pm = pm.scaledToWidth(w, Qt.TransformationMode.SmoothTransformation)
        self.preview.setPixmap(pm)

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self.path is not None and getattr(self, "_image", None) is not None:
            self._show_scaled()

    def preview_ready(self) -> bool:
        """True when no photo is shown or its preview is on screen (or known to be unreadable)."""
        return self.path is None or self._preview_done

    @Slot()
    def _on_review(self) -> None:
        if self.photo_id is not None:
            self.suggestRequested.emit(self.photo_id)

    @Slot(str)
    def _on_tag_link(self, link: str) -> None:
        from urllib.parse import unquote

        if link.startswith("remove:") and self.photo_id is not None:
            self.removeTagRequested.emit(self.photo_id, unquote(link[len("remove:") :]))

    def preview_failed(self, path: str, reason: str) -> None:
        if path == self.path:
            self._preview_done = True
            self.preview.setText(f"<span style='color:#d05050'>{html.escape(reason)}</span>")
