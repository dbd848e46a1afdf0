"""The thumbnail disk cache (Qt-free) and the virtualised grid over many photos."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from attalos_desktop.core.library import PhotoRow
from attalos_desktop.core.thumbnails import ThumbnailCache, ThumbnailError, render_thumbnail


def _jpeg(path: Path, size=(400, 200), colour=(200, 30, 30), exif_orientation: int | None = None) -> Path:
    img = Image.new("RGB", size, colour)
    kw = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kw["exif"] = exif.tobytes()
    img.save(path, "JPEG", quality=90, **kw)
    return path


def test_cache_makes_once_and_refreshes_when_the_photo_changes(tmp_path):
    photo = _jpeg(tmp_path / "a.jpg")
    cache = ThumbnailCache(tmp_path / "cache")
    t1 = cache.get(photo, 128)
    assert t1.is_file() and str(t1).startswith(str(tmp_path / "cache" / "thumbnails"))
    with Image.open(t1) as im:
        assert im.size == (128, 64)
    assert cache.get(photo, 128) == t1 and cache.made == 1  # a hit decodes nothing
    assert cache.get(photo, 256) != t1 and cache.made == 2  # another size is another entry
    # A new version of the photo (mtime/size change) gets a new thumbnail.
    _jpeg(photo, size=(300, 300), colour=(10, 200, 10))
    st = os.stat(photo)
    os.utime(photo, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    t2 = cache.get(photo, 128)
    assert t2 != t1 and cache.made == 3
    with Image.open(t2) as im:
        assert im.size == (128, 128)
    # Writes are atomic: no temp files are left behind.
    assert not [p for p in (tmp_path / "cache").rglob(".*.tmp")]


def test_exif_orientation_is_applied(tmp_path):
    photo = _jpeg(tmp_path / "rot.jpg", size=(400, 200), exif_orientation=6)  # rotate 90° to display
    im = render_thumbnail(photo, 100)
    assert im.size == (50, 100)


def test_unreadable_files_raise_thumbnail_error(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"garbage" * 100)
    cache = ThumbnailCache(tmp_path / "cache")
    with pytest.raises(ThumbnailError, match="cannot decode"):
        cache.get(bad, 64)
    with pytest.raises(ThumbnailError):
        cache.get(tmp_path / "missing.jpg", 64)


def test_grid_with_10000_photos_only_loads_what_is_on_screen(qtbot, tmp_path):
    """Virtualisation: 10,000 rows cost one screenful of thumbnails, at the top and after a jump."""
    from attalos_desktop.gui.grid import PhotoDelegate, PhotoGridModel, PhotoGridView
    from attalos_desktop.gui.workers import ThumbnailLoader

    sources = [_jpeg(tmp_path / f"s{i}.jpg", colour=(i * 20, 100, 200 - i * 20)) for i in range(10)]
    folder = tmp_path / "many"
    folder.mkdir()
    rows = []
    for i in range(10_000):
        p = folder / f"p{i:05d}.jpg"
        os.link(sources[i % 10], p)
        rows.append(PhotoRow(i + 1, str(p), 1, 400, 200, None, None, None, None, 1000, 0.0))
    cache = ThumbnailCache(tmp_path / "cache")
    loader = ThumbnailLoader(cache, threads=2)
    model = PhotoGridModel(loader, 128)
    view = PhotoGridView()
    view.setItemDelegate(PhotoDelegate(128, view))
    view.setModel(model)
    view.resize(900, 700)
    qtbot.addWidget(view)
    view.show()
    model.set_photos(rows)
    qtbot.waitUntil(lambda: len(view.visible_rows()) > 0 and model.thumbnails_ready(view.visible_rows()), timeout=20000)
    first_screen = cache.made
    assert 0 < first_screen < 100

    def at_bottom_and_shown() -> bool:
        view.scrollToBottom()  # the layout is batched: keep jumping to the end until it is laid out
        return view.visible_rows().stop == 10_000 and model.thumbnails_ready(view.visible_rows())

    qtbot.waitUntil(at_bottom_and_shown, timeout=20000)
    assert model.data(model.index(9_999), Qt.ItemDataRole.DecorationRole) is not None
    assert cache.made < 250  # two screenfuls and change, not 10,000
    loader.shutdown()


def test_the_index_job_leaves_the_grids_thumbnails_so_the_window_decodes_none(qtbot, make_window, tmp_path):
    """Photos big enough for the grid's thumbnail at the model's decode scale (camera photos are): the
    window's index job makes their thumbnails while decoding them, so the GUI process decodes none."""
    from gui_helpers import wait_indexed

    folder = tmp_path / "Camera"
    folder.mkdir()
    photos = [_jpeg(folder / f"IMG_{i}.jpg", size=(2000, 1500), colour=(40 * i, 90, 200)) for i in range(5)]
    photos.append(_jpeg(folder / "turned.jpg", size=(2000, 1500), exif_orientation=6))
    w = make_window(tmp_path / "lib")
    w.add_folders([str(folder)])
    report = wait_indexed(qtbot, w)
    assert report is not None and report.new == len(photos), w.errors
    qtbot.waitUntil(lambda: w.model.thumbnails_ready(w.grid.visible_rows()), timeout=20000)
    assert len(w.grid.visible_rows()) == len(photos)
    assert all(w.cache.lookup(p, w.model.thumb_size) for p in photos)
    assert w.cache.made == 0  # every thumbnail came from the index job
    turned = Image.open(w.cache.lookup(photos[-1], w.model.thumb_size))
    assert turned.height > turned.width  # orientation honoured as the window would
