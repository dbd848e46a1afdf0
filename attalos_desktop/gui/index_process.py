"""The child-process side of an index job (no Qt here).

Why a process: indexing runs Python-heavy code (EXIF parsing, catalog writes, per-photo bookkeeping)
on several threads. In the GUI's own process those threads contend for the GIL with the GUI thread,
and every Qt call that releases and re-takes the GIL waits behind them: measured here, two busy
Python threads stretch a 10 ms GUI timer to 116 ms. In a child process the GUI thread keeps its GIL
to itself; the supervising QRunnable in the GUI process only waits on a pipe.

The job still is ``Library.index(paths, progress=..., cancel=threading.Event, on_photo=...)`` on a
Library opened by the job itself; its callbacks are forwarded over the pipe as picklable core
dataclasses. Cancellation is cooperative: the GUI sets a shared flag, a watcher thread here mirrors it into the threading.Event the core polls (and also cancels when the GUI process
dies, so an orphaned indexer stops after its batch in flight instead of running on).
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any

PHOTO_BATCH_S = 0.2
NICENESS = 10


def describe(exc: BaseException) -> str:
    msg = str(exc).strip()
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def _send_notices(conn: Any) -> None:
    """What the core repaired in this process (a rebuilt index...): the window shows it."""
    from attalos_desktop.core import notices

    lines = notices.pending()
    if lines:
        conn.send(("notices", lines))


def run_index(
    home: str | None,
    paths: list[str] | None,
    conn: Any,
    cancel_requested: Any,
    thumbnails: tuple[str, int] | None = None,
) -> None:
    """Entry point of the child process: index, streaming ("progress"|"photos"|"notices"|"result"|"error", ...).

    ``thumbnails`` (cache root, size): also leave the grid's thumbnail of each photo decoded, made from
    the same decode; then the window's threads only read them (no decoding, little GIL, in the GUI process)."""
    import multiprocessing
    import os

    try:
        os.nice(NICENESS)  # background work: the window must win the CPU on a busy machine
    except (AttributeError, OSError):
        pass
    try:
        # Batch policy (Linux; inherited by the threads the indexer starts below): same CPU share,
        # but its threads' wake-ups never preempt a running thread. With the window's process at
        # the same nice level (a nice'd session, or the cap of 19) they otherwise cut into the
        # GUI thread's turns each time a decode or an inference step finishes.
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except (AttributeError, OSError):
        pass
    cancel = threading.Event()
    finished = threading.Event()
    parent = multiprocessing.parent_process()

    def watch() -> None:
        while not finished.wait(0.02):
            if cancel_requested.value or (parent is not None and not parent.is_alive()):
                cancel.set()
                return

    threading.Thread(target=watch, name="attalos-index-cancel-watch", daemon=True).start()

    batch: list[Any] = []
    last_flush = [time.monotonic()]

    def flush() -> None:
        if batch:
            conn.send(("photos", list(batch)))
            batch.clear()
        last_flush[0] = time.monotonic()

    def on_photo(row: Any) -> None:
        batch.append(row)
        if time.monotonic() - last_flush[0] >= PHOTO_BATCH_S:
            flush()

    def progress(p: Any) -> None:
        flush()  # photos first, so the grid is never behind the progress bar
        conn.send(("progress", p))

    try:
        from attalos_desktop.core.library import Library
        from attalos_desktop.core.pipeline import ThumbnailTarget
        from attalos_desktop.core.thumbnails import ThumbnailCache

        target = ThumbnailTarget(ThumbnailCache(thumbnails[0]), thumbnails[1]) if thumbnails else None
        lib = Library.open(home=home)
        try:
            report = lib.index(paths, progress=progress, cancel=cancel, on_photo=on_photo, thumbnails=target)
        finally:
            lib.close()
        flush()
        _send_notices(conn)
        conn.send(("result", report))
    except BaseException as exc:  # noqa: BLE001 - reported to the GUI, never lost
        try:
            flush()
            _send_notices(conn)
            conn.send(("error", describe(exc), traceback.format_exc()))
        except Exception:  # noqa: BLE001 - the GUI end is gone; nothing left to tell
            pass
    finally:
        finished.set()
        conn.close()
