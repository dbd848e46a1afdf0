"""Issue 9, "Your own words", in the window: personal suggestions, the sidecar setting, Train on my tags."""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

import pytest
from gui_helpers import index_library, write_photos
from PySide6.QtCore import Qt

from attalos_desktop.core.library import Library
from attalos_desktop.gui import training
from attalos_desktop.gui.dialogs import SIDECARS_LABEL

WORD = "rex"  # a word no model knows: the user's dog
LOOKALIKES = 6


@pytest.fixture
def lookalikes(tmp_path: Path) -> dict:
    """Six look-alike photos (red circle on sand) among ten that show none of sand, red, circle.

    Made per test (about half a second): tag edits write XMP sidecars next to the photos, so the
    photos must not be shared between tests.
    """
    spec = {"background": "sand", "objects": [("red", "circle")]}
    photos = write_photos(
        tmp_path / "photos", 16, seed=11, specs=[spec] * LOOKALIKES, exclude=("sand", "red", "circle")
    )
    home = tmp_path / "lib"
    report = index_library(home, [tmp_path / "photos"])
    assert report.new == len(photos) and not report.failures
    return {"home": home, "photos": photos, "lookalikes": photos[:LOOKALIKES], "folder": tmp_path / "photos"}


def _rows_of(w, paths) -> list[int]:
    want = {str(p) for p in paths}
    return [i for i in range(w.model.rowCount()) if str(w.model.photo_at(i).path) in want]


