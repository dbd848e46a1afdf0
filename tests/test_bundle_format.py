"""The bundle contract: what the trainer writes, the app reads back, and a damaged bundle is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from attalos_desktop.core.bundle import (
    BundleError,
    Preprocessing,
    TextConfig,
    load_bundle,
    update_metrics,
    write_bundle,
)

D, P, B = 8, 6, 64


def _write(tmp_path: Path, name: str = "b", **over) -> Path:
    rng = np.random.default_rng(0)
    enc = tmp_path / "enc.onnx"
    enc.write_bytes(b"onnx-bytes-stand-in-for-the-container-test")
    args = dict(
        name="unit-test-bundle",
        encoder_onnx=enc,
        preprocessing=Preprocessing(input_size=64, resize=72, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)),
        text=TextConfig(ngram_min=3, ngram_max=5, buckets=B, pretrained_dim=P, source="unit"),
        tags=["red", "blue", "ana capri"],
        tag_vectors=rng.normal(size=(3, D)).astype(np.float32),
        tag_freq=np.array([5, 3, 1]),
        words=["crimson", "navy"],
        word_vectors=rng.normal(size=(2, P)),
        ngram_vectors=rng.normal(size=(B, P)),
        text_map=rng.normal(size=(P + 1, D)),
        training={"epochs": 1},
        metrics={"f1": 0.5},
    )
    args.update(over)
    return write_bundle(tmp_path / name, **args)


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    out = _write(tmp_path)
    b = load_bundle(out)
    assert b.tags == ["red", "blue", "ana capri"]
    assert b.tag_vectors.shape == (3, D) and b.tag_vectors.dtype == np.float32
    assert b.words == ["crimson", "navy"] and b.word_vectors.shape == (2, P)
    assert b.preprocessing.input_size == 64 and b.preprocessing.resize == 72
    assert b.manifest["metrics"] == {"f1": 0.5}
    assert len(b.encoder_id) == 64
    assert b.tag_index("ana capri") == 2 and b.tag_index("green") is None
    assert b.summary()["vocabulary"] == 3


def test_overwrite_is_atomic_and_leaves_no_temp_dirs(tmp_path: Path) -> None:
    _write(tmp_path)
    _write(tmp_path, metrics={"f1": 0.9})
    assert load_bundle(tmp_path / "b").manifest["metrics"] == {"f1": 0.9}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "enc.onnx"]


def test_edited_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    out = _write(tmp_path)
    (out / "tags.txt").write_text("red\nblue\ngreen\n", encoding="utf-8")
    with pytest.raises(BundleError, match="tags.txt does not match its sha256"):
        load_bundle(out)


def test_missing_file_and_missing_manifest_are_refused(tmp_path: Path) -> None:
    out = _write(tmp_path)
    (out / "encoder.onnx").unlink()
    with pytest.raises(BundleError, match="encoder.onnx is missing"):
        load_bundle(out)
    (out / "manifest.json").unlink()
    with pytest.raises(BundleError, match="has no manifest.json"):
        load_bundle(out)
    with pytest.raises(BundleError, match="not a directory"):
        load_bundle(tmp_path / "nowhere")


def test_newer_format_version_is_refused(tmp_path: Path) -> None:
    out = _write(tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    m["format_version"] = 99
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="version 99 is not supported"):
        load_bundle(out)


def test_shape_disagreement_is_refused(tmp_path: Path) -> None:
    out = _write(tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    m["embedding_dim"] = D + 1
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="tag_vectors"):
        load_bundle(out)


def test_bad_preprocessing_is_refused(tmp_path: Path) -> None:
    out = _write(tmp_path)
    m = json.loads((out / "manifest.json").read_text())
    m["preprocessing"]["std"] = [0, 1, 1]
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="positive stds"):
        load_bundle(out)


def test_update_metrics_merges_without_breaking_checksums(tmp_path: Path) -> None:
    out = _write(tmp_path)
    update_metrics(out, {"lear_f1": 0.4})
    assert load_bundle(out).manifest["metrics"] == {"f1": 0.5, "lear_f1": 0.4}


def test_tags_that_cannot_be_stored_one_per_line_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one per line"):
        _write(tmp_path, tags=["red", "two\nlines", "x"])


def test_default_model_can_be_overridden_by_name_or_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from attalos_desktop.core.bundle import default_bundle_path, resources_models_dir

    out = _write(tmp_path)
    monkeypatch.setenv("ATTALOS_DEFAULT_MODEL", str(out))
    assert default_bundle_path() == out
    monkeypatch.setenv("ATTALOS_DEFAULT_MODEL", "some-shipped-model")
    assert default_bundle_path() == resources_models_dir() / "some-shipped-model"
