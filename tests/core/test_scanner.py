"""The scanner over a real tree: hidden folders, the library folder, symlinks (loops, duplicates)."""

from __future__ import annotations

import os
from pathlib import Path

from attalos_desktop.core.library import Library
from attalos_desktop.core.scanner import scan
from core_helpers import make_photos


def test_walk_skips_hidden_and_library_and_never_double_counts(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    make_photos(root / "a", 2)
    make_photos(root / ".hidden", 1)
    make_photos(root / "lib" / "cache", 1)  # pretend the library lives inside a root
    (root / "a" / ".dotfile.jpg").write_bytes(b"x")
    (root / "notes.txt").write_text("not a photo")
    os.symlink(root / "a", root / "again")  # the same folder by a second route
    os.symlink(root / "a" / "img000.jpg", root / "link-to-img000.jpg")  # the same file twice
    os.symlink(root, root / "a" / "up")  # a loop
    outside = make_photos(tmp_path / "elsewhere", 1, prefix="out")[0]
    os.symlink(outside, root / "linked-in.jpg")  # a symlinked photo from outside counts once
    found = scan([(1, str(root))], skip_dirs=[str(root / "lib")])
    names = sorted(Path(f.path).name for f in found.files)
    assert names == ["img000.jpg", "img001.jpg", "linked-in.jpg"]
    assert found.problems == [] and found.missing_roots == []


def test_overlapping_roots_count_each_photo_once(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "photos"
    make_photos(root / "inner", 3)
    make_photos(root, 2, prefix="top")
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    r = lib.index([root, root / "inner"])
    assert r.new == 5 and len(lib.photos()) == 5
    assert lib.index().unchanged == 5
    lib.close()
