"""The catalog: one SQLite database (WAL) holding everything the library knows.

Photos, roots, metadata, keywords/user tags, suggested and rejected tags, failures, and the raw
float32 embedding of every photo together with the id of the encoder that made it. Keeping the raw
vectors here means the voyager index is only a cache: it can always be rebuilt from the catalog, and
a photo and its vector are committed in the same transaction, so a killed indexer never leaves a
photo without its vector or a vector without its photo.

Paths are stored as BLOBs of their file-system bytes (``os.fsencode``) because real libraries contain
names that are not valid UTF-8; they come back as ``str`` through ``os.fsdecode`` (surrogateescape).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np

from .gazetteer import Place

SCHEMA_VERSION = 3

# Each entry migrates from version i to i+1. Add new entries, never edit old ones.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
    CREATE TABLE roots (
        id INTEGER PRIMARY KEY,
        path BLOB NOT NULL UNIQUE,
        added REAL NOT NULL
    );
    CREATE TABLE photos (
        id INTEGER PRIMARY KEY,
        path BLOB NOT NULL UNIQUE,
        root_id INTEGER REFERENCES roots(id) ON DELETE CASCADE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        hash TEXT,
        width INTEGER, height INTEGER,
        taken TEXT, camera TEXT, lens TEXT,
        lat REAL, lon REAL,
        orientation INTEGER,
        format TEXT,
        indexed_at REAL
    );
    CREATE INDEX photos_root ON photos(root_id);
    CREATE INDEX photos_hash ON photos(hash);
    CREATE TABLE vectors (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        encoder_id TEXT NOT NULL,
        vec BLOB NOT NULL
    );
    CREATE INDEX vectors_encoder ON vectors(encoder_id);
    CREATE TABLE user_tags (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'user',   -- 'file' (keywords found on the photo) or 'user'
        PRIMARY KEY (photo_id, tag)
    );
    CREATE INDEX user_tags_tag ON user_tags(tag);
    CREATE TABLE suggested_tags (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        score REAL NOT NULL,
        PRIMARY KEY (photo_id, tag)
    );
    CREATE TABLE rejected_tags (
        photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (photo_id, tag)
    );
    CREATE TABLE failures (
        path BLOB PRIMARY KEY,
        root_id INTEGER REFERENCES roots(id) ON DELETE CASCADE,
        reason TEXT NOT NULL,
        at REAL NOT NULL
    );
    """,
    # 2: the XMP sidecar each photo was last synced with (core/sidecars.py): which file, its mtime, and
    # the keywords it held then (JSON list), so a rescan tells another program's edits from our own.
    """
    CREATE TABLE sidecars (
        photo_id INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
        path BLOB NOT NULL,
        mtime_ns INTEGER NOT NULL,
        keywords TEXT NOT NULL DEFAULT '[]'
    );
    """,
    # 3: when and where (core/capture.py): the capture time's UTC offset and source ('exif', 'file' for the
    # file's time, 'unknown'; NULL until a rescan reads it for a photo indexed before), and the place from
    # the GPS position; indexes for the date and place filters, each ordered by date (newest first) and
    # holding the country code a city or region is asked with (a count reads no row: bench/when_where_bench.py),
    # and one of the places themselves (the names a query can use, the sidebar's Places: no row read either).
    """
    ALTER TABLE photos ADD COLUMN taken_offset TEXT;
    ALTER TABLE photos ADD COLUMN taken_source TEXT;
    ALTER TABLE photos ADD COLUMN place_city TEXT;
    ALTER TABLE photos ADD COLUMN place_region TEXT;
    ALTER TABLE photos ADD COLUMN place_country TEXT;
    ALTER TABLE photos ADD COLUMN place_cc TEXT;
    CREATE INDEX photos_taken ON photos(taken);
    CREATE INDEX photos_place_cc ON photos(place_cc, taken);
    CREATE INDEX photos_place_region ON photos(place_region, place_cc, taken);
    CREATE INDEX photos_place_city ON photos(place_city, place_cc, taken);
    CREATE INDEX photos_places ON photos(place_cc, place_city, place_region, place_country);
    """,
]


def _place_values(place: "Place | None") -> tuple[str | None, str | None, str | None, str | None]:
    if place is None:
        return None, None, None, None
    return place.city, place.region, place.country, place.country_code


class CatalogError(RuntimeError):
    """The catalog cannot be opened or is from a newer app."""


