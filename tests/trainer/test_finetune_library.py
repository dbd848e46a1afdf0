"""``attalos-desktop-train --library``: fine-tuning a library's bundle on the user's own tags.

A generated library (the suite's stand-in model, generated shape photos): the user has put three
words the model never saw on ten photos each: "zorbl" on red circles, "quib" on yellow stars, "lagoon"
on photos of water, and rejected "zorbl" on two red squares; the other photos are untagged.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from attalos_desktop.core.bundle import default_bundle_path, load_bundle  # noqa: E402
from attalos_desktop.core.library import Library  # noqa: E402
from trainer.cli import main  # noqa: E402
from attalos_desktop.synthetic import render_photo  # noqa: E402

LAND = ["grass", "sand", "sky", "brick", "wood"]
PLAIN_COLOURS = ["green", "blue", "purple", "white", "black", "orange"]
PLAIN_SHAPES = ["square", "triangle", "cross", "diamond"]
WORDS = ("zorbl", "quib", "lagoon")
FAST = ["--threads", "1"]


def _plain(rng: random.Random) -> list[tuple[str, str]]:
    return [(rng.choice(PLAIN_COLOURS), rng.choice(PLAIN_SHAPES)) for _ in range(rng.randint(1, 2))]


def _spec(kind: str, rng: random.Random) -> dict:
    return {
        # Never a colour the generator keeps off a background (red on brick, yellow on sand).
        "zorbl": {"background": rng.choice([b for b in LAND if b != "brick"]), "objects": [("red", "circle")]},
        "quib": {"background": rng.choice([b for b in LAND if b != "sand"]), "objects": [("yellow", "star")]},
        "lagoon": {"background": "water", "objects": _plain(rng)},
        "redsquare": {"background": rng.choice([b for b in LAND if b != "brick"]), "objects": [("red", "square")]},
        "other": {"background": rng.choice(LAND), "objects": _plain(rng)},
    }[kind]


def _save(folder: Path, name: str, spec: dict, rng: random.Random) -> Path:
    im, _ = render_photo(rng, size=(96, 72), spec=spec)
    path = folder / f"{name}.jpg"
    im.save(path, quality=90)
    return path


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _user_tags(home: Path) -> list[tuple]:
    with Library.open(home) as lib:
        return sorted(lib.catalog.db.execute("SELECT photo_id, tag, source FROM user_tags").fetchall())


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("finetune")
    photos = root / "photos"
    photos.mkdir()
    rng = random.Random(0)
    plan: list[tuple[Path, list[str], list[str]]] = []
    for i in range(10):
        for word in WORDS:
            plan.append((_save(photos, f"{word}{i:02d}", _spec(word, rng), rng), [word], []))
    for i in range(2):
        plan.append((_save(photos, f"redsquare{i:02d}", _spec("redsquare", rng), rng), [], ["zorbl"]))
    for i in range(28):
        plan.append((_save(photos, f"other{i:02d}", _spec("other", rng), rng), [], []))
    home = root / "lib"
    with Library.open(home) as lib:
        lib.index([photos], workers=1)
        for path, tags, rejected in plan:
            pid = lib.photo_by_path(path).id  # type: ignore[union-attr]
            if tags:
                lib.accept_tags(pid, tags)
            if rejected:
                lib.reject_tags(pid, rejected)
    return {"home": home, "photos": photos, "digests": _digests(photos), "tags": _user_tags(home)}


@pytest.fixture(scope="module")
def finetuned(library: dict) -> dict:
    """One fine-tuning run through the real command, with the app's progress protocol."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["--library", str(library["home"]), "--progress-json", *FAST])
    assert code == 0
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    bundles = sorted((library["home"] / "models").iterdir())
    return {"events": events, "bundles": bundles}


def test_bundle_lands_in_the_library_with_the_new_words(library: dict, finetuned: dict) -> None:
    assert len(finetuned["bundles"]) == 1
    path = finetuned["bundles"][0]
    base = load_bundle(default_bundle_path())  # the library's model: the suite's stand-in
    assert path.name.startswith(f"{base.name}-personal-")
    b = load_bundle(path)
    assert set(WORDS) <= set(b.tags)
    # Head mode: the same image encoder (the library needs no re-embedding), base rows untouched.
    assert b.encoder_id == base.encoder_id
    assert b.tags[: len(base.tags)] == base.tags
    np.testing.assert_array_equal(b.tag_vectors[: len(base.tags)], base.tag_vectors)
    # It carries the tower weights, so --init / --library can continue from it.
    assert (path / "tower.safetensors").is_file() and "tower.safetensors" in b.manifest["files"]
    ft = b.manifest["training"]["fine_tune"]
    assert ft["mode"] == "head" and ft["base_bundle"] == base.name and ft["base_encoder_id"] == base.encoder_id
    assert ft["words"] == 3 and ft["new_words"] == 3
    assert "personal_eval" in b.manifest["metrics"]


