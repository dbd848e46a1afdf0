"""Damaged, unreadable and read-only catalogs: kept aside, restored, tags preserved, one line each."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from fault_helpers import assert_clean, assert_consistent, can_mount, digest, read_only, run, user_tags

TABLES = [
    "sqlite_master",
    "meta",
    "roots",
    "photos",
    "vectors",
    "user_tags",
    "suggested_tags",
    "rejected_tags",
    "failures",
    "sidecars",
]


def _rejected(home: Path) -> set[tuple[str, str]]:
    return user_tags(home, "rejected_tags")


def _damage_table(catalog: Path, table: str, seed: int) -> None:
    """Random bytes over the table's root page (page 1 less its 100-byte header for sqlite_master)."""
    db = sqlite3.connect(catalog)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = (
        1
        if table == "sqlite_master"
        else db.execute("SELECT rootpage FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()[0]
    )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for side in ("-wal", "-shm"):  # everything is in the main file now
        Path(str(catalog) + side).unlink(missing_ok=True)
    rng = np.random.default_rng(seed)
    start = (root - 1) * page_size + (100 if root == 1 else 0)
    data = bytearray(catalog.read_bytes())
    data[start : root * page_size] = rng.integers(0, 256, root * page_size - start, dtype=np.uint8).tobytes()
    catalog.write_bytes(bytes(data))


def _after_recovery(home: Path, template: Path, r, tags: set, rejected: set | None) -> None:
    assert r.returncode == 0, r.stderr
    lines = assert_clean(r.stderr, max_lines=2)
    assert any("damaged" in ln for ln in lines), r.stderr
    assert list(home.glob("catalog.sqlite3.damaged-*")), "the damaged catalog must be kept"
    assert user_tags(home) == tags
    if rejected is not None:
        assert _rejected(home) == rejected
    assert_consistent(home, template / "photos")


@pytest.mark.parametrize("table", TABLES)
def test_damaged_page_restored_from_backup(world: Path, template: Path, table: str) -> None:
    home = world / "lib"
    tags, rejected, before = user_tags(home), _rejected(home), digest(template / "photos")
    _damage_table(home / "catalog.sqlite3", table, seed=len(table))
    r = run("attalos-index", "--json", home=home)
    _after_recovery(home, template, r, tags, rejected)
    assert digest(template / "photos") == before
    r = run("attalos-search", "--json", "red", "circle", home=home)  # usable, nothing more to say
    assert r.returncode == 0 and r.stderr == "", r.stderr


@pytest.mark.parametrize("how", ["header", "empty"])
def test_unreadable_catalog_with_backup(world: Path, template: Path, how: str) -> None:
    home = world / "lib"
    tags, rejected = user_tags(home), _rejected(home)
    cat = home / "catalog.sqlite3"
    if how == "header":
        cat.write_bytes(os.urandom(100) + cat.read_bytes()[100:])
    else:
        cat.write_bytes(b"")
    r = run("attalos-tag", "--json", str(sorted((template / "photos").glob("*.jpg"))[0]), home=home)
    assert r.returncode == 0, r.stderr
    assert "damaged" in assert_clean(r.stderr)[0]
    r = run("attalos-index", "--json", home=home)  # the one rescan: sidecar tags newer than the backup
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert user_tags(home) == tags and _rejected(home) == rejected
    assert_consistent(home, template / "photos")


def test_damaged_catalog_without_backup_recovers_rows_and_sidecar_tags(world: Path, template: Path) -> None:
    home = world / "lib"
    tags = user_tags(home)
    shutil.rmtree(home / "backups")
    _damage_table(home / "catalog.sqlite3", "photos", seed=3)
    r = run("attalos-index", "--json", home=home)
    _after_recovery(home, template, r, tags, None)  # tags back from the readable rows and the sidecars


def test_check_and_repair(world: Path, template: Path) -> None:
    home = world / "lib"
    tags = user_tags(home)
    meta = json.loads((home / "index" / "current.json").read_text())
    f = home / "index" / meta["index"]
    f.write_bytes(f.read_bytes()[:-50])
    db = sqlite3.connect(home / "catalog.sqlite3")
    pid = db.execute("SELECT min(photo_id) FROM vectors").fetchone()[0]
    db.execute("UPDATE vectors SET vec=? WHERE photo_id=?", (np.full(meta["dim"], np.nan, np.float32).tobytes(), pid))
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("INSERT INTO user_tags(photo_id, tag, source) VALUES (424242, 'orphan', 'user')")
    db.commit()
    db.close()
    r = run("attalos-index", "--check", "--json", home=home)
    assert r.returncode == 1, r.stderr
    assert_clean(r.stderr)
    out = json.loads(r.stdout)
    assert not out["ok"] and len(out["problems"]) == 3 and out["checked"], out
    r = run("attalos-index", "--check", "--repair", "--json", home=home)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    assert out["ok"] and len(out["fixed"]) >= 3, out
    r = run("attalos-index", "--check", home=home)
    assert r.returncode == 0 and "sound" in r.stdout, r.stdout
    r = run("attalos-index", "--json", home=home)  # the one rescan re-embeds the photo whose vector was NaN
    assert r.returncode == 0 and json.loads(r.stdout)["changed"] == 1
    assert_consistent(home, template / "photos")
    assert user_tags(home) == tags


@pytest.mark.skipif(not can_mount() and os.geteuid() == 0, reason="needs a read-only mount as root")
def test_read_only_catalog_file_and_folder(world: Path, template: Path) -> None:
    home = world / "lib"
    tags = user_tags(home)
    cat = home / "catalog.sqlite3"
    with read_only(cat):
        r = run("attalos-search", "--json", "red", "circle", home=home)
        assert r.returncode in (0, 1), r.stderr
        assert len(assert_clean(r.stderr)) == (r.returncode == 1)
        r = run("attalos-index", "--json", home=home)
        assert r.returncode == 1
        assert "read" in assert_clean(r.stderr)[0].lower()
        r = run("attalos-tag", "--add", "blocked", str(sorted((template / "photos").glob("*.jpg"))[5]), home=home)
        assert r.returncode == 1 and len(assert_clean(r.stderr)) == 1
    with read_only(home):
        r = run("attalos-index", "--json", home=home)
        assert r.returncode == 1 and len(assert_clean(r.stderr)) == 1
    r = run("attalos-index", "--json", home=home)  # permission back: usable at once
    assert r.returncode == 0, r.stderr
    assert user_tags(home) == tags
    assert_consistent(home, template / "photos")


@pytest.mark.skipif(not can_mount(), reason="read-only -wal/-shm need a read-only bind mount (root)")
def test_read_only_wal_and_shm(world: Path, template: Path) -> None:
    home = world / "lib"
    cat = home / "catalog.sqlite3"
    db = sqlite3.connect(cat)
    db.execute("SELECT count(*) FROM photos").fetchone()
    wal, shm = Path(str(cat) + "-wal"), Path(str(cat) + "-shm")
    saved = {p: p.read_bytes() for p in (wal, shm) if p.exists()}
    db.close()
    for p, data in saved.items():
        p.write_bytes(data)  # stale leftovers of a process that died
    for p in saved:
        with read_only(p):
            r = run("attalos-index", "--json", home=home)
            assert r.returncode in (0, 1) and len(assert_clean(r.stderr)) == (r.returncode == 1), r.stderr
    r = run("attalos-index", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert_consistent(home, template / "photos")


def test_stale_read_only_shm_gets_the_catalog_permissions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from attalos_desktop.core import integrity

    cat = tmp_path / "catalog.sqlite3"
    cat.write_bytes(b"")
    cat.chmod(0o644)
    shm = Path(str(cat) + "-shm")
    shm.write_bytes(b"x")
    shm.chmod(0o444)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: (os.stat(p).st_mode & 0o200 != 0) if m == os.W_OK else real(p, m))
    integrity.fix_stale_wal_permissions(cat)
    assert shm.stat().st_mode & 0o777 == 0o644