def _b(path: str) -> bytes:
    return os.fsencode(path)


def _s(blob: bytes) -> str:
    return os.fsdecode(bytes(blob))


class PhotoRecord(NamedTuple):
    """A catalog row as the indexer needs it (change detection)."""

    id: int
    path: str
    root_id: int | None
    size: int
    mtime_ns: int
    hash: str | None
    current: bool  # it has a vector made by the current image encoder


@dataclass
class PhotoInfo:
    """Metadata to store for one photo."""

    width: int | None = None
    height: int | None = None
    taken: str | None = None
    camera: str | None = None
    lens: str | None = None
    lat: float | None = None
    lon: float | None = None
    orientation: int | None = None
    format: str | None = None
    taken_offset: str | None = None
    taken_source: str | None = None
    place: Place | None = None


PHOTO_COLUMNS = (
    "id, path, root_id, width, height, taken, camera, lens, lat, lon, size, mtime_ns,"
    " taken_source, place_city, place_region, place_country"
)


class Catalog:
    """Thin typed wrapper over the SQLite connection; owned by the thread that opened it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as exc:
            raise CatalogError(f"catalog {path} cannot be opened: {exc}") from exc

    # -- schema ------------------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"catalog {self.path} has schema version {version}, newer than this app ({SCHEMA_VERSION})"
            )
        while version < SCHEMA_VERSION:
            with self.transaction():
                for stmt in _split_sql(MIGRATIONS[version]):
                    self.db.execute(stmt)
                version += 1
                self.db.execute(f"PRAGMA user_version={version}")

    def transaction(self) -> "_Tx":
        return _Tx(self.db)

    def read_snapshot(self) -> "_Snapshot":
        """One read snapshot for several SELECTs (nothing when a transaction is already open)."""
        return _Snapshot(self.db)

    def data_version(self) -> int:
        """SQLite's counter of commits by other connections (it changes when another process wrote)."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        self.db.close()

    # -- meta --------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str | None) -> None:
        if value is None:
            self.db.execute("DELETE FROM meta WHERE key=?", (key,))
        else:
            self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- roots -------------------------------------------------------------------------------------
    def roots(self) -> list[tuple[int, str, int]]:
        rows = self.db.execute(
            "SELECT r.id, r.path, (SELECT count(*) FROM photos p WHERE p.root_id = r.id) FROM roots r ORDER BY r.id"
        ).fetchall()
        return [(r[0], _s(r[1]), r[2]) for r in rows]

    def add_root(self, path: str) -> int:
        self.db.execute("INSERT OR IGNORE INTO roots(path, added) VALUES (?, ?)", (_b(path), time.time()))
        return int(self.db.execute("SELECT id FROM roots WHERE path=?", (_b(path),)).fetchone()[0])

    def remove_root(self, root_id: int) -> list[int]:
        """Forget a root and its photos; returns the removed photo ids (for the vector index)."""
        with self.transaction():
            ids = [r[0] for r in self.db.execute("SELECT id FROM photos WHERE root_id=?", (root_id,))]
            self.db.execute("DELETE FROM photos WHERE root_id=?", (root_id,))
            self.db.execute("DELETE FROM failures WHERE root_id=?", (root_id,))
            self.db.execute("DELETE FROM roots WHERE id=?", (root_id,))
        return ids

    # -- photos ------------------------------------------------------------------------------------
    def records(self, encoder_id: str) -> dict[str, PhotoRecord]:
        """Every photo keyed by path, and whether it has a vector from ``encoder_id``: what rescans compare.

        Written for speed: a no-op rescan of 100k photos spends most of its time here and in the walk.
        The vector table (large BLOBs) is not joined; its encoder index answers which ids are current.
        """
        enc, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
        current = {r[0] for r in self.db.execute("SELECT photo_id FROM vectors WHERE encoder_id=?", (encoder_id,))}
        cur = self.db.execute("SELECT path, id, root_id, size, mtime_ns, hash FROM photos")
        return {
            (sp := path.decode(enc, errors)): PhotoRecord(pid, sp, root_id, size, mtime_ns, h, pid in current)
            for path, pid, root_id, size, mtime_ns, h in cur
        }

    def photo_rows(self, where: str = "", args: Sequence[object] = ()) -> list[tuple]:
        sql = f"SELECT {PHOTO_COLUMNS} FROM photos {where}"
        return [(r[0], _s(r[1]), *r[2:]) for r in self.db.execute(sql, tuple(args))]

    def photo_id_for_path(self, path: str) -> int | None:
        row = self.db.execute("SELECT id FROM photos WHERE path=?", (_b(path),)).fetchone()
        return row[0] if row else None

    def paths_for_ids(self, ids: Iterable[int]) -> dict[int, str]:
        ids = list(ids)
        out: dict[int, str] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            q = ",".join("?" * len(chunk))
            for pid, path in self.db.execute(f"SELECT id, path FROM photos WHERE id IN ({q})", chunk):
                out[pid] = _s(path)
        return out

    def upsert_photo(
        self,
        path: str,
        root_id: int | None,
        size: int,
        mtime_ns: int,
        content_hash: str | None,
        info: PhotoInfo,
    ) -> int:
        """Insert or update a photo row (call inside a transaction); returns its id."""
        vals = (
            root_id,
            size,
            mtime_ns,
            content_hash,
            info.width,
            info.height,
            info.taken,
            info.camera,
            info.lens,
            info.lat,
            info.lon,
            info.orientation,
            info.format,
            time.time(),
            info.taken_offset,
            info.taken_source,
            *_place_values(info.place),
        )
        row = self.db.execute("SELECT id FROM photos WHERE path=?", (_b(path),)).fetchone()
        if row:
            self.db.execute(
                "UPDATE photos SET root_id=?, size=?, mtime_ns=?, hash=?, width=?, height=?, taken=?, camera=?,"
                " lens=?, lat=?, lon=?, orientation=?, format=?, indexed_at=?, taken_offset=?, taken_source=?,"
                " place_city=?, place_region=?, place_country=?, place_cc=? WHERE id=?",
                (*vals, row[0]),
            )
            return int(row[0])
        cur = self.db.execute(
            "INSERT INTO photos(path, root_id, size, mtime_ns, hash, width, height, taken, camera, lens, lat, lon,"
            " orientation, format, indexed_at, taken_offset, taken_source, place_city, place_region, place_country,"
            " place_cc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (_b(path), *vals),
        )
        return int(cur.lastrowid)  # type: ignore[arg-type]

    def photos_without_capture(self) -> list[tuple[int, str, int]]:
        """(id, path, mtime_ns) of photos indexed before the catalog kept when and where (schema 3)."""
        rows = self.db.execute("SELECT id, path, mtime_ns FROM photos WHERE taken_source IS NULL ORDER BY id")
        return [(r[0], _s(r[1]), r[2]) for r in rows]

    def set_capture(self, rows: Iterable[tuple[int, str | None, str | None, str, "Place | None"]]) -> None:
        """Store (id, taken, offset, source, place) for photos (inside a transaction)."""
        self.db.executemany(
            "UPDATE photos SET taken=?, taken_offset=?, taken_source=?, place_city=?, place_region=?,"
            " place_country=?, place_cc=? WHERE id=?",
            [(t, o, s, *_place_values(p), pid) for pid, t, o, s, p in rows],
        )

    def move_photo(self, photo_id: int, new_path: str, root_id: int | None, size: int, mtime_ns: int) -> None:
        self.db.execute(
            "UPDATE photos SET path=?, root_id=?, size=?, mtime_ns=? WHERE id=?",
            (_b(new_path), root_id, size, mtime_ns, photo_id),
        )

    def delete_photos(self, ids: Sequence[int]) -> None:
        for i in range(0, len(ids), 500):
            chunk = list(ids[i : i + 500])
            self.db.execute(f"DELETE FROM photos WHERE id IN ({','.join('?' * len(chunk))})", chunk)

    def file_state(self, photo_id: int) -> tuple[int, int] | None:
        """(size, mtime_ns) recorded for the photo's file."""
        row = self.db.execute("SELECT size, mtime_ns FROM photos WHERE id=?", (photo_id,)).fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def count_photos(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM photos").fetchone()[0])

    # -- vectors -----------------------------------------------------------------------------------
    def put_vector(self, photo_id: int, encoder_id: str, vec: np.ndarray) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO vectors(photo_id, encoder_id, vec) VALUES (?, ?, ?)",
            (photo_id, encoder_id, np.ascontiguousarray(vec, dtype=np.float32).tobytes()),
        )

    def vector(self, photo_id: int, encoder_id: str) -> np.ndarray | None:
        row = self.db.execute(
            "SELECT vec FROM vectors WHERE photo_id=? AND encoder_id=?", (photo_id, encoder_id)
        ).fetchone()
        if not row or len(row[0]) % 4:
            return None
        vec = np.frombuffer(row[0], dtype=np.float32).copy()
        return vec if np.isfinite(vec).all() else None  # a NaN vector is no vector: re-embedded next rescan

    def delete_vectors(self, photo_id: int) -> None:
        """The photo's stored vectors (of every encoder) no longer describe it."""
        self.db.execute("DELETE FROM vectors WHERE photo_id=?", (photo_id,))

    def vector_ids(self, encoder_id: str) -> np.ndarray:
        rows = self.db.execute("SELECT photo_id FROM vectors WHERE encoder_id=?", (encoder_id,)).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def iter_vectors(
        self, encoder_id: str, ids: Sequence[int] | None = None, chunk: int = 20000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, raw vectors) in chunks, for (re)building the vector index."""
        if ids is None:
            cur = self.db.execute("SELECT photo_id, vec FROM vectors WHERE encoder_id=?", (encoder_id,))
            while True:
                rows = cur.fetchmany(chunk)
                if not rows:
                    return
                yield _stack(rows)
        else:
            ids = list(ids)
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                rows = self.db.execute(
                    f"SELECT photo_id, vec FROM vectors WHERE encoder_id=? AND photo_id IN ({','.join('?' * len(part))})",
                    (encoder_id, *part),
                ).fetchall()
                if rows:
                    yield _stack(rows)

    def count_vectors(self, encoder_id: str | None = None, other_than: str | None = None) -> int:
        a: tuple[str, ...]
        if encoder_id is not None:
            q, a = "SELECT count(*) FROM vectors WHERE encoder_id=?", (encoder_id,)
        elif other_than is not None:
            q, a = "SELECT count(*) FROM vectors WHERE encoder_id<>?", (other_than,)
        else:
            q, a = "SELECT count(*) FROM vectors", ()
        return int(self.db.execute(q, a).fetchone()[0])

    # -- tags --------------------------------------------------------------------------------------
    def user_tags(self, photo_id: int) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT tag FROM user_tags WHERE photo_id=? ORDER BY tag", (photo_id,))]

    def add_user_tags(self, photo_id: int, tags: Iterable[str], source: str = "user") -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO user_tags(photo_id, tag, source) VALUES (?, ?, ?)",
            [(photo_id, t, source) for t in tags],
        )

    def set_file_keywords(self, photo_id: int, tags: Iterable[str]) -> None:
        """Replace the keywords read from the file itself; tags the user added stay."""
        self.db.execute("DELETE FROM user_tags WHERE photo_id=? AND source='file'", (photo_id,))
        self.add_user_tags(photo_id, tags, source="file")

    def remove_user_tags(self, photo_id: int, tags: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM user_tags WHERE photo_id=? AND tag=?", [(photo_id, t) for t in tags])

    def rejected_tags(self, photo_id: int) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT tag FROM rejected_tags WHERE photo_id=?", (photo_id,))}

    def reject_tags(self, photo_id: int, tags: Iterable[str]) -> None:
        self.db.executemany(
            "INSERT OR IGNORE INTO rejected_tags(photo_id, tag) VALUES (?, ?)", [(photo_id, t) for t in tags]
        )

    def unreject_tags(self, photo_id: int, tags: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM rejected_tags WHERE photo_id=? AND tag=?", [(photo_id, t) for t in tags])

    def set_suggested(self, photo_id: int, tags: Sequence[tuple[str, float]]) -> None:
        self.db.execute("DELETE FROM suggested_tags WHERE photo_id=?", (photo_id,))
        self.db.executemany(
            "INSERT INTO suggested_tags(photo_id, tag, score) VALUES (?, ?, ?)",
            [(photo_id, t, float(s)) for t, s in tags],
        )

    def all_user_tags(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT tag FROM user_tags ORDER BY tag")]

    def user_tag_map(self) -> dict[int, set[str]]:
        """Every photo that carries user tags, with its tags (what personal suggestions learn from)."""
        out: dict[int, set[str]] = {}
        for pid, tag in self.db.execute("SELECT photo_id, tag FROM user_tags"):
            out.setdefault(pid, set()).add(tag)
        return out

    def rejected_map(self) -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        for pid, tag in self.db.execute("SELECT photo_id, tag FROM rejected_tags"):
            out.setdefault(pid, set()).add(tag)
        return out

    def photos_with_tags(self, tags: Sequence[str]) -> list[int]:
        """Ids of the photos that carry every one of ``tags`` as user tags."""
        if not tags:
            return []
        q = ",".join("?" * len(tags))
        rows = self.db.execute(
            f"SELECT photo_id FROM user_tags WHERE tag IN ({q}) GROUP BY photo_id HAVING count(DISTINCT tag)=?",
            (*tags, len(set(tags))),
        )
        return [r[0] for r in rows]

    # -- sidecars ----------------------------------------------------------------------------------
    def write_sidecars(self) -> bool:
        """The library's setting: write tags back to XMP sidecars (on unless turned off)."""
        return self.get_meta("write_sidecars") != "0"

    def set_write_sidecars(self, on: bool) -> None:
        self.set_meta("write_sidecars", "1" if on else "0")

    def sidecar_states(self) -> dict[int, tuple[str, int]]:
        """photo id -> (sidecar path, mtime_ns) as last synced: what a rescan compares with the walk."""
        enc, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
        return {
            pid: (path.decode(enc, errors), mtime)
            for pid, path, mtime in self.db.execute("SELECT photo_id, path, mtime_ns FROM sidecars")
        }

    def sidecar_record(self, photo_id: int) -> tuple[str, int, list[str]] | None:
        """(sidecar path, mtime_ns, keywords it held) as last synced, or None."""
        row = self.db.execute("SELECT path, mtime_ns, keywords FROM sidecars WHERE photo_id=?", (photo_id,)).fetchone()
        if row is None:
            return None
        try:
            kws = [str(k) for k in json.loads(row[2])]
        except (ValueError, TypeError):
            kws = []
        return _s(row[0]), int(row[1]), kws

    def set_sidecar(self, photo_id: int, path: str, mtime_ns: int, keywords: Sequence[str]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO sidecars(photo_id, path, mtime_ns, keywords) VALUES (?, ?, ?, ?)",
            (photo_id, _b(path), int(mtime_ns), json.dumps(list(keywords), ensure_ascii=False)),
        )

    def forget_sidecar(self, photo_id: int) -> None:
        self.db.execute("DELETE FROM sidecars WHERE photo_id=?", (photo_id,))

    # -- failures ----------------------------------------------------------------------------------
    def clear_failures(self, root_ids: Sequence[int]) -> None:
        self.db.executemany("DELETE FROM failures WHERE root_id=?", [(r,) for r in root_ids])

    def add_failure(self, path: str, root_id: int | None, reason: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO failures(path, root_id, reason, at) VALUES (?, ?, ?, ?)",
            (_b(path), root_id, reason, time.time()),
        )

    def clear_failure(self, path: str) -> None:
        self.db.execute("DELETE FROM failures WHERE path=?", (_b(path),))

    def failures(self) -> list[tuple[str, str]]:
        return [(_s(p), r) for p, r in self.db.execute("SELECT path, reason FROM failures ORDER BY path")]


def _stack(rows: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of the rows whose vector is usable: the common length and finite (a damaged or
    NaN vector is left out, never handed on; the index and --check repair such rows)."""
    sizes = [len(r[1]) for r in rows]
    want = max(set(sizes), key=sizes.count) if sizes else 0
    rows = [r for r, n in zip(rows, sizes) if n == want and n % 4 == 0]
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    vecs = (
        np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        if rows
        else np.zeros((0, want // 4), np.float32)
    )
    ok = np.isfinite(vecs).all(axis=1)
    return (ids, vecs) if ok.all() else (ids[ok], vecs[ok])


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT/ROLLBACK; nests by doing nothing inside an open transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.outer = False

    def __enter__(self) -> sqlite3.Connection:
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self.db

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self.outer:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")


class _Snapshot:
    """BEGIN ... COMMIT around reads (a deferred transaction: one consistent view, no write lock); does
    nothing inside an open transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.own = False

    def __enter__(self) -> sqlite3.Connection:
        if not self.db.in_transaction:
            self.db.execute("BEGIN")
            self.own = True
        return self.db

    def __exit__(self, *exc: object) -> None:
        if self.own and self.db.in_transaction:
            self.db.execute("COMMIT")
