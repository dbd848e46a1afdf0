"""Rescans: unchanged files are skipped, changed re-embedded, moved keep their data, removed leave."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np

from attalos_desktop.core.library import Library
from core_helpers import make_photos, make_spec_photo


def _agree(lib: Library) -> None:
    """Catalog and vector index hold exactly the same photos."""
    vi = lib._index()
    cat = set(lib.catalog.vector_ids(lib.bundle.encoder_id).tolist())
    assert set(vi.live_ids().tolist()) == cat == {p.id for p in lib.photos()}


def test_rescan_counts_and_identity(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "photos"
    paths = make_photos(root, 8)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    r = lib.index([root])
    assert (r.new, r.changed, r.unchanged, r.moved, r.removed, r.failed) == (8, 0, 0, 0, 0, 0)

    r = lib.index()
    assert (r.new, r.changed, r.unchanged, r.moved, r.removed) == (0, 0, 8, 0, 0)

    moved_from = paths[1]
    moved_id = lib.photo_by_path(moved_from).id
    lib.accept_tags(moved_id, ["Holiday"])
    (root / "renamed").mkdir()
    moved_to = root / "renamed" / "moved.jpg"
    os.rename(moved_from, moved_to)
    changed = paths[2]
    changed_id = lib.photo_by_path(changed).id
    old_vec = lib.catalog.vector(changed_id, lib.bundle.encoder_id)
    make_spec_photo(changed, "water", [("yellow", "star")], seed=9)
    os.utime(changed, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    paths[3].unlink()
    make_photos(root, 1, seed=77, prefix="added")

    r = lib.index()
    assert (r.new, r.changed, r.unchanged, r.moved, r.removed, r.failed) == (1, 1, 5, 1, 1, 0)
    row = lib.photo_by_path(moved_to)
    assert row is not None and row.id == moved_id
    assert lib.user_tags(moved_id) == ["holiday"]  # moved photo keeps its tags (and vector)
    assert lib.photo_by_path(moved_from) is None and lib.photo_by_path(paths[3]) is None
    assert lib.photo_by_path(changed).id == changed_id
    assert not np.allclose(lib.catalog.vector(changed_id, lib.bundle.encoder_id), old_vec)
    assert len(lib.photos()) == 8
    _agree(lib)
    hits = lib.search("circle", limit=20)
    assert {h.path for h in hits} <= {p.path for p in lib.photos()}
    assert str(paths[3]) not in {h.path for h in lib.similar(path=moved_to, limit=20)}
    lib.close()


def test_missing_vector_index_is_rebuilt_from_catalog(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "photos"
    make_photos(root, 5)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([root])
    before = [h.photo_id for h in lib.search("red square", limit=5)]
    lib.close()
    shutil.rmtree(tmp_path / "lib" / "index")
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    assert [h.photo_id for h in lib.search("red square", limit=5)] == before
    _agree(lib)
    lib.close()


def test_index_that_disagrees_with_catalog_is_repaired(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "photos"
    paths = make_photos(root, 6)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([root])
    keep = tmp_path / "saved-index"
    shutil.copytree(tmp_path / "lib" / "index", keep)  # the index as it was with 6 photos
    paths[0].unlink()
    make_photos(root, 2, seed=5, prefix="late")
    lib.index()
    lib.close()
    shutil.rmtree(tmp_path / "lib" / "index")
    shutil.copytree(keep, tmp_path / "lib" / "index")  # now stale: one photo too many, two missing
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    hits = lib.search("grass", limit=50)
    assert str(paths[0]) not in {h.path for h in hits}
    assert len(hits) == 7
    _agree(lib)
    lib.close()


def test_corrupt_index_file_is_rebuilt(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "photos"
    make_photos(root, 4)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([root])
    lib.close()
    for f in (tmp_path / "lib" / "index").glob("vectors-*"):
        f.write_bytes(b"\x00" * 100)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    assert len(lib.search("sand", limit=10)) == 4
    _agree(lib)
    lib.close()


def test_cancel_stops_early_and_rerun_resumes(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "photos"
    make_photos(root, 40)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    cancel = threading.Event()
    seen: list[int] = []

    def on_photo(row) -> None:
        seen.append(row.id)
        cancel.set()

    r = lib.index([root], cancel=cancel, on_photo=on_photo, batch_size=8)
    assert r.cancelled and 0 < r.new < 40 and r.new == len(seen)
    r2 = lib.index()
    assert (r2.new, r2.unchanged, r2.cancelled) == (40 - r.new, r.new, False)
    _agree(lib)
    lib.close()


def test_new_image_encoder_means_re_embedding(tmp_path: Path, bundle_dir: Path) -> None:
    from attalos_desktop.core.bundle import load_bundle, write_bundle

    b = load_bundle(bundle_dir)
    onnx = tmp_path / "encoder.onnx"
    # Same network, different bytes: an unknown protobuf field (number 1000, varint 1) that ONNX ignores.
    onnx.write_bytes(b.encoder_path.read_bytes() + b"\xc0\x3e\x01")
    other = write_bundle(
        tmp_path / "other-model",
        name="other",
        encoder_onnx=onnx,
        preprocessing=b.preprocessing,
        text=b.text,
        tags=b.tags,
        tag_vectors=b.tag_vectors,
        tag_freq=b.tag_freq,
        words=b.words,
        word_vectors=b.word_vectors,
        ngram_vectors=b.ngram_vectors,
        text_map=b.text_map,
    )
    root = tmp_path / "photos"
    make_photos(root, 4)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([root])
    assert lib.set_model(other) is True
    r = lib.index()
    assert (r.new, r.changed, r.unchanged, r.model) == (0, 4, 0, "other")
    assert lib.catalog.count_vectors(other_than=load_bundle(other).encoder_id) == 0
    assert len(lib.search("circle", limit=10)) == 4
    lib.close()
    lib = Library.open(tmp_path / "lib")  # remembered
    assert lib.bundle.name == "other"
    lib.close()


def test_missing_root_keeps_its_photos(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "drive" / "photos"
    make_photos(root, 3)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([root])
    os.rename(tmp_path / "drive", tmp_path / "unplugged")
    r = lib.index()
    assert (r.removed, r.failed) == (0, 1) and "folder not found" in r.failures[0].reason
    assert len(lib.photos()) == 3
    os.rename(tmp_path / "unplugged", tmp_path / "drive")
    r = lib.index()
    assert (r.unchanged, r.removed, r.failed) == (3, 0, 0)
    lib.close()


def test_reader_sees_what_another_indexer_added(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "photos"
    make_photos(root, 3)
    writer = Library.open(tmp_path / "lib", model=bundle_dir)
    writer.index([root])
    reader = Library.open(tmp_path / "lib", model=bundle_dir)
    assert len(reader.search("square", limit=50)) == 3
    make_photos(root, 2, seed=3, prefix="more")
    writer.index()
    assert len(reader.search("square", limit=50)) == 5
    files = sorted(f.name for f in (tmp_path / "lib" / "index").iterdir())
    assert len(files) == 4 and files[0] == "current.json"  # one generation on disk, nothing half-written
    writer.close()
    reader.close()
