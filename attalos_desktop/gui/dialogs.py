"""Dialogs: tag review ("Suggest tags"), models, settings. They present; the window does the work."""

from __future__ import annotations

import html
import json
import os
from typing import Any, Callable

from PySide6.QtCore import QStringListModel, Qt, Signal, Slot
from PySide6.QtGui import QFont, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from attalos_desktop.core.tags import normalize_tag
from attalos_desktop.gui.settings import Settings

ACCEPT = "accept"
REJECT = "reject"


PERSONAL = "personal"
PERSONAL_TIP = "Suggested from your tags on similar photos"
PERSONAL_BADGE_STYLE = (
    "background-color:#7b52c7; color:#ffffff; border-radius:6px; padding:0px 5px; font-size:8pt; font-weight:600;"
)
PLACE = "place"
PLACE_TIP = "Where the photo was taken, from its GPS position (Settings: Suggest the place as a tag)"
PLACE_BADGE_STYLE = PERSONAL_BADGE_STYLE.replace("#7b52c7", "#2e8b57")


class SuggestionRow(QWidget):
    """One tag of one photo: name, score bar, Accept / Reject toggles (neither = undecided).

    ``source`` is "model" (the bundle's tag layer), "personal" (votes of the photo's nearest photos
    that carry the user's own tags; a "yours" badge, on the same score scale) or "place" (the photo's
    town or country from its GPS position, when the user asked for them: a "place" badge, no score).
    """

    changed = Signal()

    def __init__(self, tag: str, score: float | None, parent=None, source: str = "model") -> None:
        super().__init__(parent)
        self.tag = tag
        self.score = score
        self.source = source or "model"
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 1, 4, 1)
        self.label = QLabel(
            html.escape(tag)
            if score is not None
            else f"<b>{html.escape(tag)}</b> <span style='color:#888'>(typed)</span>"
        )
        self.label.setTextFormat(Qt.TextFormat.RichText)  # escaped: "grandma's quilt" must not show &#x27;
        self.label.setMinimumWidth(140)
        lay.addWidget(self.label, 1)
        self.badge = QLabel("yours")
        self.badge.setObjectName("personalBadge")
        self.badge.setStyleSheet(PERSONAL_BADGE_STYLE)
        self.badge.setToolTip(PERSONAL_TIP)
        self.badge.setVisible(self.personal)
        if self.source == PLACE:
            self.badge.setText("place")
            self.badge.setObjectName("placeBadge")
            self.badge.setStyleSheet(PLACE_BADGE_STYLE)
            self.badge.setToolTip(PLACE_TIP)
            self.badge.setVisible(True)
        lay.addWidget(self.badge)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(True)
        self.bar.setFixedWidth(110)
        self.bar.setFixedHeight(14)
        self.bar.setFormat("%p%")
        if score is None:
            self.bar.setVisible(False)
        elif self.source == PLACE:  # a fact from the photo's GPS position, not a score
            self.bar.setValue(100)
            self.bar.setFormat("from GPS")
            self.bar.setToolTip(PLACE_TIP)
        else:
            self.bar.setValue(int(round(max(0.0, min(1.0, score)) * 100)))
        lay.addWidget(self.bar)
        if self.personal:
            self.setToolTip(PERSONAL_TIP)
            self.label.setToolTip(PERSONAL_TIP)
            self.bar.setToolTip(f"{PERSONAL_TIP} — same score scale as the model's suggestions")
        self.accept_btn = QToolButton()
        self.accept_btn.setText("✓ Accept")
        self.accept_btn.setCheckable(True)
        self.reject_btn = QToolButton()
        self.reject_btn.setText("✕ Reject")
        self.reject_btn.setCheckable(True)
        self.accept_btn.setObjectName(f"accept:{tag}")
        self.reject_btn.setObjectName(f"reject:{tag}")
        self.group = QButtonGroup(self)
        self.group.setExclusive(False)
        self.group.addButton(self.accept_btn)
        self.group.addButton(self.reject_btn)
        self.accept_btn.toggled.connect(self._accept_toggled)
        self.reject_btn.toggled.connect(self._reject_toggled)
        lay.addWidget(self.accept_btn)
        lay.addWidget(self.reject_btn)

    @property
    def personal(self) -> bool:
        return self.source == PERSONAL

    @Slot(bool)
    def _accept_toggled(self, on: bool) -> None:
        if on and self.reject_btn.isChecked():
            self.reject_btn.setChecked(False)
        self._restyle()

    @Slot(bool)
    def _reject_toggled(self, on: bool) -> None:
        if on and self.accept_btn.isChecked():
            self.accept_btn.setChecked(False)
        self._restyle()

    def _restyle(self) -> None:
        d = self.decision
        self.accept_btn.setStyleSheet("background-color:#2e8b57; color:white;" if d == ACCEPT else "")
        self.reject_btn.setStyleSheet("background-color:#b03a3a; color:white;" if d == REJECT else "")
        f = self.label.font()
        f.setStrikeOut(d == REJECT)
        self.label.setFont(f)
        self.changed.emit()

    @property
    def decision(self) -> str | None:
        if self.accept_btn.isChecked():
            return ACCEPT
        if self.reject_btn.isChecked():
            return REJECT
        return None

    def set_decision(self, d: str | None) -> None:
        self.accept_btn.setChecked(d == ACCEPT)
        self.reject_btn.setChecked(d == REJECT)


