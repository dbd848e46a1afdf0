"""The central pages besides the grid: the empty state, the results bar over the grid, Problems."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from attalos_desktop.gui.chips import QueryChips


class EmptyState(QWidget):
    """What a new user sees: an invitation to add a folder (button or drag-and-drop)."""

    addFolderRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon).pixmap(72, 72))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(icon)
        title = QLabel("Your photo library is empty")
        tf = title.font()
        tf.setPointSizeF(tf.pointSizeF() * 1.6)
        tf.setBold(True)
        title.setFont(tf)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(title)
        sub = QLabel(
            "Add a folder of photos. Attalos indexes it on this computer, suggests tags for every photo "
            "and lets you search them by any word."
        )
        sub.setWordWrap(True)
        sub.setAlignment(Qt.AlignmentFlag.AlignCenter)
        sub.setStyleSheet("color:#8a8a8a;")
        lay.addWidget(sub)
        row = QHBoxLayout()
        row.addStretch(1)
        self.button = QPushButton("Add folder…")
        self.button.setObjectName("emptyAddFolder")
        self.button.setMinimumWidth(160)
        self.button.setMinimumHeight(34)
        self.button.clicked.connect(self.addFolderRequested)
        row.addWidget(self.button)
        row.addStretch(1)
        lay.addLayout(row)
        hint = QLabel("…or drop a folder onto this window")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setStyleSheet("color:#999999;")
        lay.addWidget(hint)
        lay.addStretch(3)


class ResultsBar(QWidget):
    """The strip over the grid while it shows search or similar results, with a way back; under a
    search's line, what the query was understood as (``chips``: removable terms and the core's notes)."""

    backRequested = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(4)
        rb = QHBoxLayout()
        rb.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setObjectName("resultsLabel")
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        rb.addWidget(self.label, 1)
        self.back = QToolButton()
        self.back.setText("✕ Back to browsing")
        self.back.clicked.connect(self.backRequested)
        rb.addWidget(self.back)
        outer.addLayout(rb)
        self.chips = QueryChips()
        outer.addWidget(self.chips)
        self.setVisible(False)
        self.setObjectName("resultsBar")
        self.setStyleSheet("QWidget#resultsBar { background-color: rgba(47,111,214,30); }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

    def say(self, text: str) -> None:
        self.label.setText(text)
        self.setVisible(True)

    def text(self) -> str:
        return self.label.text()

    def show_understood(self, understood: Any) -> None:
        """A search's understood query as chips (None hides them: similar results, a search under way)."""
        self.chips.set_understood(understood)


class ProblemsPage(QWidget):
    """Files that could not be indexed, with the reason; double-click opens the file's folder."""

    folderRequested = Signal(str)  # a file's path

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("problemsTable")
        self.table.setHorizontalHeaderLabels(["File", "Reason"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 420)
        self.table.cellDoubleClicked.connect(self._on_double_clicked)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel()
        self.label.setContentsMargins(8, 6, 8, 6)
        lay.addWidget(self.label)
        lay.addWidget(self.table, 1)

    def show_loading(self) -> None:
        self.label.setText("Loading…")

    def fill(self, failures: list[Any]) -> None:
        self.table.setRowCount(len(failures))
        for i, f in enumerate(failures):
            for col, text in enumerate((str(f.path), str(f.reason))):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(i, col, item)
        self.label.setText(
            f"{len(failures):,} file(s) could not be indexed. They are skipped; fix or remove them and rescan (F5)."
            if failures
            else "No problems: every file found was indexed."
        )

    def rows(self) -> list[tuple[str, str]]:
        """(file, reason) per row, as shown."""
        t = self.table
        return [(t.item(i, 0).text(), t.item(i, 1).text()) for i in range(t.rowCount())]

    @Slot(int, int)
    def _on_double_clicked(self, row: int, _col: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.folderRequested.emit(item.text())
