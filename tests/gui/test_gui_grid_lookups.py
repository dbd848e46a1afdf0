"""The grid model's small lookups (issue 12, item 5: 100k photos): the id -> row map is built when first
asked for, and thumbnails are routed to the rows that asked for them, with the same visible behaviour."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage

from attalos_desktop.core.library import PhotoRow
from attalos_desktop.gui.roles import Role
from attalos_desktop.gui.workers import ThumbnailSignals

SIZE = 128


class FakeLoader:
    def __init__(self) -> None:
        self.signals = ThumbnailSignals()
        self.requested: list[tuple[str, int]] = []

    def request(self, path: str, size: int) -> None:
        self.requested.append((path, size))


def _row(pid: int, path: str) -> PhotoRow:
    return PhotoRow(pid, path, 1, 400, 200, None, None, None, None, 1000, 0.0)


def _image() -> QImage:
    img = QImage(8, 8, QImage.Format.Format_RGB32)
    img.fill(QColor(200, 30, 30))
    return img


def test_thumbnails_reach_every_row_that_shows_the_path(qtbot) -> None:
    from attalos_desktop.gui.grid import PhotoGridModel

    loader = FakeLoader()
    model = PhotoGridModel(loader, SIZE)  # type: ignore[arg-type]
    model.set_photos([_row(1, "/p/a.jpg"), _row(2, "/p/b.jpg"), _row(3, "/p/a.jpg")])
    changed: list[int] = []
    model.dataChanged.connect(lambda a, b, roles=(): changed.extend(range(a.row(), b.row() + 1)))
    deco = Qt.ItemDataRole.DecorationRole
    assert [model.data(model.index(i), deco) for i in range(3)] == [None, None, None]
    assert {p for p, _ in loader.requested} == {"/p/a.jpg", "/p/b.jpg"}

    model.on_thumbnail("/p/a.jpg", SIZE * 2, _image())  # another size (the detail preview): not the grid's
    assert changed == [] and model.data(model.index(0), deco) is None
    model.on_thumbnail("/p/a.jpg", SIZE, _image())
    assert sorted(changed) == [0, 2]
    assert model.data(model.index(0), deco) is not None and model.data(model.index(2), deco) is not None
    assert model.data(model.index(0), Role.STATE) == "ready"

    changed.clear()
    model.on_thumbnail_failed("/p/b.jpg", SIZE, "not an image")
    assert changed == [1] and model.data(model.index(1), Role.STATE) == "broken"
    assert model.data(model.index(1), deco) is None
    assert ("/p/b.jpg", SIZE) not in loader.requested[2:]  # a broken one is not asked for again


def test_thumbnail_asked_for_outside_the_grid_is_kept(qtbot) -> None:
    from attalos_desktop.gui.grid import PhotoGridModel

    loader = FakeLoader()
    model = PhotoGridModel(loader, SIZE)  # type: ignore[arg-type]
    model.set_photos([_row(1, "/p/a.jpg")])
    assert model.pixmap_for("/p/a.jpg") is None  # e.g. the review dialog
    model.on_thumbnail("/p/a.jpg", SIZE, _image())
    assert model.pixmap_for("/p/a.jpg") is not None


def test_row_lookup_follows_appends_and_resets(qtbot) -> None:
    from attalos_desktop.gui.grid import PhotoGridModel

    model = PhotoGridModel(FakeLoader(), SIZE)  # type: ignore[arg-type]
    assert model.append_photos([_row(5, "/p/5.jpg"), _row(9, "/p/9.jpg")]) == 2
    assert model.row_of(9) == 1 and model.row_of(4) is None
    changed: list[int] = []
    model.dataChanged.connect(lambda a, b, roles=(): changed.extend(range(a.row(), b.row() + 1)))
    assert model.append_photos([_row(9, "/p/9-moved.jpg"), _row(12, "/p/12.jpg")]) == 1
    assert changed == [1] and model.photo_at(1).path == "/p/9-moved.jpg"
    assert [model.row_of(i) for i in (5, 9, 12)] == [0, 1, 2] and model.rowCount() == 3
    assert model.update_photos(
        [_row(5, "/p/5.jpg"), _row(9, "/p/9-moved.jpg"), _row(12, "/p/12.jpg"), _row(20, "/p/20.jpg")]
    )
    assert model.row_of(20) == 3
    model.set_photos([_row(12, "/p/12.jpg")], [0.5])
    assert model.row_of(12) == 0 and model.row_of(5) is None
    assert model.append_photos([_row(7, "/p/7.jpg")]) == 1 and model.row_of(7) == 1
