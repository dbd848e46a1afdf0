"""The catalog's schema versioning and its WAL mode, on real SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from attalos_desktop.core.catalog import SCHEMA_VERSION, Catalog, CatalogError, PhotoInfo
from attalos_desktop.core.library import Library, LibraryError


def test_new_catalog_is_migrated_to_current_version_in_wal_mode(tmp_path: Path) -> None:
    c = Catalog(tmp_path / "c.sqlite3")
    assert c.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert c.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in c.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"photos", "roots", "vectors", "user_tags", "suggested_tags", "rejected_tags", "failures", "meta"} <= tables
    c.close()


def test_catalog_from_a_newer_app_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "catalog.sqlite3")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(CatalogError, match="newer than this app"):
        Catalog(tmp_path / "catalog.sqlite3")
    with pytest.raises(LibraryError, match="newer than this app"):
        Library.open(tmp_path)


def test_photo_and_vector_round_trip_and_cascade(tmp_path: Path) -> None:
    c = Catalog(tmp_path / "c.sqlite3")
    root = c.add_root("/photos")
    with c.transaction():
        pid = c.upsert_photo("/photos/caf\udce9.jpg", root, 10, 20, "h", PhotoInfo(width=3, height=2))
        c.put_vector(pid, "enc", np.arange(4, dtype=np.float32))
        c.add_user_tags(pid, ["beach"])
    assert c.records("enc")["/photos/caf\udce9.jpg"].current
    assert not c.records("other")["/photos/caf\udce9.jpg"].current
    assert np.array_equal(c.vector(pid, "enc"), np.arange(4, dtype=np.float32))
    assert c.remove_root(root) == [pid]
    assert c.count_vectors() == 0 and c.user_tags(pid) == []
    c.close()
