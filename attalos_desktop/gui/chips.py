"""What a search was understood as: one removable chip per term of the query, then the core's notes.

"cat paris 2019" shows [cat ×] [where Paris, France ×] [when 2019 ×]: the user sees at once that "paris" was
read as the place (not a word to look for) and "2019" as the year, and takes a term out with its ×
(``removeRequested(index)``; the search controller re-runs the query without it). Each kind has its own
colour and, for dates and places, a word saying which it is (colour is never the only cue). A word the
core ignored ("2019-13-40": no date) is a struck-out grey chip, and the note says why.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

# kind -> (background, text colour, the kind's word shown before the label)
CHIP_LOOK = {
    "words": ("#2f6fd6", "#ffffff", ""),
    "place": ("#2e8b57", "#ffffff", "where"),
    "date": ("#b8741a", "#ffffff", "when"),
    "ignored": ("#5c5c5c", "#d0d0d0", "ignored"),
}
CHIP_TIPS = {
    "words": "Photos are ranked by how well they show “{label}”.",
    "place": "Only photos taken in {label} (from their GPS position).",
    "date": "Only photos taken in {label} (from the date they record).",
    "ignored": "“{label}” was left out of the search.",
}


class QueryChip(QFrame):
    """One term: its label in the kind's colour, and a × that asks for the query without it."""

    removeClicked = Signal(int)

    def __init__(self, index: int, kind: str, label: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.index, self.kind, self.label_text = index, kind, label
        bg, fg, word = CHIP_LOOK.get(kind, CHIP_LOOK["words"])
        self.setObjectName("queryChip")
        self.setProperty("kind", kind)
        self.setStyleSheet(
            f"QFrame#queryChip {{ background-color:{bg}; border-radius:10px; }}"
            f" QLabel {{ color:{fg}; background:transparent; }}"
            f" QToolButton {{ color:{fg}; background:transparent; border:none; font-weight:700; padding:0px 2px; }}"
            " QToolButton:hover { background-color: rgba(255,255,255,50); border-radius:7px; }"
        )
        lay = QHBoxLayout(self)
        lay.setContentsMargins(9, 1, 3, 1)
        lay.setSpacing(3)
        shown = html.escape(label)
        if kind == "ignored":
            shown = f"<s>{shown}</s>"
        prefix = f"<span style='font-size:8pt; color:{fg}; opacity:0.8'>{word}</span>&nbsp;" if word else ""
        self.text_label = QLabel(prefix + shown)
        self.text_label.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.text_label)
        self.remove_btn = QToolButton()
        self.remove_btn.setObjectName("chipRemove")
        self.remove_btn.setText("×")
        self.remove_btn.setCursor(Qt.CursorShape.PointingHandCursor)
        self.remove_btn.setToolTip(f"Search without “{label}”")
        self.remove_btn.clicked.connect(lambda: self.removeClicked.emit(self.index))
        lay.addWidget(self.remove_btn)
        self.setToolTip(CHIP_TIPS.get(kind, "").format(label=label))
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)


class QueryChips(QWidget):
    """The understood query as chips, then its notes; hidden when there is nothing to show."""

    removeRequested = Signal(int)  # the term's index in the understood query

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queryChips")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(3)
        lay = QHBoxLayout()
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(6)
        self.caption = QLabel("Understood as")
        self.caption.setStyleSheet("color:#8a8a8a;")
        lay.addWidget(self.caption)
        self.row = QHBoxLayout()
        self.row.setSpacing(6)
        lay.addLayout(self.row)
        lay.addStretch(1)
        outer.addLayout(lay)
        self.notes = QLabel()
        self.notes.setObjectName("queryNotes")
        self.notes.setTextFormat(Qt.TextFormat.PlainText)
        self.notes.setStyleSheet("color:#9a9a9a; font-style:italic;")
        self.notes.setWordWrap(True)
        # Long notes wrap instead of widening the window.
        self.notes.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        outer.addWidget(self.notes)
        self.chips: list[QueryChip] = []
        self.setVisible(False)

    def set_understood(self, understood: Any) -> None:
        """Show an UnderstoodQuery's terms and notes (None: nothing, hidden)."""
        for chip in self.chips:
            # hidden and unparented now: deleteLater waits for the event loop, and until then an old chip
            # would stay painted where it was, under the new ones
            self.row.removeWidget(chip)
            chip.hide()
            chip.setParent(None)
            chip.deleteLater()
        self.chips = []
        terms = list(getattr(understood, "terms", None) or [])
        notes = list(getattr(understood, "notes", None) or [])
        for i, t in enumerate(terms):
            chip = QueryChip(i, t.kind, t.label)
            chip.removeClicked.connect(self.removeRequested)
            self.row.addWidget(chip)
            self.chips.append(chip)
        said = "; ".join(notes)
        self.notes.setText(f"{said[:1].upper()}{said[1:]}." if said else "")
        self.notes.setToolTip("\n".join(notes))
        self.notes.setVisible(bool(notes))
        self.setVisible(bool(terms or notes))

    def labels(self) -> list[tuple[str, str]]:
        """(kind, label) per chip, in the query's order: what a user reads there."""
        return [(c.kind, c.label_text) for c in self.chips]
