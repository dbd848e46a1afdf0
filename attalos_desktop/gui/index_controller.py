"""The index controller: one index job at a time (more are queued), its progress in the status bar.

A job is an ``IndexWorker`` (workers.py: a child process supervised from a pool thread). This
controller starts it, turns its signals into status-bar text, and tells the window what matters
to it: photos committed (``photosArrived``, coalesced so that a fast run does not relayout the
grid many times a second) and the end of the run (``finished``, with the report or None).
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal, Slot

from attalos_desktop.gui.status import StatusArea
from attalos_desktop.gui.workers import IndexWorker

PHOTOS_EVERY_MS = 250  # the grid grows at most this often while indexing
REPORT_FIELDS = (
    ("new", "new"),
    ("changed", "updated"),
    ("moved", "moved"),
    ("removed", "removed"),
    ("failed", "could not be read"),
)


def report_summary(report: Any) -> str:
    bits = []
    for name, label in REPORT_FIELDS:
        v = getattr(report, name, None)
        if isinstance(v, int) and v:
            bits.append(f"{v:,} {label}")
    return ", ".join(bits) if bits else "nothing changed"


class IndexController(QObject):
    started = Signal()
    photosArrived = Signal(list)  # PhotoRows committed since the last emission
    failed = Signal(str, str)  # message, traceback
    finished = Signal(object)  # IndexReport, or None when the run failed

    def __init__(
        self,
        home: str | None,
        status: StatusArea,
        parent: QObject | None = None,
        thumbnails: Callable[[], tuple[str, int]] | None = None,
    ) -> None:
        super().__init__(parent)
        self.home = home
        # (cache root, size) of the grid's thumbnails when a job starts: the job leaves them there as it
        # decodes each photo, so the window's own threads only read small files while it runs.
        self.thumbnails = thumbnails
        self.status = status
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.worker: IndexWorker | None = None
        self.queued: list[tuple[list[str] | None, str]] = []
        self.last_report: Any = None
        self.last_exitcode: int | None = None
        self._started_at = 0.0
        self._rows: list[Any] = []
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(PHOTOS_EVERY_MS)
        self._flush.timeout.connect(self.flush_photos)
        status.cancelRequested.connect(self.cancel)

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self, paths: list[str] | None, label: str = "Indexing") -> None:
        """Index ``paths`` (new roots) or, with None, rescan every root; queued behind a running job."""
        if self.worker is not None:
            self.queued.append((paths, label))
            self.status.say(f"{label} queued after the current run")
            return
        w = IndexWorker(self.home, paths, label, thumbnails=self.thumbnails() if self.thumbnails else None)
        w.signals.progress.connect(self._on_progress)
        w.signals.photos.connect(self._on_photos)
        w.signals.notices.connect(self.status.show_notices)
        w.signals.result.connect(self._on_result)
        w.signals.error.connect(self._on_error)
        w.signals.finished.connect(self._on_finished)
        self.worker = w
        self.last_report = None
        self._started_at = time.monotonic()
        where = ", ".join(os.path.basename(p) or p for p in paths) if paths else "all folders"
        self.status.job_started(f"{label} {where}…")
        self.started.emit()
        self.pool.start(w)

    @Slot()
    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.job_cancelling()

    def shutdown(self) -> None:
        """Cancel a running job and wait for it (the child stops after its batch in flight)."""
        worker = self.worker
        self.queued.clear()
        if worker is not None:
            worker.cancel()
        self.pool.waitForDone(60000)
        if worker is not None:  # a job that already ended keeps the exit code it ended with
            self.last_exitcode = worker.exitcode

    # ---- the worker's signals (GUI thread) -------------------------------------------------------
    @Slot(object)
    def _on_progress(self, p: Any) -> None:
        if self.worker is not None:
            self.status.job_progress(p, self.worker.label, self.worker.cancel_event.is_set())

    @Slot(list)
    def _on_photos(self, rows: list) -> None:
        self._rows.extend(rows)
        if not self._flush.isActive():
            self._flush.start()

    @Slot()
    def flush_photos(self) -> None:
        self._flush.stop()
        if self._rows:
            rows, self._rows = self._rows, []
            self.photosArrived.emit(rows)

    @Slot(object)
    def _on_result(self, report: Any) -> None:
        took = time.monotonic() - self._started_at
        summary = report_summary(report)
        if getattr(report, "cancelled", False):
            self.status.say(f"Indexing cancelled ({summary}). Rescan (F5) resumes where it stopped.")
        else:
            self.status.say(f"Indexing finished in {took:.1f} s: {summary}.")
        self.last_report = report

    @Slot(str, str)
    def _on_error(self, message: str, tb: str) -> None:
        self.last_report = None
        self.failed.emit(message, tb)

    @Slot()
    def _on_finished(self) -> None:
        self.flush_photos()
        self.last_exitcode = self.worker.exitcode if self.worker is not None else None
        self.worker = None
        self.status.job_ended()
        report = self.last_report
        self.finished.emit(report)
        if self.queued:
            paths, label = self.queued.pop(0)
            self.start(paths, label)