def test_held_out_photos_get_the_new_words(finetuned: dict) -> None:
    ev = json.loads((finetuned["bundles"][0] / "manifest.json").read_text())["metrics"]["personal_eval"]
    assert ev["held_out_photos"] >= 6 and ev["words_evaluated"] == 3
    chance, base, instant, tuned = ev["chance"]["f1"], ev["base"]["f1"], ev["instant"]["f1"], ev["fine_tuned"]["f1"]
    # Measured: chance 0.333, base 0.095 (sub-word vectors of made-up words), instant 1.0, fine-tuned 1.0.
    assert instant >= chance + 0.4
    assert tuned >= chance + 0.4
    assert tuned >= instant - 0.05
    assert base <= chance + 0.15
    # Calibrated too: most held-out photos of a word score >= 0.5 for it (the app's suggestion scale).
    assert ev["fine_tuned"]["at_0_5"]["f1"] >= 0.7


def test_the_app_suggests_a_new_word_for_a_new_photo(library: dict, finetuned: dict, tmp_path: Path) -> None:
    rng = random.Random(99)
    circle = _save(tmp_path, "circle", {"background": "sand", "objects": [("red", "circle")]}, rng)
    square = _save(tmp_path, "square", {"background": "sand", "objects": [("blue", "square")]}, rng)
    with Library.open(library["home"], model=finetuned["bundles"][0]) as lib:
        zorbl = {t.tag: t.score for t in lib.tag_file(circle, top=100)}.get("zorbl", 0.0)
        other = {t.tag: t.score for t in lib.tag_file(square, top=100)}.get("zorbl", 0.0)
    assert zorbl >= 0.5 > other


def test_progress_protocol(finetuned: dict) -> None:
    ev = finetuned["events"]
    assert ev[0] == {"event": "start", "photos": 32, "words": 3, "mode": "head"}
    assert ev[-1]["event"] == "done" and Path(ev[-1]["bundle"]) == finetuned["bundles"][0]
    assert set(ev[-1]["metrics"]["personal_eval"]) >= {"base", "instant", "fine_tuned", "held_out_photos", "words"}
    phases = [e["phase"] for e in ev[1:-1]]
    assert all(e["event"] == "progress" and 0 <= e["done"] <= e["total"] for e in ev[1:-1])
    assert list(dict.fromkeys(phases)) == ["reading", "training", "evaluating", "exporting"]


def test_nothing_of_the_library_changes(library: dict, finetuned: dict) -> None:
    assert _digests(library["photos"]) == library["digests"]
    assert _user_tags(library["home"]) == library["tags"]


def test_too_few_tagged_photos_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = random.Random(1)
    paths = [_save(photos, f"p{i}", _spec("other", rng), rng) for i in range(3)]
    home = tmp_path / "lib"
    with Library.open(home) as lib:
        lib.index([photos], workers=1)
        lib.accept_tags(lib.photo_by_path(paths[0]).id, ["zorbl"])  # type: ignore[union-attr]
    before = _digests(photos)
    assert main(["--library", str(home), *FAST]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("attalos-desktop-train: error: the library has 1 user-tagged photo ")
    assert "tag more photos" in err[0]
    assert not (home / "models").exists()
    assert _digests(photos) == before


def test_not_a_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--library", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "nowhere").exists()


def test_sigterm_stops_and_writes_nothing(
    library: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainer import finetune

    real = finetune.Reporter.progress

    def progress(self: finetune.Reporter, phase: str, done: int, total: int) -> None:
        real(self, phase, done, total)
        if phase == "exporting":
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(finetune.Reporter, "progress", progress)
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "models" / "stopped"
    assert main(["--library", str(library["home"]), "--out", str(out), "--quiet", *FAST]) == 130
    assert not out.exists()
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
    assert signal.getsignal(signal.SIGTERM) == before  # the command's handler is gone after the run


def test_a_fine_tuned_bundle_can_be_trained_further(finetuned: dict, tiny_data: Path, tmp_path: Path) -> None:
    """It carries the tower weights and the base's training record, so --init BUNDLE works on it."""
    from trainer_testutil import fast_args

    out = tmp_path / "again"
    assert (
        main(fast_args(tiny_data, out, "--init", str(finetuned["bundles"][0]), "--epochs", "1", "--max-steps", "1"))
        == 0
    )
    assert load_bundle(out).manifest["training"]["init"] == str(finetuned["bundles"][0])
