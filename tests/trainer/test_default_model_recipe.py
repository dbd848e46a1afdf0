"""The default model's recipe end to end on a generated stand-in of ../shared/data: training with
both corpora, the label-transfer build, the bundle the app loads, and a resumed run."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from attalos_desktop.core.bundle import load_bundle
from attalos_desktop.core.encoder import ImageEncoder, top_tags
from attalos_desktop.core.imageio import decode_for_model
from attalos_desktop.synthetic import render_photo

pytest.importorskip("wordllama")


def write_corpus(root: Path, rows: list[tuple[str, object, list[str], str]]) -> None:
    (root / "images").mkdir(parents=True)
    with open(root / "labels.jsonl", "w", encoding="utf-8") as fh:
        for name, im, tags, split in rows:
            im.save(root / "images" / name, quality=90)  # type: ignore[attr-defined]
            fh.write(json.dumps({"file": f"images/{name}", "tags": tags, "split": split}) + "\n")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Scene photos (background, colour and shape words) and single-name object photos, in the shared layout."""
    d = tmp_path_factory.mktemp("shared-data")
    rng = random.Random(0)
    scenes = []
    for i in range(140):
        im, tags = render_photo(rng, size=(96, 64), min_objects=1, max_objects=2)
        scenes.append((f"c{i}.jpg", im, sorted(set(tags)), "test" if i >= 120 else "train"))
    write_corpus(d / "corel5k", scenes)
    objects = []
    for i, name in enumerate(["circle", "square", "triangle"] * 16):
        im, _ = render_photo(rng, size=(64, 64), spec={"objects": [("red", name)]})
        objects.append((f"t{i}.jpg", im, [f"{name} object"], "train"))
    write_corpus(d / "tiny-imagenet-200", objects)
    return d


def recipe_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--data", str(data), "--out", str(out), "--checkpoint", str(out.parent / "run.ckpt.pt"), "--cache", "",
            "--image-size", "32", "--tiny-size", "32", "--progressive", "", "--epochs", "1", "--restart-epochs", "1",
            "--batch-size", "16", "--tiny-batch", "8", "--corel-val", "30", "--tiny-val-per-class", "2",
            "--extra-words", "40", "--descriptor-dim", "16", "--threads", "1", *extra]


def test_recipe_builds_a_bundle_the_app_runs_and_resumes(data: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from trainer.default_model import main

    out = tmp_path / "photo-model"
    assert main(recipe_args(data, out, "--stage", "train", "--restart-epochs", "0")) == 0
    # the second cycle continues the same checkpoint: what a killed run does with --resume
    assert main(recipe_args(data, out, "--resume")) == 0
    err = capsys.readouterr().err
    assert "resumed from" in err and "epoch 2/2" in err

    bundle = load_bundle(out)  # checksums, shapes and preprocessing verified
    training = bundle.manifest["training"]
    assert [h["epoch"] for h in training["history"]] == [1, 2]
    dep = training["deployment"]
    assert dep["label_transfer"].startswith("2PKNN") and dep["label_transfer_descriptors"]
    corel_words = training["corel_words"]
    d = bundle.dim - corel_words - 2
    assert dep["embedding_layout"] == f"[f(x) {d}, label-transfer votes {corel_words}, constant 1, norm pad 1]"
    assert 0.0 <= bundle.manifest["metrics"]["corel5k_lear_f1"] <= 1.0

    # the app's own path: decode, one ONNX session, the tag matrix
    enc = ImageEncoder(bundle, providers=["CPUExecutionProvider"], threads=1)
    photos = sorted((data / "corel5k" / "images").glob("c12*.jpg"))
    vecs = enc.embed(np.stack([decode_for_model(p, bundle.preprocessing).tensor for p in photos]))
    votes = vecs[:, d: d + corel_words]
    np.testing.assert_allclose(votes.sum(1), 1.0, atol=1e-3)  # label-transfer votes are a distribution
    np.testing.assert_allclose(vecs[:, d + corel_words], 1.0)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), np.sqrt(dep["f_scale"] ** 2 + 2), rtol=1e-3)
    tags = top_tags(bundle, vecs[0], 5)
    assert len(tags) == 5 and all(0.0 <= s <= 1.0 for _, s in tags)
