"""Adding folders, indexing with progress and cancel, the empty state and the Problems view."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, QPoint, QPointF, Qt, QUrl, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from attalos_desktop.core.library import Library
from attalos_desktop.gui.roles import Role

from gui_helpers import wait_indexed, write_photos


class CancelOnFirstBatch(QObject):
    """Clicks Cancel like a user as soon as the first batch of photos is committed."""

    def __init__(self, w, qtbot) -> None:
        super().__init__()
        self.w, self.qtbot = w, qtbot
        self.cancelled_at: list[int] = []

    @Slot(list)
    def on_photos(self, rows) -> None:
        if not self.cancelled_at:
            self.cancelled_at.append(len(rows))
            self.qtbot.mouseClick(self.w.status.cancel_btn, Qt.MouseButton.LeftButton)


def _drop_folder(w, folder: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    # QApplication does not deliver synthetic drag events without a real drag, so hand them to
    # the window's handlers the way Qt would: enter (must be accepted), then drop.
    enter = QDragEnterEvent(
        QPoint(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    w.dragEnterEvent(enter)
    assert enter.isAccepted()
    ev = QDropEvent(
        QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    w.dropEvent(ev)
    assert ev.isAccepted()


def test_empty_library_invites_to_add_a_folder_and_a_dropped_folder_fills_the_grid(qtbot, make_window, tmp_path):
    photos = write_photos(tmp_path / "Holiday", 12, seed=1)
    w = make_window(tmp_path / "lib")

    # First start: the empty state, with its "Add folder…" button, and nothing to browse.
    assert w.is_empty_state()
    assert w.empty.button.isVisible() and "Add folder" in w.empty.button.text()
    assert w.sidebar_items()["all"].startswith("All photos") and w.model.rowCount() == 0

    inserted = []
    w.model.rowsInserted.connect(lambda _p, first, last: inserted.append(last - first + 1))
    _drop_folder(w, tmp_path / "Holiday")
    assert w.indexing and w.status.progress.isVisible() and w.status.cancel_btn.isVisible()
    assert not w.is_empty_state()
    report = wait_indexed(qtbot, w)

    assert report is not None, w.errors
    assert not report.cancelled and report.new == len(photos)
    # The grid filled while photos arrived (row insertions during the run), then shows every photo.
    assert sum(inserted) == len(photos)
    shown = sorted(w.model.photo_at(i).path for i in range(w.model.rowCount()))
    assert shown == sorted(str(p.resolve()) for p in photos)
    # Sidebar: the new root with its count; the status bar reports completion; progress is hidden.
    items = w.sidebar_items()
    assert any(v == f"Holiday  ({len(photos)})" for k, v in items.items() if k.startswith("root:")), items
    assert items["all"] == f"All photos  ({len(photos)})"
    assert "finished" in w.status.text() and not w.status.progress.isVisible()
    # Thumbnails arrive off the GUI thread and replace the placeholders.
    qtbot.waitUntil(lambda: w.model.thumbnails_ready(w.grid.visible_rows()), timeout=20000)
    assert len(w.grid.visible_rows()) > 0
    assert w.errors == []


def test_cancel_midway_leaves_a_consistent_library_that_resumes(qtbot, make_window, tmp_path):
    # Enough photos that the job is still running when Cancel arrives, even with a fast model:
    # 32 generated photos, each also copied 15 times (distinct files, same content).
    base = write_photos(tmp_path / "many", 32, seed=2)
    photos = list(base)
    for k in range(1, 16):
        for p in base:
            q = p.with_name(f"{p.stem}_copy{k:02d}.jpg")
            shutil.copyfile(p, q)
            photos.append(q)
    n = len(photos)
    home = tmp_path / "lib"
    w = make_window(home)

    canceller = CancelOnFirstBatch(w, qtbot)
    w.add_folders([str(tmp_path / "many")])
    w.index_worker.signals.photos.connect(canceller.on_photos)
    report = wait_indexed(qtbot, w)
    cancelled_at = canceller.cancelled_at

    assert cancelled_at, "no photo arrived before the end"
    assert report.cancelled and 0 < report.new < n
    assert "cancelled" in w.status.text()
    first = report.new
    assert w.model.rowCount() == first

    # Consistent: every catalogued photo is searchable and nothing else is.
    lib = Library.open(home=str(home))
    try:
        ids = {p.id for p in lib.photos()}
        assert len(ids) == first
        assert set(lib._index().live_ids().tolist()) == ids  # the vector index holds exactly the catalogued photos
        # Search reaches them (an approximate index over 16 identical copies of each photo may skip a few).
        hits = {h.photo_id for h in lib.search("photo of a shape", limit=n)}
        assert hits <= ids and len(hits) >= 0.9 * len(ids)
        assert lib.failures() == []
    finally:
        lib.close()

    # Rescan (F5) resumes: only the rest is embedded, and every photo is shown once.
    w.act_rescan.trigger()
    report2 = wait_indexed(qtbot, w)
    assert not report2.cancelled and report2.new == n - first and report2.unchanged == first
    shown = [w.model.photo_at(i).path for i in range(w.model.rowCount())]
    assert len(shown) == len(set(shown)) == n
    assert set(shown) == {str(p.resolve()) for p in photos}
    assert w.errors == []


def test_closing_the_window_while_indexing_stops_the_job_cleanly(qtbot, make_window, tmp_path):
    base = write_photos(tmp_path / "big", 32, seed=4)
    for k in range(1, 48):  # 1,536 photos: still indexing when the first ones show, however fast the machine
        for p in base:
            shutil.copyfile(p, p.with_name(f"{p.stem}_copy{k:02d}.jpg"))
    home = tmp_path / "lib"
    w = make_window(home)
    w.add_folders([str(tmp_path / "big")])
    worker = w.index_worker
    qtbot.waitUntil(lambda: w.model.rowCount() > 0, timeout=30000)
    assert w.indexing  # the job is in flight when the window closes
    w.close()  # cancels, waits for the batch in flight, stops every thread
    assert w.last_index_exitcode == 0  # the child process ended by itself, not killed
    assert worker.cancel_event.is_set()
    lib = Library.open(home=str(home))
    try:
        n = len(lib.photos())
        assert 0 < n < 32 * 48  # stopped before the end
        assert len(lib.search("shape", limit=2000)) == n  # catalog and vector index agree
    finally:
        lib.close()


def test_problems_view_lists_corrupt_files_with_reasons(qtbot, make_window, tmp_path):
    folder = tmp_path / "mixed"
    good = write_photos(folder, 4, seed=3)
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10)
    trunc = folder / "truncated.jpg"
    trunc.write_bytes(good[0].read_bytes()[:300])
    w = make_window(tmp_path / "lib")
    w.add_folders([str(folder)])
    report = wait_indexed(qtbot, w)
    assert report.new == len(good)

    items = w.sidebar_items()
    assert items["problems"] == "Problems  (2)"
    # Click the sidebar entry like a user.
    for i in range(w.sidebar.topLevelItemCount()):
        it = w.sidebar.topLevelItem(i)
        if it.data(0, Role.VIEW_KEY) == "problems":
            w.sidebar.setCurrentItem(it)
    qtbot.waitUntil(lambda: w.problems_page.table.rowCount() == 2, timeout=10000)
    assert w.stack.currentWidget() is w.problems_page
    rows = dict(w.problems_page.rows())
    assert set(rows) == {str((folder / "corrupt.jpg").resolve()), str(trunc.resolve())}
    assert all(reason.strip() for reason in rows.values())
    # The good photos are still browsable.
    w.select_view("all")
    qtbot.waitUntil(lambda: w.model.rowCount() == len(good), timeout=10000)
    assert w.errors == []