def test_a_word_typed_on_a_few_photos_is_suggested_for_a_lookalike_marked_as_yours(qtbot, make_window, lookalikes):
    w = make_window(lookalikes["home"])
    qtbot.waitUntil(lambda: w.model.rowCount() == len(lookalikes["photos"]), timeout=10000)
    rows = _rows_of(w, lookalikes["lookalikes"])
    tagged, other = rows[:3], rows[3]

    # Before: nobody has used the word, so it is suggested nowhere.
    w.select_rows([other])
    qtbot.waitUntil(
        lambda: w.detail.detail is not None and w.detail.detail.photo.id == w.model.photo_at(other).id, timeout=20000
    )
    assert WORD not in [s.tag for s in w.detail.detail.suggestions]

    # The user types the word on three look-alikes in one review.
    w.select_rows(tagged)
    dlg = w.open_suggest_dialog(w.selected_photos())
    qtbot.keyClicks(dlg.tag_edit, WORD)
    qtbot.keyClick(dlg.tag_edit, Qt.Key.Key_Return)
    with qtbot.waitSignal(w.tagsSaved, timeout=20000):
        qtbot.mouseClick(dlg.save_btn, Qt.MouseButton.LeftButton)

    # A fourth look-alike: the word is in its review list, marked as learned from the user's tags.
    w.select_rows([other])
    pid = w.model.photo_at(other).id
    dlg2 = w.open_suggest_dialog([w.model.photo_at(other)])
    review = dlg2.reviews[pid]
    qtbot.waitUntil(lambda: not review.status.text().startswith("<span style='color:#888'>Asking"), timeout=20000)
    row = dlg2.row(pid, WORD)
    assert row is not None, [r.tag for r in review.rows]
    assert row.source == "personal" and row.personal
    assert not row.badge.isHidden() and row.badge.text() == "yours"
    assert "your tags" in row.badge.toolTip() and "your tags" in row.toolTip()
    assert row.bar.isVisibleTo(row) and 0 < row.bar.value() <= 100  # the same score bar as the model's words
    model_rows = [r for r in review.rows if not r.personal]
    assert model_rows and all(r.badge.isHidden() for r in model_rows)
    # One ranking, best first, on one scale.
    scores = [r.score for r in review.rows]
    assert scores == sorted(scores, reverse=True)

    # The detail panel shows it too, with the badge.
    qtbot.waitUntil(lambda: w.detail.detail is not None and w.detail.detail.photo.id == pid, timeout=20000)
    assert WORD in w.detail.suggestions.text() and "yours" in w.detail.suggestions.text()
    assert "your tags" in w.detail.suggestions.toolTip()

    # Accepting it makes it a user tag; the panel refreshes right away and no longer suggests it.
    qtbot.mouseClick(row.accept_btn, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(w.tagsSaved, timeout=20000):
        qtbot.mouseClick(dlg2.save_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: WORD in w.detail.user_tags.text(), timeout=20000)
    assert WORD not in [s.tag for s in w.detail.detail.suggestions]
    assert w.errors == []


def test_detail_panel_refreshes_personal_suggestions_after_tagging_other_photos(qtbot, make_window, lookalikes):
    w = make_window(lookalikes["home"])
    qtbot.waitUntil(lambda: w.model.rowCount() == len(lookalikes["photos"]), timeout=10000)
    rows = _rows_of(w, lookalikes["lookalikes"])
    shown = rows[-1]
    with qtbot.waitSignal(w.detailLoaded, timeout=20000):
        w.select_rows([shown])
    assert WORD not in w.detail.suggestions.text()
    # Tags written for other photos (here through the query thread, as the review dialog does).
    pids = [w.model.photo_at(r).id for r in rows[:3]]
    with qtbot.waitSignal(w.detailLoaded, timeout=20000):
        w.tagging.save_review([(p, [WORD], []) for p in pids])
    assert WORD in w.detail.suggestions.text() and "yours" in w.detail.suggestions.text()


def test_tag_write_warnings_reach_the_status_bar_on_one_line(qtbot, make_window, lookalikes, monkeypatch):
    original = Library.accept_tags

    def accept_with_warning(self, photo_id, tags):
        original(self, photo_id, tags)
        return [f"/photos/IMG_{photo_id}.xmp: cannot write the sidecar\n(read-only folder)"]

    monkeypatch.setattr(Library, "accept_tags", accept_with_warning)
    w = make_window(lookalikes["home"])
    qtbot.waitUntil(lambda: w.model.rowCount() == len(lookalikes["photos"]), timeout=10000)
    pids = [w.model.photo_at(r).id for r in (0, 1)]
    with qtbot.waitSignal(w.tagsSaved, timeout=20000):
        w.tagging.save_review([(p, ["holiday"], []) for p in pids])  # what Save in the review emits
    text = w.status.text()
    assert text.startswith("Saved tags for 2 photo(s).") and "cannot write the sidecar" in text
    assert "(and 1 more)" in text and "\n" not in text


def test_settings_sidecar_checkbox_round_trips_to_the_library(qtbot, make_window, lookalikes):
    home = lookalikes["home"]
    with Library.open(home=str(home)) as lib:
        assert lib.sidecars_enabled() is True  # on by default
    w = make_window(home)
    dlg = w.show_settings()
    assert dlg.sidecars.text() == SIDECARS_LABEL
    qtbot.waitUntil(dlg.sidecars.isEnabled, timeout=20000)  # the library's value arrived
    assert dlg.sidecars.isChecked()
    dlg.sidecars.setChecked(False)
    with qtbot.waitSignal(w.sidecarsChanged, timeout=20000) as sig:
        dlg.accept()
    assert sig.args == [False]
    with Library.open(home=str(home)) as lib:
        assert lib.sidecars_enabled() is False  # stored in the library: the CLI obeys it too

    dlg = w.show_settings()
    qtbot.waitUntil(dlg.sidecars.isEnabled, timeout=20000)
    assert not dlg.sidecars.isChecked()
    dlg.sidecars.setChecked(True)
    with qtbot.waitSignal(w.sidecarsChanged, timeout=20000):
        dlg.accept()
    with Library.open(home=str(home)) as lib:
        assert lib.sidecars_enabled() is True
    assert w.errors == []


# --------------------------------------------------------------------------------------------
# Train on my tags
# --------------------------------------------------------------------------------------------

FAKE_TRAINER = textwrap.dedent(
    '''
    """A stand-in for ``python -m trainer.cli --library HOME --progress-json``: speaks its protocol."""
    import json, os, signal, sys, time

    mode, bundle, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    home = args[args.index("--library") + 1]
    assert "--progress-json" in args and os.path.isdir(home), args
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))  # the real trainer: exit 130, nothing written

    def say(**ev):
        print(json.dumps(ev), flush=True)

    print("some chatter that is not the protocol", flush=True)
    say(event="start", photos=5, words=2, mode="head")
    if mode == "error":
        print("attalos-desktop-train: error: only 1 photo carries your tags; tag at least 4 photos", file=sys.stderr)
        sys.exit(2)
    say(event="progress", phase="reading", done=0, total=5)
    if mode == "hang":
        with open(os.path.join(home, "fake-trainer.pid"), "w") as f:
            f.write(str(os.getpid()))
        time.sleep(120)
        sys.exit(0)
    for phase, total in (("reading", 5), ("training", 4), ("evaluating", 2), ("exporting", 1)):
        for i in range(total + 1):
            say(event="progress", phase=phase, done=i, total=total)
            time.sleep(0.01)
    m = {"base": {"precision": 0.25, "recall": 0.2, "f1": 0.2222},
         "instant": {"precision": 0.5, "recall": 0.4, "f1": 0.4444},
         "fine_tuned": {"precision": 0.75, "recall": 0.6, "f1": 0.6667},
         "held_out_photos": 3, "words": 2}
    # The last line arrives without a newline: the dialog still reads it at exit.
    sys.stdout.write(json.dumps({"event": "done", "bundle": bundle, "metrics": {"personal_eval": m}}))
    '''
)


@pytest.fixture
def fake_trainer(tmp_path: Path):
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER, encoding="utf-8")

    def command(mode: str, bundle: str = "/nonexistent"):
        return lambda home: [sys.executable, str(script), mode, bundle, "--library", home, "--progress-json"]

    return command


