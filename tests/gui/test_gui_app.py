"""Models dialog and switching, settings persistence, screenshot mode, responsiveness while indexing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gui_helpers import wait_indexed, write_photos
from PySide6.QtCore import QObject, Qt, QTimer, Slot

from attalos_desktop.core.bundle import load_bundle, write_bundle
from attalos_desktop.core.library import Library


def _alt_bundle(home: Path) -> Path:
    """The library's current bundle re-exported under <home>/models with another image-encoder identity."""
    onnx = pytest.importorskip("onnx")
    lib = Library.open(home=str(home))
    src = lib.bundle
    lib.close()
    model = onnx.load(str(src.encoder_path))
    model.doc_string = "alternative export for the model-switch test"  # same maths, new file hash
    enc = home.parent / "alt-encoder.onnx"
    onnx.save(model, str(enc))
    b = load_bundle(src.path)
    return write_bundle(
        home / "models" / "alt",
        name="alt-model",
        encoder_onnx=enc,
        preprocessing=b.preprocessing,
        text=b.text,
        tags=b.tags,
        tag_vectors=b.tag_vectors,
        tag_freq=b.tag_freq,
        words=b.words,
        word_vectors=b.word_vectors,
        ngram_vectors=b.ngram_vectors,
        text_map=b.text_map,
        training=b.manifest.get("training", {}),
        metrics={"test_metric": 0.5},
    )


def test_models_dialog_lists_bundles_and_switching_re_embeds_in_the_background(qtbot, make_window, library_copy):
    home = library_copy["home"]
    alt = _alt_bundle(home)
    broken = home / "models" / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{}", encoding="utf-8")
    n = len(library_copy["photos"])
    w = make_window(home)

    with qtbot.waitSignal(w.modelsLoaded, timeout=20000):
        dlg = w.show_models()
    names = [dlg.table.item(i, 0).text() for i in range(dlg.table.rowCount())]
    assert any("in use" in t for t in names)
    assert "alt-model" in names
    row = names.index("alt-model")
    assert dlg.table.item(row, 2).text() == f"{len(load_bundle(alt).tags):,}"
    assert "test_metric 0.500" in dlg.table.item(row, 4).text()

    # A damaged bundle is listed with the reason and cannot be chosen.
    bad = next(i for i in range(dlg.table.rowCount()) if dlg.table.item(i, 5).text() == str(broken))
    assert dlg.table.item(bad, 4).text().startswith("unusable:")
    assert dlg.select_path(str(broken)) and not dlg.use_btn.isEnabled()

    assert dlg.select_path(str(alt)) and dlg.use_btn.isEnabled()
    with qtbot.waitSignal(w.modelSwitched, timeout=30000) as sw:
        qtbot.mouseClick(dlg.use_btn, Qt.MouseButton.LeftButton)
    assert sw.args == [True]  # another encoder: the stored vectors are re-embedded
    assert w.indexing and w.index_worker.label == "Re-embedding"
    report = wait_indexed(qtbot, w)
    assert report.changed == n and report.new == 0 and report.model == "alt-model"

    qtbot.waitUntil(
        lambda: (
            dlg.table.rowCount() > 0
            and any(dlg.table.item(i, 0).text().startswith("alt-model  (in use") for i in range(dlg.table.rowCount()))
        ),
        timeout=20000,
    )
    lib = Library.open(home=str(home))
    try:
        assert lib.bundle.name == "alt-model"
    finally:
        lib.close()
    # The app keeps working with the new model: suggestions and search answer.
    with qtbot.waitSignal(w.detailLoaded, timeout=20000):
        w.select_rows([0])
    assert w.detail.detail.suggestions
    with qtbot.waitSignal(w.searchFinished, timeout=20000):
        w.search("water")
    assert w.model.rowCount() == n and w.errors == []


def test_settings_persist_geometry_last_view_and_suggestion_count(qtbot, make_window, library_copy, user_dirs):
    home = library_copy["home"]
    w = make_window(home, size=(720, 520))  # fits the offscreen screen (800x600)
    roots = [k for k in w.sidebar_items() if k.startswith("root:")]
    w.select_view(roots[0])
    w.settings.suggest_count = 3
    w.settings.score_threshold = 0.0
    size = w.size()
    w.close()
    saved = json.loads((user_dirs["config"] / "settings.json").read_text())
    assert saved["last_view"] == f"root:{library_copy['folder']}"
    assert saved["suggest_count"] == 3

    w2 = make_window(home, size=None)  # geometry comes from the settings file
    assert w2.browse_key == roots[0]
    assert w2.size() == size
    qtbot.waitUntil(lambda: w2.model.rowCount() == len(library_copy["photos"]), timeout=10000)
    with qtbot.waitSignal(w2.detailLoaded, timeout=20000):
        w2.select_rows([0])
    assert len(w2.detail.detail.suggestions) == 3


def test_screenshot_mode_saves_a_png(qtbot, library_copy, tmp_path):
    from attalos_desktop.gui import app as app_mod

    out = tmp_path / "shot.png"
    rc = app_mod.main(
        ["--library", str(library_copy["home"]), "--screenshot", str(out), "--search", "water", "--size", "1024x640"]
    )
    assert rc == 0
    from PySide6.QtGui import QImage

    img = QImage(str(out))
    assert (img.width(), img.height()) == (1024, 640)
    # Not a blank window: thumbnails put many distinct colours on it.
    colours = {img.pixel(x, y) for x in range(0, 1024, 16) for y in range(0, 640, 16)}
    assert len(colours) > 50


class TickRecorder(QObject):
    """Records the gaps between timer ticks on the GUI thread."""

    def __init__(self, interval_ms: int = 10) -> None:
        super().__init__()
        self.gaps: list[float] = []
        self.last = time.perf_counter()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)

    @Slot()
    def tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self.last)
        self.last = now

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()


def test_gui_thread_stays_responsive_while_a_real_index_job_runs(qtbot, make_window, tmp_path):
    photos = write_photos(tmp_path / "resp", 64, seed=5)
    w = make_window(tmp_path / "lib")
    rec = TickRecorder()
    rec.start()
    w.add_folders([str(tmp_path / "resp")])
    report = wait_indexed(qtbot, w)
    rec.timer.stop()
    assert report.new == len(photos)
    assert len(rec.gaps) > 20
    worst = max(rec.gaps)
    # Generous bound (the target is 50 ms; shared CI machines are noisy). bench/ reports the real figure.
    assert worst < 0.25, f"GUI thread blocked for {worst * 1000:.0f} ms while indexing"


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run is not installed")
def test_screenshot_mode_works_under_xvfb(library_copy, tmp_path):
    """The same command on a real X server (xcb platform), as a person would run it."""
    out = tmp_path / "xvfb.png"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    cmd = [
        "xvfb-run",
        "-a",
        "-s",
        "-screen 0 1400x900x24",
        sys.executable,
        "-m",
        "attalos_desktop.gui.app",
        "--library",
        str(library_copy["home"]),
        "--screenshot",
        str(out),
        "--size",
        "1200x760",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    from PySide6.QtGui import QImage

    img = QImage(str(out))
    assert (img.width(), img.height()) == (1200, 760)
