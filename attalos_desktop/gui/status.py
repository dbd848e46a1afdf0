"""The status bar: a message line, the index job's progress (bar, rate and ETA, Cancel), the photo count.

It also shows the core's one-line notices (a rebuilt index, a restored catalog: things the core
repaired on its own), each once, as they appear.
"""

from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QSizePolicy, QStatusBar

PHASES = {
    "scanning": "Looking for photos…",
    "comparing": "Checking for changes",
    "indexing": "Indexing",
    "saving": "Saving the index",
    "places": "Reading dates and places",
    "done": "Finishing",
}
NOTICE_POLL_MS = 1000


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d} left"
    return f"{s // 60}:{s % 60:02d} left"


def with_warnings(message: str, warnings: list[str]) -> str:
    """``message`` plus the first warning a write returned, on one status-bar line."""
    if not warnings:
        return message
    first = " ".join(str(warnings[0]).split())
    more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
    return f"{message} Warning: {first}{more}"


def progress_text(p: Any, label: str) -> str:
    """What an ``IndexProgress`` says in words: "Indexing 12 of 300 — IMG_0012.jpg"."""
    total = int(getattr(p, "total", 0) or 0)
    done = int(getattr(p, "done", 0) or 0)
    phase = str(getattr(p, "phase", "") or "")
    msg = label if phase == "indexing" else PHASES.get(phase, label)  # label: Indexing/Updating/Re-embedding
    if total and phase in ("indexing", "saving", "places"):
        msg += f" {done:,} of {total:,}"
    elif total and phase == "comparing":
        msg += f" ({total:,} files)"
    cur = getattr(p, "current", None)
    if cur:
        msg += f" — {os.path.basename(str(cur))}"
    return msg


class StatusArea(QObject):
    """Owns the status bar's widgets; the window and the index controller talk to it in words."""

    cancelRequested = Signal()

    def __init__(self, bar: QStatusBar) -> None:
        super().__init__(bar)
        self.bar = bar
        self.label = QLabel("")
        self.label.setObjectName("statusLabel")
        # A new message (a long file name) must not change the label's size hint: that would lay
        # out the whole window again, grid included, on every progress report.
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setMinimumWidth(80)
        bar.addWidget(self.label, 1)
        self.progress = QProgressBar()
        self.progress.setObjectName("indexProgress")
        self.progress.setFixedWidth(200)
        self.progress.setTextVisible(True)
        self.eta_label = QLabel("")
        self.eta_label.setMinimumWidth(self.eta_label.fontMetrics().horizontalAdvance("000.0/s · 0:00:00 left") + 8)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setObjectName("cancelIndex")
        self.cancel_btn.clicked.connect(self.cancelRequested)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        self._job_widgets = (self.progress, self.eta_label, self.cancel_btn)
        for w in self._job_widgets:
            bar.addPermanentWidget(w)
            w.setVisible(False)
        bar.addPermanentWidget(self.count_label)
        self.notices: list[str] = []  # every notice shown (for tests and --screenshot)
        self._notice_timer = QTimer(self)
        self._notice_timer.setInterval(NOTICE_POLL_MS)
        self._notice_timer.timeout.connect(self.poll_notices)
        self._notice_timer.start()

    # ---- the message line ------------------------------------------------------------------
    def say(self, text: str) -> None:
        self.label.setText(text)
        self.label.setToolTip(text)

    def text(self) -> str:
        return self.label.text()

    def flash(self, text: str, ms: int = 4000) -> None:
        """A passing message (the selected photo's path) over the message line."""
        self.bar.showMessage(text, ms)

    def set_count(self, text: str) -> None:
        self.count_label.setText(text)

    @Slot()
    def poll_notices(self) -> None:
        """Show what the core repaired on its own (each notice once; they queue in core.notices)."""
        from attalos_desktop.core import notices

        self.show_notices(notices.pending())

    def show_notices(self, lines: list[str]) -> None:
        for line in lines:
            self.notices.append(line)
            self.say(line)

    # ---- the index job -------------------------------------------------------------------
    def job_started(self, message: str) -> None:
        self.progress.setRange(0, 0)  # busy until the first progress report
        self.progress.setFormat("%v / %m")
        for w in self._job_widgets:
            w.setVisible(True)
        self.cancel_btn.setEnabled(True)
        self.eta_label.setText("")
        self.say(message)

    def job_progress(self, p: Any, label: str, cancelling: bool) -> None:
        total = int(getattr(p, "total", 0) or 0)
        done = int(getattr(p, "done", 0) or 0)
        if total > 0:
            if self.progress.maximum() != total:
                self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        elif self.progress.maximum() != 0:
            self.progress.setRange(0, 0)
        parts = []
        rate = getattr(p, "rate", None)
        if rate:
            parts.append(f"{float(rate):.1f}/s")
        eta = format_eta(getattr(p, "eta_s", None))
        if eta:
            parts.append(eta)
        self.eta_label.setText(" · ".join(parts))
        if not cancelling:
            self.say(progress_text(p, label))

    def job_cancelling(self) -> None:
        self.cancel_btn.setEnabled(False)
        self.say("Cancelling after the batch in flight…")

    def job_ended(self) -> None:
        for w in self._job_widgets:
            w.setVisible(False)

    @property
    def job_visible(self) -> bool:
        return self.progress.isVisible()
