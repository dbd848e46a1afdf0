"""A recipe end to end on a generated stand-in of ../shared/data: the default model's recipe shape
(two corpora in one vocabulary, WordNet general words, the label-transfer export stage), a killed run
resumed, the bundle the app loads, and a model continued from that bundle with --init."""

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
    # file names carry WordNet ids as Tiny ImageNet's do: golden retriever, egyptian cat, beach wagon
    wnids = {"circle": "n02099601", "square": "n02124075", "triangle": "n02814533"}
    for i, name in enumerate(["circle", "square", "triangle"] * 16):
        im, _ = render_photo(rng, size=(64, 64), spec={"objects": [("red", name)]})
        objects.append((f"{wnids[name]}_{i}.jpg", im, [f"{name} object"], "train"))
    write_corpus(d / "tiny-imagenet-200", objects)
    return d


RECIPE = """
name = "tiny-photo"
description = "a test model"
[train]
backbone = "resnet18_l3"
image_size = 32
loss = "softmax"
tag_optimizer = "adam"
tag_lr = 0.002
epochs = 2
restart_epochs = 1
batch_size = 16
lr = 0.002
beta2 = 0.99
extra_words = 40
threads = 1
[[data]]
path = "corel5k"
scope = "labels"
held_out = 30
canvas = 96
[[data]]
path = "tiny-imagenet-200"
weight = 0.5
scope = "own"
held_out = 2
held_out_per_class = true
smoothing = 0.1
canvas = 64
hypernyms = { senses = "wnid", up = 4, min_root_depth = 5 }
[export]
label_transfer = "corel5k"
"""


def recipe_args(data: Path, out: Path, *extra: str) -> list[str]:
    recipe = out.parent / "recipe.toml"
    recipe.write_text(RECIPE, encoding="utf-8")
    return [
        "--recipe",
        str(recipe),
        "--data-root",
        str(data),
        "--checkpoint",
        str(out.parent / "run.ckpt.pt"),
        "--quiet",
        *extra,
    ]


def test_recipe_builds_a_bundle_the_app_runs_and_resumes(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainer.cli import main

    out = tmp_path / "photo-model"
    steps_per_epoch = (120 - 30) // 16
    assert main(recipe_args(data, out, "--max-steps", str(steps_per_epoch))) == 0  # killed after epoch 1
    assert not out.exists()
    assert main(recipe_args(data, out, "--resume", "--out", str(out))) == 0  # what a killed run does
    bundle = load_bundle(out)  # checksums, shapes and preprocessing verified
    training = bundle.manifest["training"]
    assert [h["epoch"] for h in training["history"]] == [1, 2]
    assert training["recipe"] == RECIPE and bundle.manifest["description"] == "a test model"
    assert training["loss"] == "softmax"
    # WordNet's general words became tags of the object photos, and nothing else
    general = training["corpora"][1]["general_words"]
    assert (
        "dog" in general["circle object"] and "cat" in general["square object"] and "car" in general["triangle object"]
    )
    assert {"dog", "cat", "car"} <= set(bundle.tags)
    assert training["corpora"][0]["general_words"] == {}
    dep = training["deployment"]
    assert dep["label_transfer"].startswith("2PKNN") and dep["label_transfer_descriptors"]
    d = training["tower_dim"]
    corel_words = bundle.dim - d - 2
    assert dep["embedding_layout"] == f"[f(x) {d}, label-transfer votes {corel_words}, constant 1, norm pad 1]"
    assert training["onnx_parity_relative"] <= 2e-2 and training["onnx_extra_columns_max_abs_diff"] < 1e-3
    assert (out / "tower.safetensors").is_file()

    # the app's own path: decode, one ONNX session, the tag matrix
    enc = ImageEncoder(bundle, providers=["CPUExecutionProvider"], threads=1)
    photos = sorted((data / "corel5k" / "images").glob("c12*.jpg"))
    vecs = enc.embed(np.stack([decode_for_model(p, bundle.preprocessing).tensor for p in photos]))
    votes = vecs[:, d : d + corel_words]
    np.testing.assert_allclose(votes.sum(1), 1.0, atol=1e-3)  # label-transfer votes are a distribution
    np.testing.assert_allclose(vecs[:, d + corel_words], 1.0)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), np.sqrt(dep["f_scale"] ** 2 + 2), rtol=1e-3)
    tags = top_tags(bundle, vecs[0], 5)
    assert len(tags) == 5 and all(0.0 <= s <= 1.0 for _, s in tags)

    # every bundle can be trained further: --init continues from this one's tower and words
    again = tmp_path / "continued"
    assert (
        main(
            [
                "--data",
                str(data / "corel5k"),
                "--init",
                str(out),
                "--backbone",
                "resnet18_l3",
                "--image-size",
                "32",
                "--epochs",
                "1",
                "--batch-size",
                "16",
                "--extra-words",
                "20",
                "--workers",
                "0",
                "--threads",
                "1",
                "--quiet",
                "--out",
                str(again),
            ]
        )
        == 0
    )
    cont = load_bundle(again)
    assert cont.dim == d and cont.manifest["training"]["init"] == str(out)


