"""Tools → "Train on my tags…": teach the model the user's own words, in a child process.

The dialog shows what there is to learn from (photos with the user's tags, and which words), and
runs the trainer as a child process through QProcess (asynchronous: the GUI thread only reads the
lines the child prints):

    python -m trainer.cli --library HOME --progress-json

The child speaks one JSON object per stdout line::

    {"event": "start", "photos": N, "words": W, "mode": "head"}
    {"event": "progress", "phase": "reading"|"training"|"evaluating"|"exporting", "done": i, "total": n}
    {"event": "done", "bundle": PATH, "metrics": {"personal_eval": {"base": {...}, "instant": {...},
                                                                     "fine_tuned": {...}, ...}}}

and fails with exit status 2 and one line ``attalos-desktop-train: error: ...`` on stderr. SIGTERM
(Cancel) stops it with nothing written. The app never imports the trainer (torch is an optional
extra); ``training_available()`` only asks whether it could be imported.
"""

from __future__ import annotations

import html
import importlib.util
import json
import sys
from typing import Any, Callable, Sequence

from PySide6.QtCore import QProcess, QProcessEnvironment, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

NO_TORCH_MESSAGE = (
    'Training needs PyTorch, which is not installed. Install it with: pip install "attalos-desktop[train]"'
)
ERROR_PREFIX = "attalos-desktop-train: error:"
PHASES = {
    "reading": "Reading your tagged photos",
    "training": "Training",
    "evaluating": "Evaluating on held-out photos",
    "exporting": "Writing the new model",
}
MODES = {
    "head": "learning the tag layer; the image encoder stays as it is",
    "full": "fine-tuning the image encoder and the tag layer",
}
RESULT_ROWS = (
    ("base", "Current model"),
    ("instant", "Current model + your tags on similar photos"),
    ("fine_tuned", "Fine-tuned on your tags"),
)
KILL_AFTER_MS = 10000  # a child that ignores SIGTERM this long is killed
STDERR_KEEP = 64 * 1024


def training_available() -> bool:
    """True when the trainer and PyTorch can be imported (checked without importing them)."""
    try:
        return importlib.util.find_spec("torch") is not None and importlib.util.find_spec("trainer.cli") is not None
    except (ImportError, ValueError):
        return False


def train_command(home: str) -> list[str]:
    """The child process that trains on the library's user tags (tests replace it with a fake trainer)."""
    return [sys.executable, "-m", "trainer.cli", "--library", home, "--progress-json"]


def resolve_home(home: str | None) -> str:
    """The library folder the child must train on (None: $ATTALOS_HOME or the user data dir)."""
    from attalos_desktop.core.paths import resolve_paths

    return str(resolve_paths(home).home)


def _fmt(v: Any) -> str:
    return f"{float(v):.3f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else "—"