def _open_training(qtbot, w, command=None):
    """Tools → Train on my tags…, with the child-process command injected (a fake trainer)."""
    dlg = w.show_training(command=command, available=(lambda: True) if command is not None else None)
    qtbot.waitUntil(lambda: dlg.summary is not None, timeout=20000)
    return dlg


def test_tools_menu_has_train_on_my_tags(qtbot, make_window, lookalikes):
    w = make_window(lookalikes["home"])
    tools = next(a.menu() for a in w.menuBar().actions() if a.text() == "&Tools")
    assert "&Train on my tags…" in [a.text() for a in tools.actions()]


def test_training_progress_then_results_table_and_use_this_model(qtbot, make_window, lookalikes, fake_trainer):
    home = lookalikes["home"]
    with Library.open(home=str(home)) as lib:
        src = lib.bundle.path
        pids = [lib.photo_by_path(p).id for p in lookalikes["lookalikes"][:3]]
        for p in pids:
            lib.accept_tags(p, [WORD, "sand"])
    mine = home / "models" / "mine"
    shutil.copytree(src, mine)  # what the trainer writes in head mode: the same encoder, a new tag layer

    w = make_window(home)
    dlg = _open_training(qtbot, w, fake_trainer("ok", str(mine)))
    text = dlg.summary_label.text()
    assert "<b>3</b> photo(s)" in text and "<b>2</b> word(s)" in text
    assert f"{WORD} (3, new)" in text and "sand (3)" in text and "1 of them the current model does not know" in text
    assert dlg.start_btn.isEnabled() and not dlg.use_btn.isVisibleTo(dlg)

    phases = []
    dlg.progress.valueChanged.connect(lambda _v: phases.append(dlg.phase))
    with qtbot.waitSignal(dlg.runFinished, timeout=30000) as done:
        qtbot.mouseClick(dlg.start_btn, Qt.MouseButton.LeftButton)
        assert dlg.running and dlg.cancel_btn.isVisibleTo(dlg)
    assert done.args == ["done"], dlg.message.text()
    assert {"reading", "training", "evaluating", "exporting"} <= set(phases)
    assert dlg.results.isVisibleTo(dlg)
    assert dlg.result_rows() == {
        "base": ("0.250", "0.200", "0.222"),
        "instant": ("0.500", "0.400", "0.444"),
        "fine_tuned": ("0.750", "0.600", "0.667"),
    }
    assert "3 of your tagged photos" in dlg.message.text() and str(mine) in dlg.message.text()
    assert dlg.use_btn.isVisibleTo(dlg) and dlg.use_btn.isEnabled()

    with qtbot.waitSignal(w.modelSwitched, timeout=30000) as sw:
        qtbot.mouseClick(dlg.use_btn, Qt.MouseButton.LeftButton)
    assert sw.args == [False]  # head mode keeps the image encoder: nothing to re-embed
    assert not w.indexing
    assert "now uses your model" in dlg.message.text()
    with Library.open(home=str(home)) as lib:
        assert Path(lib.bundle.path).resolve() == mine.resolve()
    assert w.errors == []