def test_a_bad_recipe_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trainer.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text('[train]\nepochz = 3\n[[data]]\npath = "x"\n', encoding="utf-8")
    assert main(["--recipe", str(bad), "--data-root", str(tmp_path), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "epochz" in err
    bad.write_text("[train\n", encoding="utf-8")
    assert main(["--recipe", str(bad), "--data-root", str(tmp_path), "--out", str(tmp_path / "b")]) == 2
    assert "not a readable TOML file" in capsys.readouterr().err


def test_an_unknown_label_transfer_corpus_is_refused_before_training(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from trainer.cli import main

    code = main(["--data", str(data / "corel5k"), "--data", f"{data / 'tiny-imagenet-200'}:0.5",
                 "--label-transfer", "flickr", "--out", str(tmp_path / "b")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == "attalos-desktop-train: error: --label-transfer flickr: not one of the corpora (corel5k, tiny-imagenet-200)"
    )
    assert not (tmp_path / "b").exists() and not (tmp_path / "b.ckpt.pt").exists()


def write_imagenet_like_weights(folder: Path) -> Path:
    """A MobileNetV2 state dict in the converted layout (random weights) and a 1000-line labels file of
    WordNet synsets in ascending order, as imagenet_labels.txt lies beside the real weights."""
    import torch

    from trainer.hypernyms import WordNet
    from trainer.tflite_import import tflite_mobilenet_v2

    folder.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(tflite_mobilenet_v2().state_dict(), folder / "mobilenet_v2.pt")
    wn = WordNet.load()
    lines = []
    for off in sorted(wn._lines)[::40]:  # monosemous synsets: each line names exactly one
        names = wn.lemmas(off)
        if all(wn.noun_synsets(n) == [off] for n in names):
            lines.append(", ".join(names))
        if len(lines) == 1000:
            break
    (folder / "imagenet_labels.txt").write_text("background\n" + "\n".join(lines) + "\n", encoding="utf-8")
    (folder / "LICENSE").write_text("Apache License\nVersion 2.0, January 2004\n", encoding="utf-8")
    (folder / "README.md").write_text("# Weights\n\nSource: a test's own random weights.\n", encoding="utf-8")
    return folder / "mobilenet_v2.pt"


def test_a_fixed_pretrained_trunk_trains_from_cached_features_with_a_teacher(data: Path, tmp_path: Path) -> None:
    """--trunk-features: the trunk's features are computed once per view and cached (a second run reads
    them), only the projection and the tag layer learn, and the teacher's class words and their general
    words join the vocabulary."""
    from safetensors.torch import load_file

    from trainer.cli import main

    weights = write_imagenet_like_weights(tmp_path / "weights")
    recipe = RECIPE.replace(
        'backbone = "resnet18_l3"', 'backbone = "mobilenet_v2"\ntrunk_features = 2\nteacher = "imagenet"'
    )
    recipe = recipe.replace("restart_epochs = 1\n", "") + 'test_time_flip = "off"\n'  # the trunk once per photo
    (tmp_path / "recipe.toml").write_text(recipe, encoding="utf-8")
    cache = tmp_path / "cache"

    def run(out: Path) -> int:
        return main(["--recipe", str(tmp_path / "recipe.toml"), "--data-root", str(data), "--init",
                     f"imagenet:{weights}", "--cache", str(cache), "--quiet", "--out", str(out)])  # fmt: skip

    assert run(tmp_path / "a") == 0
    chunks = sorted((cache / "features").glob("*.npz"))
    assert len(chunks) == 4  # two corpora, two views each
    stamps = [c.stat().st_mtime_ns for c in chunks]
    assert run(tmp_path / "b") == 0
    assert [c.stat().st_mtime_ns for c in chunks] == stamps  # read back, not computed again

    bundle = load_bundle(tmp_path / "a")
    training = bundle.manifest["training"]
    assert training["backbone"] == "mobilenet_v2" and training["trunk"].startswith("fixed")
    assert bundle.preprocessing.mean == (0.5, 0.5, 0.5) and bundle.preprocessing.input_size == 32
    labels = (tmp_path / "weights" / "imagenet_labels.txt").read_text().splitlines()[1:]
    class_words = {line.split(", ")[0] for line in labels}
    assert class_words <= set(bundle.tags)  # every ImageNet class word can be suggested
    assert {"circle object", "dog"} <= set(bundle.tags)  # the corpora's words too
    # the weights' licence and a notice of their source and changes travel with the bundle (Apache-2.0)
    assert (tmp_path / "a" / "LICENSE-weights.txt").read_text().startswith("Apache License")
    notice = (tmp_path / "a" / "NOTICE-weights.txt").read_text()
    assert "Source: a test's own random weights." in notice and "dequantised" in notice
    assert training["deployment"]["test_time_flip"] is False
    cal = training["deployment"]["teacher_word_sigmoids"]  # its words calibrated against it on held-out photos
    assert cal["words"] > 1000 and cal["held_out_photos"] == 30 + 6
    assert cal["brier_per_word"] <= cal["brier_shared"] + 1e-6
    # the trunk is the pretrained one, untouched (the bundle keeps it in float16)
    import torch

    sd = load_file(str(tmp_path / "a" / "tower.safetensors"))
    init = torch.load(weights, weights_only=True)
    np.testing.assert_allclose(
        sd["trunk.0.18.0.weight"].float().numpy(), init["features.18.0.weight"].numpy(), atol=2e-3
    )
    # --init BUNDLE continues from it without repeating its backbone
    again = tmp_path / "continued"
    assert main(["--data", str(data / "corel5k"), "--init", str(tmp_path / "a"), "--trunk-features", "1",
                 "--image-size", "32", "--epochs", "1", "--batch-size", "16", "--extra-words", "20",
                 "--threads", "1", "--cache", str(cache), "--quiet", "--out", str(again)]) == 0  # fmt: skip
    assert load_bundle(again).manifest["training"]["backbone"] == "mobilenet_v2"
