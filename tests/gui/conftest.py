"""GUI test fixtures: offscreen Qt, every user dir redirected into tmp_path, generated photos, real core."""

from __future__ import annotations

import os

# Before anything imports Qt: no display is needed or wanted.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Errors still reach window.errors and the status bar; no message boxes pile up in headless runs.
os.environ.setdefault("ATTALOS_GUI_NO_POPUPS", "1")

import shutil
from pathlib import Path
from typing import Any

import pytest
from gui_helpers import index_library, write_photos


@pytest.fixture(autouse=True)
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Config, cache and the default library home all live under tmp_path."""
    dirs = {name: tmp_path / name for name in ("config", "cache", "home")}
    for d in dirs.values():
        d.mkdir()
    monkeypatch.setenv("ATTALOS_CONFIG_DIR", str(dirs["config"]))
    monkeypatch.setenv("ATTALOS_CACHE_DIR", str(dirs["cache"]))
    monkeypatch.setenv("ATTALOS_HOME", str(dirs["home"]))
    return dirs


@pytest.fixture
def make_window(qtbot):
    """Factory: a shown MainWindow on a library home; closed (settings saved, threads stopped) at teardown."""
    from attalos_desktop.gui.window import MainWindow

    made = []

    def make(home: Path | str | None = None, size: tuple[int, int] | None = (1200, 760)) -> MainWindow:
        w = MainWindow(home=str(home) if home is not None else None)
        qtbot.addWidget(w)
        if size is not None:
            w.resize(*size)
        w.show()
        made.append(w)
        # The first listing comes from the query thread.
        qtbot.waitUntil(lambda: not w.query.busy, timeout=30000)
        return w

    yield make
    for w in made:
        w.shutdown()


@pytest.fixture(scope="session")
def indexed_library(tmp_path_factory) -> dict[str, Any]:
    """One library of generated photos indexed once per session; tests copy it before changing it.

    Photo 0 is the only one on water with a yellow star: no other photo shows water, yellow or star.
    """
    base = tmp_path_factory.mktemp("indexed")
    photos = write_photos(
        base / "photos",
        16,
        seed=7,
        specs=[{"background": "water", "objects": [("yellow", "star")]}],
        exclude=("water", "yellow", "star"),
    )
    home = base / "home"
    report = index_library(home, [base / "photos"])
    assert report.new == len(photos) and not report.failures
    return {"home": home, "photos": photos, "folder": base / "photos", "target": photos[0]}


@pytest.fixture
def library_copy(indexed_library, tmp_path: Path) -> dict[str, Any]:
    """A private library: a copy of the session's photos, indexed afresh (well under a second).

    The photos are copied too, not only the catalog: accepting a tag writes an XMP sidecar next to
    the photo, and a sidecar left in a shared folder would leak one test's tags into the next.
    """
    folder = tmp_path / "photos"
    shutil.copytree(indexed_library["folder"], folder, ignore=shutil.ignore_patterns("*.xmp"))
    home = tmp_path / "libcopy"
    report = index_library(home, [folder])
    assert report.new == len(indexed_library["photos"]) and not report.failures
    photos = [folder / p.name for p in indexed_library["photos"]]
    return {**indexed_library, "home": home, "folder": folder, "photos": photos, "target": photos[0]}
