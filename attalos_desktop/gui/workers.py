"""Background work for the GUI: indexing (in a child process) and thumbnails (queries: queries.py).

Rules kept everywhere here:
- signals live on separate QObjects created on the GUI thread; workers only emit them, so every
  connected slot (decorated with @Slot on a GUI object) runs on the GUI thread;
- each worker opens its own ``Library`` in its own thread (a Library belongs to its thread);
- exceptions never vanish: they are emitted as (message, traceback) and the window shows them;
- cancellation is cooperative (a threading.Event handed to ``Library.index``).
"""

from __future__ import annotations

import collections
import threading
import traceback
from typing import Any

from PySide6.QtCore import QMetaObject, QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from attalos_desktop.core.thumbnails import ThumbnailCache, ThumbnailError


from attalos_desktop.gui.queries import describe as _describe


# --------------------------------------------------------------------------------------------
# Indexing
# --------------------------------------------------------------------------------------------


class IndexSignals(QObject):
    progress = Signal(object)  # IndexProgress
    photos = Signal(list)  # a batch of PhotoRow committed since the last batch
    notices = Signal(list)  # one-line notices of the core in the child (repairs it made)
    result = Signal(object)  # IndexReport
    error = Signal(str, str)  # message, traceback
    finished = Signal()


class IndexWorker(QRunnable):
    """Runs ``Library.index(paths)`` for the window, in a child process it supervises.

    The QRunnable's pool thread starts the job (``index_process.run_index``) in a spawned process,
    relays its messages as signals (progress, batches of committed photos, the report, or an
    error with its traceback) and forwards Cancel. See index_process.py for why a process: the
    GUI thread must not compete for the GIL with the indexer's Python threads.
    """

    # How often the supervising thread wakes when the child is silent. Messages and the child's exit
    # (EOF on the pipe) wake it at once and cancel() sets the child's flag itself, so this is only a
    # backstop; each wake-up takes the GIL from the GUI thread (~0.2 ms measured here), and at
    # 20 ms that was 50 a second for the whole run.
    POLL_S = 0.5

    def __init__(
        self,
        home: str | None,
        paths: list[str] | None,
        label: str = "Indexing",
        thumbnails: tuple[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.home = home
        self.paths = paths
        self.thumbnails = thumbnails  # (cache root, size): the child makes the grid's thumbnails too
        self.label = label
        self.cancel_event = threading.Event()
        self.signals = IndexSignals()
        self.exitcode: int | None = None
        self._child_cancel: Any = None  # the child's shared flag, once run() made it
        # multiprocessing is set up in run(), on the pool thread: making the shared flag costs the
        # GUI thread tens of milliseconds the first time (imports, a shared-memory arena).

    def cancel(self) -> None:
        """Thread-safe and non-blocking: sets the child's flag now (or run() does, when it makes it)."""
        self.cancel_event.set()
        flag = self._child_cancel
        if flag is not None:
            flag.value = 1  # a plain byte in shared memory: never blocks

    def run(self) -> None:  # noqa: D401 - QRunnable API
        from attalos_desktop.gui.index_process import run_index

        import multiprocessing

        final = False
        proc = None
        try:
            ctx = multiprocessing.get_context("spawn")  # never fork a process that runs Qt threads
            # A lock-free shared flag: setting it never blocks (a multiprocessing.Event's set() waits
            # for the child's waiters to wake); it only ever goes from 0 to 1 (here or in cancel()).
            self._child_cancel = ctx.Value("b", 0, lock=False)
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(
                target=run_index,
                args=(self.home, self.paths, send, self._child_cancel, self.thumbnails),
                name="attalos-index",
                daemon=True,
            )
            proc.start()
            send.close()  # the child holds the only writer: EOF when it exits
            while True:
                if self.cancel_event.is_set():
                    self._child_cancel.value = 1
                try:
                    ready = recv.poll(self.POLL_S)
                except (EOFError, OSError):
                    break
                if not ready:
                    if not proc.is_alive() and not recv.poll(0):
                        break
                    continue
                try:
                    msg = recv.recv()
                except (EOFError, OSError):
                    break
                kind = msg[0]
                if kind == "progress":
                    self.signals.progress.emit(msg[1])
                elif kind == "photos":
                    self.signals.photos.emit(msg[1])
                elif kind == "notices":
                    self.signals.notices.emit(msg[1])
                elif kind == "result":
                    final = True
                    self.signals.result.emit(msg[1])
                elif kind == "error":
                    final = True
                    self.signals.error.emit(msg[1], msg[2])
            proc.join(30)
            self.exitcode = proc.exitcode
            if not final:
                self.signals.error.emit(
                    f"the indexer stopped unexpectedly (exit code {proc.exitcode}); "
                    "what it committed is kept and a rescan resumes",
                    "",
                )
        except BaseException as exc:  # noqa: BLE001 - reported to the UI, never lost
            self.signals.error.emit(_describe(exc), traceback.format_exc())
        finally:
            if proc is not None and proc.is_alive():
                self._child_cancel.value = 1
                proc.join(60)
                if proc.is_alive():
                    proc.terminate()
                    proc.join(5)
            self.signals.finished.emit()


# --------------------------------------------------------------------------------------------
# Thumbnails
# --------------------------------------------------------------------------------------------


class ThumbnailSignals(QObject):
    loaded = Signal(str, int, QImage)  # path, size, image
    failed = Signal(str, int, str)  # path, size, reason
    idle = Signal()


class _ThumbnailJob(QRunnable):
    def __init__(self, loader: "ThumbnailLoader") -> None:
        super().__init__()
        self.loader = loader

    def run(self) -> None:
        self.loader._work()


class ThumbnailLoader(QObject):
    """Loads thumbnails from the disk cache (making them on a miss) on a small thread pool.

    Requests are served newest first (what the user scrolled to last is what they look at); when
    more than ``max_pending`` wait, the oldest are dropped and will simply be asked for again if
    their cells are painted again.
    """

    def __init__(
        self, cache: ThumbnailCache, threads: int = 2, max_pending: int = 600, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.cache = cache
        self.signals = ThumbnailSignals()
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(max(1, threads))
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._queue: collections.deque[tuple[str, int]] = collections.deque()
        self._pending: set[tuple[str, int]] = set()
        self._active = 0
        self._threads = max(1, threads)
        self._stopped = False
        self._kick_posted = False  # a _start_workers call is queued

    def request(self, path: str, size: int) -> None:
        key = (path, int(size))
        with self._lock:
            if self._stopped or key in self._pending:
                return
            self._pending.add(key)
            self._queue.append(key)
            while len(self._queue) > self.max_pending:
                old = self._queue.popleft()
                self._pending.discard(old)
            kick = not self._kick_posted and self._active < self._threads
            if kick:
                self._kick_posted = True
        if kick:
            # The threads start after the current event, not now: a paint asks for a screenful of
            # thumbnails cell by cell, and threads started from inside it would take the GIL from the
            # GUI thread at every cell still to paint (measured: 5-17 ms of a 40-100 ms stall on the
            # first batch of an index run).
            QMetaObject.invokeMethod(self, "_start_workers", Qt.ConnectionType.QueuedConnection)

    @Slot()
    def _start_workers(self) -> None:
        with self._lock:
            self._kick_posted = False
            n = 0 if self._stopped else min(self._threads - self._active, len(self._queue))
            self._active += n
        for _ in range(n):
            self.pool.start(_ThumbnailJob(self))

    def is_pending(self, path: str, size: int) -> bool:
        with self._lock:
            return (path, int(size)) in self._pending

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._pending) or self._active > 0

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue or self._stopped:
                    self._active -= 1
                    idle = self._active == 0 and not self._queue
                    break
                key = self._queue.pop()
            path, size = key
            try:
                file = self.cache.get(path, size)
                img = QImage(str(file))
                if img.isNull():
                    raise ThumbnailError(f"{path}: cached thumbnail unreadable")
                with self._lock:
                    self._pending.discard(key)
                self.signals.loaded.emit(path, size, img)
            except Exception as exc:  # noqa: BLE001 - a bad photo just shows as broken
                with self._lock:
                    self._pending.discard(key)
                self.signals.failed.emit(path, size, str(exc))
        if idle:
            self.signals.idle.emit()

    def shutdown(self) -> None:
        with self._lock:
            self._stopped = True
            self._queue.clear()
            self._pending.clear()
        self.pool.waitForDone(5000)
