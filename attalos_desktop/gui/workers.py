"""Background work for the GUI: indexing, queries, thumbnails.

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
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from attalos_desktop.core.thumbnails import ThumbnailCache, ThumbnailError


def _open_library(home: str | None, model: str | None = None):
    from attalos_desktop.core.library import Library

    return Library.open(home=home, model=model)


def _describe(exc: BaseException) -> str:
    msg = str(exc).strip()
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


# --------------------------------------------------------------------------------------------
# Indexing
# --------------------------------------------------------------------------------------------


class IndexSignals(QObject):
    progress = Signal(object)  # IndexProgress
    photos = Signal(list)  # a batch of PhotoRow committed since the last batch
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

    POLL_S = 0.02  # also the latency of Cancel reaching the child

    def __init__(self, home: str | None, paths: list[str] | None, label: str = "Indexing") -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.home = home
        self.paths = paths
        self.label = label
        self.cancel_event = threading.Event()
        self.signals = IndexSignals()
        import multiprocessing

        self._ctx = multiprocessing.get_context("spawn")  # never fork a process that runs Qt threads
        # A lock-free shared flag: setting it never blocks (a multiprocessing.Event's set() waits
        # for the child's waiters to wake, which must not happen on the GUI thread).
        self._child_cancel = self._ctx.Value("b", 0, lock=False)
        self.exitcode: int | None = None

    def cancel(self) -> None:
        """Thread-safe and non-blocking; the supervising thread forwards it to the child."""
        self.cancel_event.set()

    def run(self) -> None:  # noqa: D401 - QRunnable API
        from attalos_desktop.gui.index_process import run_index

        final = False
        proc = None
        try:
            recv, send = self._ctx.Pipe(duplex=False)
            proc = self._ctx.Process(
                target=run_index,
                args=(self.home, self.paths, send, self._child_cancel),
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
# Queries: one long-lived thread owning a Library (search, suggestions, similar, tag writes...)
# --------------------------------------------------------------------------------------------


@dataclass
class Detail:
    """Everything the detail panel shows for one photo."""

    photo: Any  # PhotoRow
    user_tags: list[str]
    suggestions: list[Any]  # TagScore


@dataclass
class TrainingSummary:
    """The user's tags as training data: photos with at least one tag, photos per word, new words."""

    photos: int
    words: dict[str, int]  # word -> photos carrying it, most used first
    new_words: list[str]  # words the current model's tag layer does not have


def _warnings(result: Any) -> list[str]:
    """The one-line warnings a tag write returned (older cores return None)."""
    if not result:
        return []
    if isinstance(result, str):
        return [result]
    return [str(x) for x in result if x]


