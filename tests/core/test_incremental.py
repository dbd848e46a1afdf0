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
    keep = (tmp_path / "saved-index")
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
    for f in (tmp_path / "lib" / "index").glob("vectors-*.hnsw"):
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