class PhotoReview(QFrame):
    """The review list of one photo."""

    def __init__(self, photo: Any, pixmap: QPixmap | None, parent=None) -> None:
        super().__init__(parent)
        self.photo = photo
        self.setFrameShape(QFrame.Shape.StyledPanel)
        outer = QHBoxLayout(self)
        thumb = QLabel()
        thumb.setFixedSize(112, 112)
        thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if pixmap is not None and not pixmap.isNull():
            thumb.setPixmap(
                pixmap.scaled(108, 108, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
            )
        else:
            thumb.setStyleSheet("background-color: rgba(128,128,128,40);")
        outer.addWidget(thumb, 0, Qt.AlignmentFlag.AlignTop)
        col = QVBoxLayout()
        title = QLabel(f"<b>{html.escape(os.path.basename(str(photo.path)))}</b>")
        col.addWidget(title)
        self.existing = QLabel("")
        self.existing.setWordWrap(True)
        col.addWidget(self.existing)
        self.rows_box = QVBoxLayout()
        self.rows_box.setSpacing(0)
        col.addLayout(self.rows_box)
        self.status = QLabel("<span style='color:#888'>Asking the model…</span>")
        col.addWidget(self.status)
        col.addStretch(1)
        outer.addLayout(col, 1)
        self.rows: list[SuggestionRow] = []

    def set_suggestions(self, user_tags: list[str], suggestions: list[Any]) -> None:
        self.existing.setText(
            "<span style='color:#888'>Already tagged: </span>" + html.escape(", ".join(user_tags)) if user_tags else ""
        )
        for s in suggestions:
            self.add_row(s.tag, float(s.score), source=getattr(s, "source", "model"))
        self.status.setText("" if suggestions else "<span style='color:#888'>No new suggestions for this photo.</span>")
        self.status.setVisible(not suggestions)

    def set_error(self, message: str) -> None:
        self.status.setText(f"<span style='color:#d05050'>{html.escape(message)}</span>")

    def add_row(
        self, tag: str, score: float | None, decision: str | None = None, source: str = "model"
    ) -> SuggestionRow:
        for r in self.rows:
            if r.tag == tag:
                if decision:
                    r.set_decision(decision)
                return r
        row = SuggestionRow(tag, score, source=source)
        row.set_decision(decision)
        self.rows.append(row)
        self.rows_box.addWidget(row)
        return row

    def decisions(self) -> tuple[list[str], list[str]]:
        acc = [r.tag for r in self.rows if r.decision == ACCEPT]
        rej = [r.tag for r in self.rows if r.decision == REJECT]
        return acc, rej


class SuggestDialog(QDialog):
    """Review suggested tags for one or several photos; emits ``reviewed`` with the decisions."""

    reviewed = Signal(list)  # [(photo_id, accepted, rejected)]

    def __init__(
        self, photos: list[Any], pixmap_for: Callable[[str], QPixmap | None], words: list[str] | None, parent=None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Suggest tags" if len(photos) == 1 else f"Suggest tags — {len(photos)} photos")
        self.setObjectName("suggestDialog")
        self.resize(680, 560)
        lay = QVBoxLayout(self)
        intro = QLabel(
            "Accept the tags that describe the photo and reject the wrong ones. Accepted tags become your "
            "tags; rejected tags are not suggested again for that photo. Words marked "
            f"<span style='{PERSONAL_BADGE_STYLE}'>yours</span> are suggested from your own tags on similar photos."
        )
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(intro)

        self.reviews: dict[int, PhotoReview] = {}
        area = QScrollArea()
        area.setWidgetResizable(True)
        body = QWidget()
        blay = QVBoxLayout(body)
        for p in photos:
            rv = PhotoReview(p, pixmap_for(str(p.path)))
            self.reviews[p.id] = rv
            blay.addWidget(rv)
        blay.addStretch(1)
        area.setWidget(body)
        lay.addWidget(area, 1)

        add = QHBoxLayout()
        self.tag_edit = QLineEdit()
        self.tag_edit.setPlaceholderText("Add a tag…" if len(photos) == 1 else "Add a tag to every photo…")
        self.tag_edit.setObjectName("addTagEdit")
        self.completer_model = QStringListModel(list(words or []))
        self.completer = QCompleter(self.completer_model, self)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchStartsWith)
        self.completer.setMaxVisibleItems(12)
        self.tag_edit.setCompleter(self.completer)
        self.tag_edit.returnPressed.connect(self.add_typed_tag)
        add_btn = QPushButton("Add")
        add_btn.clicked.connect(self.add_typed_tag)
        add.addWidget(self.tag_edit, 1)
        add.addWidget(add_btn)
        lay.addLayout(add)

        buttons = QDialogButtonBox()
        self.accept_all_btn = buttons.addButton("Accept all", QDialogButtonBox.ButtonRole.ActionRole)
        self.accept_all_btn.clicked.connect(self.accept_all)
        self.save_btn = buttons.addButton("Save", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def set_words(self, words: list[str]) -> None:
        self.completer_model.setStringList(list(words))

    def set_suggestions(self, details: dict[int, Any]) -> None:
        for pid, d in details.items():
            rv = self.reviews.get(pid)
            if rv is not None:
                rv.set_suggestions(d.user_tags, d.suggestions)

    def set_error(self, message: str) -> None:
        for rv in self.reviews.values():
            rv.set_error(message)

    @Slot()
    def add_typed_tag(self) -> None:
        text = normalize_tag(self.tag_edit.text())
        if not text:
            return
        for rv in self.reviews.values():
            rv.add_row(text, None, ACCEPT)
        self.tag_edit.clear()

    @Slot()
    def accept_all(self) -> None:
        for rv in self.reviews.values():
            for r in rv.rows:
                r.set_decision(ACCEPT)

    def row(self, photo_id: int, tag: str) -> SuggestionRow | None:
        rv = self.reviews.get(photo_id)
        if rv is None:
            return None
        return next((r for r in rv.rows if r.tag == tag), None)

    def decisions(self) -> list[tuple[int, list[str], list[str]]]:
        out = []
        for pid, rv in self.reviews.items():
            acc, rej = rv.decisions()
            if acc or rej:
                out.append((pid, acc, rej))
        return out

    @Slot()
    def _save(self) -> None:
        self.reviewed.emit(self.decisions())
        self.accept()


def _metrics_text(metrics: Any) -> str:
    if not isinstance(metrics, dict) or not metrics:
        return "—"
    parts = []
    for k, v in metrics.items():
        if isinstance(v, float):
            parts.append(f"{k} {v:.3f}")
        elif isinstance(v, (int, str)):
            parts.append(f"{k} {v}")
        else:
            parts.append(f"{k} {json.dumps(v)[:40]}")
    return ", ".join(parts)


class ModelsDialog(QDialog):
    """Lists the model bundles found; "Use this model" emits ``modelChosen(path)``."""

    modelChosen = Signal(str)

    COLUMNS = ("Name", "Created", "Vocabulary", "Dim", "Metrics", "Location")

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setObjectName("modelsDialog")
        self.resize(860, 360)
        lay = QVBoxLayout(self)
        self.info = QLabel("Looking for models…")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(self._on_double_clicked)
        lay.addWidget(self.table, 1)
        buttons = QDialogButtonBox()
        self.use_btn = buttons.addButton("Use this model", QDialogButtonBox.ButtonRole.ActionRole)
        self.use_btn.setEnabled(False)
        self.use_btn.clicked.connect(self._use)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.models: list[dict] = []
        self.current: str | None = None
        self.busy = False

    def set_models(self, models: list[dict], current: str, provider: str) -> None:
        self.models = list(models)
        self.current = current
        self.table.setRowCount(len(self.models))
        bold = QFont(self.font())
        bold.setBold(True)
        cur_real = os.path.realpath(current) if current else None
        for i, m in enumerate(self.models):
            path = str(m.get("path", ""))
            in_use = cur_real is not None and os.path.realpath(path) == cur_real
            marks = [w for w, on in (("in use", in_use), ("default", bool(m.get("default")))) if on]
            vals = (
                str(m.get("name", "?")) + (f"  ({', '.join(marks)})" if marks else ""),
                str(m.get("created") or "—").replace("T", " ")[:19],
                f"{int(m['vocabulary']):,}" if isinstance(m.get("vocabulary"), int) else str(m.get("vocabulary", "—")),
                str(m.get("embedding_dim", "—")),
                f"unusable: {m['error']}" if m.get("error") else _metrics_text(m.get("metrics")),
                path,
            )
            for j, v in enumerate(vals):
                it = QTableWidgetItem(v)
                it.setToolTip(v)
                if in_use:
                    it.setFont(bold)
                self.table.setItem(i, j, it)
        self.info.setText(
            f"{len(self.models)} model bundle(s) found in the app's resources and your models folder. "
            f"Inference runs on {html.escape(provider)}. Switching to a model with a different image encoder "
            "re-embeds the library in the background."
        )
        self._selection_changed()

    def set_busy(self, busy: bool, message: str | None = None) -> None:
        self.busy = busy
        if message:
            self.info.setText(message)
        self._selection_changed()

    def selected_path(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return str(self.models[rows[0].row()].get("path"))

    def select_path(self, path: str) -> bool:
        for i, m in enumerate(self.models):
            if os.path.realpath(str(m.get("path"))) == os.path.realpath(path):
                self.table.selectRow(i)
                return True
        return False

    @Slot()
    def _selection_changed(self) -> None:
        p = self.selected_path()
        cur = os.path.realpath(self.current) if self.current else None
        rows = self.table.selectionModel().selectedRows()
        broken = bool(rows) and bool(self.models[rows[0].row()].get("error"))
        self.use_btn.setEnabled(bool(p) and not self.busy and not broken and os.path.realpath(p or "") != cur)

    @Slot(QTableWidgetItem)
    def _on_double_clicked(self, _item: QTableWidgetItem) -> None:
        self._use()

    @Slot()
    def _use(self) -> None:
        p = self.selected_path()
        if p and self.use_btn.isEnabled():
            self.modelChosen.emit(p)


SIDECARS_LABEL = "Write tags to XMP sidecars next to photos (for digiKam, Lightroom, darktable)"
PLACE_TAGS_LABEL = "Suggest the place as a tag"


class SettingsDialog(QDialog):
    """The app's settings (settings.json) and the library's own (the sidecar switch, read by the CLI too).

    ``sidecars`` is the library's setting, or None while the query thread is still reading it
    (``set_sidecars`` fills it in); ``sidecars_choice()`` is None until it is known.
    """

    def __init__(self, settings: Settings, parent=None, sidecars: bool | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("settingsDialog")
        self.settings = settings
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.count = QSpinBox()
        self.count.setRange(1, 100)
        self.count.setValue(settings.suggest_count)
        form.addRow("Suggested tags per photo", self.count)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setValue(settings.score_threshold)
        form.addRow("Minimum suggestion score", self.threshold)
        self.thumb = QSpinBox()
        self.thumb.setRange(64, 512)
        self.thumb.setSingleStep(16)
        self.thumb.setValue(settings.thumb_size)
        form.addRow("Thumbnail size (px)", self.thumb)
        lay.addLayout(form)
        self.sidecars = QCheckBox(SIDECARS_LABEL)
        self.sidecars.setObjectName("sidecarsCheck")
        self.sidecars.setToolTip(
            "Your tags are kept in the library either way. With this on, they are also written to a .xmp file "
            "beside each photo (the photo itself is never modified), so other photo programs see them. "
            "This is a setting of the library: attalos-desktop commands obey it too."
        )
        self._sidecars_known: bool | None = None
        lay.addWidget(self.sidecars)
        self.set_sidecars(sidecars)
        self.place_tags = QCheckBox(PLACE_TAGS_LABEL)
        self.place_tags.setObjectName("placeTagsCheck")
        self.place_tags.setToolTip(
            "For a photo with a GPS position, its town and country (“paris”, “france”) lead its suggested "
            "tags; accepting one adds it like any tag. Off by default: a place is not something the photo shows."
        )
        self.place_tags.setChecked(settings.suggest_place_tags)
        lay.addWidget(self.place_tags)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        lay.addWidget(buttons)

    def set_sidecars(self, on: bool | None) -> None:
        """The library's setting arrived (None: not known yet, the box stays disabled)."""
        self._sidecars_known = on
        self.sidecars.setEnabled(on is not None)
        if on is not None:
            self.sidecars.setChecked(bool(on))

    def sidecars_choice(self) -> bool | None:
        return None if self._sidecars_known is None else self.sidecars.isChecked()

    def apply(self) -> None:
        self.settings.suggest_count = self.count.value()
        self.settings.score_threshold = float(self.threshold.value())
        self.settings.thumb_size = self.thumb.value()
        self.settings.suggest_place_tags = self.place_tags.isChecked()
