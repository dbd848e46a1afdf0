"""Helpers for the fault-injection suite: run the real commands, inspect a library without the model."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

from core_helpers import make_photos

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
N_PHOTOS = 12
TAGGED = {0: ["sunset", "family"], 1: ["harbour"], 2: ["family", "boat trip"]}
LATE_TAG = (3, "after backup")  # tagged after the last backup: only in the catalog and the sidecar


def command(name: str) -> list[str]:
    exe = BIN / name
    return [str(exe)] if exe.exists() else [sys.executable, "-m", f"attalos_desktop.cli.{name.split('-')[1]}"]


def run(
    name: str, *args: str, home: Path | None = None, timeout: float = 90, env: dict | None = None, **kw: Any
) -> subprocess.CompletedProcess:
    argv = command(name) + (["--library", str(home)] if home is not None else []) + list(args)
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env if env is not None else os.environ.copy(),
        **kw,
    )


def assert_clean(stderr: str, max_lines: int = 1) -> list[str]:
    """No traceback; at most ``max_lines`` lines, each one of our own (``attalos-...: ...``)."""
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) <= max_lines, stderr
    for ln in lines:
        assert ln.startswith(("attalos-index: ", "attalos-tag: ", "attalos-search: ")), stderr
    return lines


def finite_json(text: str) -> Any:
    def bad(c: str) -> Any:
        raise AssertionError(f"non-finite number {c} in JSON output")

    return json.loads(text, parse_constant=bad)


def build_library(base: Path, n: int = N_PHOTOS) -> None:
    """photos + an indexed library with user tags, a backup holding them, and one tag added after it."""
    from attalos_desktop.core.library import Library

    photos = make_photos(base / "photos", n, seed=7)
    lib = Library.open(base / "lib")
    lib.index([base / "photos"])
    for i, tags in TAGGED.items():
        lib.accept_tags(lib.photo_by_path(photos[i]).id, tags)
    lib.reject_tags(lib.photo_by_path(photos[0]).id, ["car"])
    lib._backup(due_only=False)
    lib.accept_tags(lib.photo_by_path(photos[LATE_TAG[0]]).id, [LATE_TAG[1]])
    lib.close()


def user_tags(home: Path, table: str = "user_tags") -> set[tuple[str, str]]:
    """(photo path, tag) for every user tag (or rejection: ``table="rejected_tags"``), read straight from
    the catalog."""
    db = sqlite3.connect(f"file:{home / 'catalog.sqlite3'}?mode=ro", uri=True)
    try:
        return {
            (os.fsdecode(p), t)
            for p, t in db.execute(f"SELECT p.path, u.tag FROM {table} u JOIN photos p ON p.id = u.photo_id")
        }
    finally:
        db.close()


def expected_tags(photos: Path) -> set[tuple[str, str]]:
    files = sorted(p for p in photos.iterdir() if p.suffix == ".jpg")
    out = {(str(files[i]), t) for i, tags in TAGGED.items() for t in tags}
    out.add((str(files[LATE_TAG[0]]), LATE_TAG[1]))
    return out


def assert_consistent(home: Path, photos: Path) -> None:
    """Every photo file on disk is in the catalog exactly once with a finite vector, and the saved
    index (verified) holds exactly the catalog's vectors."""
    from attalos_desktop.core.vector_index import VectorIndex

    import numpy as np

    db = sqlite3.connect(f"file:{home / 'catalog.sqlite3'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = [(pid, os.fsdecode(p)) for pid, p in db.execute("SELECT id, path FROM photos")]
        vecs = {pid: v for pid, v in db.execute("SELECT photo_id, vec FROM vectors")}
    finally:
        db.close()
    on_disk = sorted(str(p) for p in photos.rglob("*.jpg") if p.is_file() and not p.is_symlink())
    paths = [p for _, p in rows]
    assert len(paths) == len(set(paths)), "a photo is in the catalog twice"
    assert sorted(paths) == on_disk
    assert set(vecs) == {pid for pid, _ in rows}, "photos without vectors"
    assert all(np.isfinite(np.frombuffer(v, dtype=np.float32)).all() for v in vecs.values())
    meta = json.loads((home / "index" / "current.json").read_text())
    vi = VectorIndex.load_checked(home / "index", meta["dim"], meta["encoder_id"])
    assert vi is not None
    assert set(vi.live_ids().tolist()) == set(vecs)


def digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.jpg")) if p.is_file()}


def can_mount() -> bool:
    return sys.platform.startswith("linux") and os.geteuid() == 0


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make a file or folder read-only for this test: a read-only bind mount as root (permissions do
    not stop root), else chmod."""
    if can_mount():
        subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
            yield
        finally:
            subprocess.run(["umount", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        try:
            yield
        finally:
            path.chmod(mode)