class TrainingDialog(QDialog):
    """Runs the trainer on the user's tags and offers the new model.

    ``command(home) -> argv`` and ``available() -> bool`` are injectable (tests run a fake trainer
    that speaks the same protocol, or pretend PyTorch is missing).
    """

    modelChosen = Signal(str)  # the new bundle's path: "Use this model"
    runFinished = Signal(str)  # "done" | "cancelled" | "error" (for observers: tests, screenshots)

    def __init__(
        self,
        home: str | None,
        parent=None,
        command: Callable[[str], Sequence[str]] | None = None,
        available: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train on my tags")
        self.setObjectName("trainingDialog")
        self.resize(640, 460)
        self.home = home
        self.command = command or train_command
        self.available = (available or training_available)()
        self.proc: QProcess | None = None
        self.state = "idle"  # idle | running | cancelling | done | cancelled | error | unavailable
        self.bundle: str | None = None
        self.metrics: dict[str, Any] = {}
        self.error: str | None = None
        self.summary: Any = None
        self._stdout = b""
        self._stderr = b""
        self._done_event: dict[str, Any] | None = None
        self._switching = False
        self.phase = ""
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._kill)

        lay = QVBoxLayout(self)
        intro = QLabel(
            "Teach the model the words you use. Training runs on this computer in the background: it learns "
            "from the photos you tagged, measures itself on some of them it did not see, and writes a new "
            "model into the library's models folder. Your photos and tags are not changed."
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)

        self.summary_label = QLabel("Counting your tags…")
        self.summary_label.setObjectName("trainingSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.summary_label)

        self.phase_label = QLabel("")
        self.phase_label.setObjectName("trainingPhase")
        self.phase_label.setWordWrap(True)
        lay.addWidget(self.phase_label)
        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setTextVisible(True)
        self.progress.setVisible(False)
        lay.addWidget(self.progress)

        self.results = QTableWidget(len(RESULT_ROWS), 3)
        self.results.setObjectName("trainingResults")
        self.results.setHorizontalHeaderLabels(["Precision", "Recall", "F1"])
        self.results.setVerticalHeaderLabels([label for _, label in RESULT_ROWS])
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.results.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.results.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.results.setVisible(False)
        lay.addWidget(self.results)

        self.message = QLabel("")
        self.message.setObjectName("trainingMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.message)
        lay.addStretch(1)

        row = QHBoxLayout()
        self.start_btn = QPushButton("Start training")
        self.start_btn.setObjectName("trainStart")
        self.start_btn.setDefault(True)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setObjectName("trainCancel")
        self.cancel_btn.clicked.connect(self.cancel)
        self.use_btn = QPushButton("Use this model")
        self.use_btn.setObjectName("trainUse")
        self.use_btn.clicked.connect(self._use)
        row.addWidget(self.start_btn)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.use_btn)
        row.addStretch(1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.close_btn = buttons.button(QDialogButtonBox.StandardButton.Close)
        row.addWidget(buttons)
        lay.addLayout(row)

        if not self.available:
            self.state = "unavailable"
            self.message.setTextFormat(Qt.TextFormat.PlainText)
            self.message.setText(
                f"{NO_TORCH_MESSAGE}\nFor the Python this app runs on: "
                f'"{sys.executable}" -m pip install "attalos-desktop[train]"'
            )
        self._update_buttons()

    # -- state ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.state in ("running", "cancelling")

    def _update_buttons(self) -> None:
        can_start = self.state in ("idle", "done", "cancelled", "error")
        if self.summary is not None and int(getattr(self.summary, "photos", 0)) == 0:
            can_start = False
        self.start_btn.setEnabled(can_start)
        self.start_btn.setText("Train again" if self.state in ("done", "cancelled", "error") else "Start training")
        self.cancel_btn.setVisible(self.running)
        self.cancel_btn.setEnabled(self.state == "running")
        self.use_btn.setVisible(self.state == "done")
        self.use_btn.setEnabled(self.state == "done" and bool(self.bundle) and not self._switching)

    def set_summary(self, summary: Any) -> None:
        """What there is to learn from (workers.TrainingSummary, from the query thread)."""
        self.summary = summary
        n = int(getattr(summary, "photos", 0))
        words: dict[str, int] = dict(getattr(summary, "words", {}) or {})
        new = set(getattr(summary, "new_words", []) or [])
        if n == 0:
            self.summary_label.setText(
                "You have not tagged any photos yet. Tag a few (<i>Suggest tags…</i> on a photo, or type your own "
                "words there), then come back to train."
            )
        else:
            shown = list(words.items())[:40]
            parts = [f"{html.escape(w)} ({c}{', new' if w in new else ''})" for w, c in shown]
            more = f", and {len(words) - len(shown)} more" if len(words) > len(shown) else ""
            new_note = f" {len(new)} of them the current model does not know yet." if new else ""
            self.summary_label.setText(
                f"<b>{n:,}</b> photo(s) carry your tags, with <b>{len(words):,}</b> word(s): "
                + ", ".join(parts)
                + more
                + "."
                + new_note
            )
        self._update_buttons()

    # -- the child process ---------------------------------------------------------------------
    @Slot()
    def start(self) -> bool:
        if not self.available or self.running:
            return False
        argv = [str(a) for a in self.command(resolve_home(self.home))]
        self.bundle, self.metrics, self.error, self._done_event = None, {}, None, None
        self._stdout = self._stderr = b""
        self.results.setVisible(False)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setText("")
        self.message.setStyleSheet("")
        self.phase_label.setText("Starting the trainer…")
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")  # progress lines arrive as they are printed
        proc.setProcessEnvironment(env)
        proc.setProgram(argv[0])
        proc.setArguments(argv[1:])
        proc.readyReadStandardOutput.connect(self._on_stdout)
        proc.readyReadStandardError.connect(self._on_stderr)
        proc.finished.connect(self._on_finished)
        proc.errorOccurred.connect(self._on_process_error)
        self.proc = proc
        self.state = "running"
        self._update_buttons()
        proc.start()
        return True

    @Slot()
    def cancel(self) -> None:
        """Stop the trainer (SIGTERM; it writes nothing). Killed if it does not stop in time."""
        if self.state != "running" or self.proc is None:
            return
        self.state = "cancelling"
        self.phase_label.setText("Cancelling…")
        self._update_buttons()
        self.proc.terminate()
        self._kill_timer.start(KILL_AFTER_MS)

    @Slot()
    def _kill(self) -> None:
        if self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning:
            self.proc.kill()

    @Slot()
    def _on_stdout(self) -> None:
        if self.proc is None:
            return
        self._stdout += bytes(self.proc.readAllStandardOutput())
        *lines, self._stdout = self._stdout.split(b"\n")
        for line in lines:
            self._on_line(line.decode("utf-8", "replace").strip())

    @Slot()
    def _on_stderr(self) -> None:
        if self.proc is None:
            return
        self._stderr = (self._stderr + bytes(self.proc.readAllStandardError()))[-STDERR_KEEP:]

    def _on_line(self, line: str) -> None:
        if not line.startswith("{"):
            return  # not a protocol line (a library's chatter)
        try:
            ev = json.loads(line)
        except ValueError:
            return
        if not isinstance(ev, dict):
            return
        kind = ev.get("event")
        if kind == "start":
            mode = str(ev.get("mode", ""))
            how = MODES.get(mode, mode)
            self.phase_label.setText(
                f"Training on {int(ev.get('photos', 0)):,} photo(s) and {int(ev.get('words', 0)):,} word(s)"
                + (f" — {how}" if how else "")
                + "."
            )
        elif kind == "progress" and self.state == "running":
            phase = str(ev.get("phase", ""))
            done, total = int(ev.get("done", 0) or 0), int(ev.get("total", 0) or 0)
            self.phase = phase
            if total > 0:
                self.progress.setRange(0, total)
                self.progress.setValue(min(done, total))
                self.progress.setFormat(f"{PHASES.get(phase, phase.capitalize())}: %v / %m")
            else:
                self.progress.setRange(0, 0)
            self.phase_label.setText(PHASES.get(phase, phase.capitalize() or "Working") + "…")
        elif kind == "done":
            self._done_event = ev

    def _stderr_reason(self) -> str | None:
        text = self._stderr.decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        for ln in reversed(lines):
            if ln.startswith(ERROR_PREFIX):
                return ln
        return lines[-1] if lines else None

    @Slot(int, QProcess.ExitStatus)
    def _on_finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill_timer.stop()
        self._on_stdout()
        if self._stdout.strip():
            self._on_line(self._stdout.decode("utf-8", "replace").strip())
            self._stdout = b""
        self._on_stderr()
        cancelled = self.state == "cancelling"
        self.proc = None
        self.progress.setVisible(False)
        if cancelled and not (code == 0 and self._done_event):
            self.state = "cancelled"
            self.phase_label.setText("")
            self._say("Cancelled; nothing was changed.")
        elif (
            code == 0
            and status == QProcess.ExitStatus.NormalExit
            and self._done_event
            and self._done_event.get("bundle")
        ):
            self.state = "done"
            self._show_done(self._done_event)
        else:
            self.state = "error"
            reason = self._stderr_reason()
            if not reason:
                reason = (
                    "The trainer ended without a result."
                    if code == 0 and status == QProcess.ExitStatus.NormalExit
                    else f"The trainer stopped unexpectedly (exit status {code})."
                )
            self.error = reason
            self.phase_label.setText("Training failed.")
            self._say(reason, error=True)
        self._update_buttons()
        self.runFinished.emit(self.state)

    @Slot(QProcess.ProcessError)
    def _on_process_error(self, err: QProcess.ProcessError) -> None:
        if err != QProcess.ProcessError.FailedToStart or self.proc is None:
            return  # crashes and exits arrive through finished()
        msg = self.proc.errorString()
        self.proc = None
        self.state = "error"
        self.error = f"Could not start the trainer: {msg}"
        self.progress.setVisible(False)
        self.phase_label.setText("Training failed.")
        self._say(self.error, error=True)
        self._update_buttons()
        self.runFinished.emit(self.state)

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setStyleSheet("color:#d05050;" if error else "")
        self.message.setText(text)

    def _show_done(self, ev: dict[str, Any]) -> None:
        self.bundle = str(ev.get("bundle"))
        self.metrics = dict(ev.get("metrics") or {})
        pe = self.metrics.get("personal_eval") if isinstance(self.metrics.get("personal_eval"), dict) else {}
        for i, (key, _label) in enumerate(RESULT_ROWS):
            m = pe.get(key) if isinstance(pe.get(key), dict) else {}
            for j, name in enumerate(("precision", "recall", "f1")):
                it = QTableWidgetItem(_fmt(m.get(name)))
                it.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.results.setItem(i, j, it)
        self.results.setVisible(bool(pe))
        self._fit_results()
        held, words = pe.get("held_out_photos"), pe.get("words")
        where = (
            f"Measured on {int(held):,} of your tagged photos the training did not see"
            + (f", over {int(words):,} word(s)" if isinstance(words, int) else "")
            + ". "
            if isinstance(held, int)
            else ""
        )
        self.phase_label.setText("Training finished.")
        self._say(f"{where}The new model is in {self.bundle}. “Use this model” switches the library to it.")

    def _fit_results(self) -> None:
        """As tall as its three rows: no empty table area below them."""
        t = self.results
        t.resizeRowsToContents()
        h = t.horizontalHeader().sizeHint().height() + sum(t.rowHeight(i) for i in range(t.rowCount()))
        t.setFixedHeight(h + 2 * t.frameWidth() + 2)

    def result_rows(self) -> dict[str, tuple[str, str, str]]:
        """{row key: (P, R, F1) as shown} of the results table."""
        return {
            key: tuple(self.results.item(i, j).text() if self.results.item(i, j) else "" for j in range(3))  # type: ignore[misc]
            for i, (key, _) in enumerate(RESULT_ROWS)
        }

    # -- switching to the new model --------------------------------------------------------------
    @Slot()
    def _use(self) -> None:
        if self.state == "done" and self.bundle and not self._switching:
            self._switching = True
            self._say("Switching the library to your model…")
            self._update_buttons()
            self.modelChosen.emit(self.bundle)

    @Slot(bool)
    def on_model_switched(self, needs_reembed: bool) -> None:
        if not self._switching:
            return  # a switch made elsewhere (the Models dialog)
        self._switching = False
        self.use_btn.setEnabled(False)
        self.use_btn.setText("In use")
        self._say(
            "The library now uses your model."
            + (" The photos are being re-embedded in the background." if needs_reembed else "")
        )

    def on_switch_failed(self, message: str) -> None:
        if self._switching:
            self._switching = False
            self._say(f"Could not switch to the new model: {message}", error=True)
            self._update_buttons()

    def on_switch_refused(self) -> None:
        if self._switching:
            self._switching = False
            self._say("Wait for indexing to finish (or cancel it), then press “Use this model” again.", error=True)
            self._update_buttons()

    # -- closing -----------------------------------------------------------------------------------
    def reject(self) -> None:
        """Close (or Esc): while training runs this cancels it first; the dialog stays to say so."""
        if self.running:
            self.cancel()
            return
        super().reject()

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.running:
            self.cancel()
            event.ignore()
            return
        super().closeEvent(event)

    def shutdown(self) -> None:
        """The window is closing: stop a running trainer now (it writes nothing when terminated)."""
        proc = self.proc
        if proc is None or proc.state() == QProcess.ProcessState.NotRunning:
            return
        self.state = "cancelling"
        proc.terminate()
        if not proc.waitForFinished(5000):
            proc.kill()
            proc.waitForFinished(2000)