def test_cancel_terminates_the_trainer_and_says_nothing_changed(qtbot, make_window, lookalikes, fake_trainer):
    home = lookalikes["home"]
    w = make_window(home)
    before = sorted(p.name for p in home.iterdir())
    dlg = _open_training(qtbot, w, fake_trainer("hang"))
    dlg.start()
    pid_file = home / "fake-trainer.pid"
    qtbot.waitUntil(pid_file.exists, timeout=20000)
    qtbot.waitUntil(lambda: dlg.phase == "reading", timeout=20000)
    pid = int(pid_file.read_text())
    pid_file.unlink()
    with qtbot.waitSignal(dlg.runFinished, timeout=20000) as fin:
        qtbot.mouseClick(dlg.cancel_btn, Qt.MouseButton.LeftButton)
    assert fin.args == ["cancelled"]
    assert dlg.message.text() == "Cancelled; nothing was changed."
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the child is gone
    assert sorted(p.name for p in home.iterdir()) == before
    assert dlg.state == "cancelled" and not dlg.running and not dlg.use_btn.isVisibleTo(dlg)


def test_trainer_error_shows_its_stderr_line(qtbot, make_window, lookalikes, fake_trainer):
    w = make_window(lookalikes["home"])
    dlg = _open_training(qtbot, w, fake_trainer("error"))
    with qtbot.waitSignal(dlg.runFinished, timeout=20000) as fin:
        dlg.start()
    assert fin.args == ["error"]
    assert dlg.message.text() == "attalos-desktop-train: error: only 1 photo carries your tags; tag at least 4 photos"
    assert not dlg.results.isVisibleTo(dlg) and not dlg.use_btn.isVisibleTo(dlg)


def test_without_pytorch_the_dialog_says_how_to_install_it_and_starts_nothing(
    qtbot, make_window, lookalikes, monkeypatch
):
    started = []
    monkeypatch.setattr(training, "training_available", lambda: False)
    w = make_window(lookalikes["home"])
    dlg = w.show_training()
    assert dlg.message.text().splitlines()[0] == (
        'Training needs PyTorch, which is not installed. Install it with: pip install "attalos-desktop[train]"'
    )
    assert sys.executable in dlg.message.text()
    assert not dlg.start_btn.isEnabled()
    dlg.command = lambda home: started.append(home) or [sys.executable, "-c", "pass"]
    assert dlg.start() is False and started == [] and dlg.proc is None


def test_no_tagged_photos_yet_disables_start(qtbot, make_window, lookalikes, fake_trainer):
    w = make_window(lookalikes["home"])
    dlg = _open_training(qtbot, w, fake_trainer("ok"))
    assert "not tagged any photos yet" in dlg.summary_label.text()
    assert not dlg.start_btn.isEnabled()


def test_closing_the_window_stops_a_running_trainer(qtbot, make_window, lookalikes, fake_trainer):
    home = lookalikes["home"]
    w = make_window(home)
    dlg = _open_training(qtbot, w, fake_trainer("hang"))
    dlg.start()
    qtbot.waitUntil((home / "fake-trainer.pid").exists, timeout=20000)
    qtbot.waitUntil(lambda: dlg.phase == "reading", timeout=20000)
    pid = int((home / "fake-trainer.pid").read_text())
    t0 = time.monotonic()
    w.close()
    assert time.monotonic() - t0 < 10
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.skipif(not training.training_available(), reason="PyTorch or the trainer is not installed")
def test_the_real_trainer_on_a_tiny_library(qtbot, make_window, lookalikes):
    """``python -m trainer.cli --library HOME --progress-json`` end to end, when it supports it."""
    import subprocess

    help_text = subprocess.run(
        [sys.executable, "-m", "trainer.cli", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    if "--progress-json" not in help_text or "--library" not in help_text:
        pytest.skip("this trainer has no --library --progress-json yet")
    home = lookalikes["home"]
    with Library.open(home=str(home)) as lib:
        for p in lookalikes["lookalikes"]:
            lib.accept_tags(lib.photo_by_path(p).id, [WORD])
        for p in lookalikes["photos"][LOOKALIKES:]:
            lib.accept_tags(lib.photo_by_path(p).id, ["other"])
    w = make_window(home)
    dlg = _open_training(qtbot, w)
    phases = []
    dlg.progress.valueChanged.connect(lambda _v: phases.append(dlg.phase))
    with qtbot.waitSignal(dlg.runFinished, timeout=120000) as fin:
        dlg.start()
    assert fin.args == ["done"], dlg.message.text()
    assert phases and Path(dlg.bundle).is_dir()
    rows = dlg.result_rows()
    assert all(v != "—" for v in rows["fine_tuned"]), rows
    json.dumps(dlg.metrics)  # what the table was filled from