class QueryService(QObject):
    """Lives on its own QThread; answers requests in order with its own Library.

    The bundle (text encoder, tag matrix) stays loaded between requests, so typing in the search
    box costs one text embedding and one ANN query, never a model load. A search that a newer
    search has superseded is skipped without running.
    """

    reply = Signal(int, str, object)  # request id, kind, result
    failed = Signal(int, str, str, str)  # request id, kind, message, traceback
    ready = Signal()
    _request = Signal(int, str, object)

    def __init__(self, home: str | None) -> None:
        super().__init__()
        self.home = home
        self.lib = None
        # Newest request id per kind whose older requests are worthless once superseded (written by
        # the GUI thread, read here; single dict item assignments are atomic under the GIL).
        self.latest: dict[str, int] = {}
        self._request.connect(self._handle)

    def submit(self, req_id: int, kind: str, args: Any) -> None:
        """Thread-safe: queue a request (called from the GUI thread)."""
        self._request.emit(req_id, kind, args)

    @Slot()
    def start(self) -> None:
        try:
            self.lib = _open_library(self.home)
        except BaseException as exc:  # noqa: BLE001
            self.failed.emit(0, "open", _describe(exc), traceback.format_exc())
        self.ready.emit()

    @Slot()
    def stop(self) -> None:
        if self.lib is not None:
            try:
                self.lib.close()
            except Exception:  # noqa: BLE001
                pass
            self.lib = None

    @Slot(int, str, object)
    def _handle(self, req_id: int, kind: str, args: Any) -> None:
        if req_id < self.latest.get(kind, 0):
            return  # superseded while queued (typing in the search box, arrowing through photos)
        try:
            if kind == "reopen":
                self.stop()
                self.lib = _open_library(self.home)
                result: Any = True
            else:
                if self.lib is None:
                    self.lib = _open_library(self.home)
                result = getattr(self, f"_do_{kind}")(args)
        except BaseException as exc:  # noqa: BLE001
            self.failed.emit(req_id, kind, _describe(exc), traceback.format_exc())
            return
        self.reply.emit(req_id, kind, result)

    # Each _do_* runs on the service thread.
    def _do_photos(self, root_id: Any) -> list[Any]:
        return self.lib.photos(root_id=root_id)

    def _rows_for(self, hits: list[Any]) -> tuple[list[Any], list[Any]]:
        rows, kept = [], []
        for h in hits:
            try:
                rows.append(self.lib.photo(h.photo_id))
            except (KeyError, LookupError):
                continue  # removed by an indexer since the vector index was saved
            kept.append(h)
        return rows, kept

    def _do_search(self, args: tuple[str, int]) -> tuple[str, list[Any], list[Any]]:
        text, limit = args
        rows, hits = self._rows_for(self.lib.search(text, limit=limit))
        return text, rows, hits

    def _do_similar(self, args: tuple[int, int]) -> tuple[int, list[Any], list[Any]]:
        photo_id, limit = args
        rows, hits = self._rows_for(self.lib.similar(photo_id=photo_id, limit=limit))
        return photo_id, rows, hits

    def _do_detail(self, args: tuple[int, int, float]) -> Detail:
        photo_id, top, min_score = args
        photo = self.lib.photo(photo_id)
        return Detail(photo, self.lib.user_tags(photo_id), self.lib.suggest_tags(photo_id, top=top, min_score=min_score))

    def _do_suggest(self, args: tuple[list[int], int, float]) -> dict[int, Detail]:
        ids, top, min_score = args
        out: dict[int, Detail] = {}
        for pid in ids:
            out[pid] = Detail(self.lib.photo(pid), self.lib.user_tags(pid), self.lib.suggest_tags(pid, top=top, min_score=min_score))
        return out

    def _do_review(self, decisions: list[tuple[int, list[str], list[str]]]) -> tuple[list[int], list[str]]:
        """Save the decisions; returns (photo ids, one-line warnings such as an unwritable sidecar)."""
        done: list[int] = []
        warnings: list[str] = []
        for pid, accepted, rejected in decisions:
            if accepted:
                warnings += _warnings(self.lib.accept_tags(pid, accepted))
            if rejected:
                warnings += _warnings(self.lib.reject_tags(pid, rejected))
            done.append(pid)
        return done, warnings

    def _do_remove_tags(self, args: tuple[int, list[str]]) -> tuple[int, list[str]]:
        pid, tags = args
        return pid, _warnings(self.lib.remove_user_tags(pid, tags))

    def _do_get_sidecars(self, _args: Any) -> bool:
        return bool(self.lib.sidecars_enabled())

    def _do_set_sidecars(self, on: bool) -> bool:
        self.lib.set_sidecars_enabled(bool(on))
        return bool(self.lib.sidecars_enabled())

    def _do_training_summary(self, _args: Any) -> TrainingSummary:
        """How many photos carry the user's own tags, and each word's photo count (for Train on my tags)."""
        counts: dict[str, int] = {}
        photos = 0
        for row in self.lib.photos():
            tags = self.lib.user_tags(row.id)
            if tags:
                photos += 1
                for t in tags:
                    counts[t] = counts.get(t, 0) + 1
        known = set(self.lib.bundle.tags)
        return TrainingSummary(photos, dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), sorted(set(counts) - known))

    def _do_failures(self, _args: Any) -> list[Any]:
        return self.lib.failures()

    def _do_completion(self, _args: Any) -> list[str]:
        return self.lib.completion_words()

    def _do_models(self, _args: Any) -> tuple[list[dict], str, str]:
        bundle = self.lib.bundle  # loaded first, so available_models() lists it even from elsewhere
        return self.lib.available_models(), str(bundle.path), self.lib.provider

    def _do_set_model(self, path: str) -> bool:
        needs = bool(self.lib.set_model(path))
        # Reopen so this thread's Library reads with the model the library now remembers.
        self.stop()
        self.lib = _open_library(self.home)
        return needs

    def _do_remove_root(self, root_id: Any) -> Any:
        self.lib.remove_root(root_id)
        return root_id


class QueryClient(QObject):
    """GUI-side handle of the QueryService thread: numbered requests, replies as signals."""

    reply = Signal(int, str, object)
    failed = Signal(int, str, str, str)

    SUPERSEDED = frozenset(
        {"search", "similar", "detail", "photos", "failures", "models", "completion", "get_sidecars", "training_summary"}
    )

    def __init__(self, home: str | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._next = 0
        self._pending: set[int] = set()
        self._latest: dict[str, int] = {}
        self.thread = QThread()
        self.thread.setObjectName("attalos-query")
        self.service = QueryService(home)
        self.service.moveToThread(self.thread)
        self.thread.started.connect(self.service.start)
        self.service.reply.connect(self._on_reply)
        self.service.failed.connect(self._on_failed)
        self.thread.start()

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def request(self, kind: str, args: Any = None) -> int:
        self._next += 1
        rid = self._next
        self._pending.add(rid)
        if kind in self.SUPERSEDED:
            # Older queued requests of this kind are skipped by the service and never answer.
            old = self._latest.get(kind)
            if old is not None:
                self._pending.discard(old)
            self._latest[kind] = rid
            self.service.latest[kind] = rid
        self.service.submit(rid, kind, args)
        return rid

    @Slot(int, str, object)
    def _on_reply(self, rid: int, kind: str, result: object) -> None:
        self._pending.discard(rid)
        self.reply.emit(rid, kind, result)

    @Slot(int, str, str, str)
    def _on_failed(self, rid: int, kind: str, msg: str, tb: str) -> None:
        self._pending.discard(rid)
        self.failed.emit(rid, kind, msg, tb)

    def shutdown(self) -> None:
        if not self.thread.isRunning():
            return
        # stop() must run on the service thread (the Library's SQLite connection lives there).
        from PySide6.QtCore import QMetaObject, Qt

        QMetaObject.invokeMethod(self.service, "stop", Qt.ConnectionType.BlockingQueuedConnection)
        self.thread.quit()
        self.thread.wait(10000)


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

    def __init__(self, cache: ThumbnailCache, threads: int = 2, max_pending: int = 600, parent: QObject | None = None) -> None:
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
            start = self._active < self._threads
            if start:
                self._active += 1
        if start:
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
