"""Protecting what the user made, repairing what can be rebuilt (DESIGN.md, "Precious and derived data").

- Catalog (precious): ``PRAGMA quick_check`` at every open; a catalog that is damaged (SQLite says
  corrupt / not a database, or quick_check fails) is moved aside - kept, renamed with a timestamp - and
  replaced by the newest backup that verifies, plus whatever rows can still be read from the damaged
  copy (tags added since the backup, photos added since); with no backup, by those rows alone. The
  vector index is dropped then (photo ids may differ) and rebuilt from the restored catalog; a rescan
  reconciles with the disk and takes in the XMP sidecars written since.
- Backups: SQLite's online backup API into ``<library>/backups/catalog-<UTC time>.sqlite3``, each one
  verified before it counts; made after every index run that changed something and after tag edits
  (at most every ``BACKUP_EVERY_S``); the newest ``BACKUPS_KEPT`` are kept.
- Vector index (derived): verified before voyager reads it (core/vector_index.py), rebuilt from the
  catalog's vectors on any doubt, with progress and one notice. Vectors that are not finite are dropped
  from the catalog, so their photos count as not indexed and are re-embedded by the next rescan.
- ``check_library`` (what ``attalos-index --check [--repair]`` runs) is in core/repair.py, a floor above.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .catalog import Catalog, CatalogError
from .lock import LibraryLock, LockHeld
from .notices import notice
from .vector_index import POINTER, VectorIndex, verify_saved
from .voyager_file import IndexDamaged

if TYPE_CHECKING:
    from .paths import LibraryPaths

BACKUPS_KEPT = 5
BACKUP_EVERY_S = 300.0  # tag edits: at most one backup per five minutes (sidecars hold the newest edits)
BACKUP_DIR = "backups"
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
# Tables in the order rows are salvaged (parents first); each with its key column for merging.
_TABLES = ("meta", "roots", "photos", "vectors", "user_tags", "suggested_tags", "rejected_tags", "failures", "sidecars")


def is_damage(exc: BaseException | None) -> bool:
    """SQLite says the file itself is damaged (not: locked, read-only, missing, disk full)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def quick_check(db: sqlite3.Connection, full: bool = False) -> list[str]:
    """Problems found by quick_check (or integrity_check when ``full``); empty when the file is sound."""
    pragma = "integrity_check(20)" if full else "quick_check(5)"
    rows = [str(r[0]) for r in db.execute(f"PRAGMA {pragma}")]
    return [] if rows == ["ok"] else rows


# -- opening -------------------------------------------------------------------------------------------
def open_catalog(paths: "LibraryPaths") -> Catalog:
    """Open the catalog, checking it; a damaged one is moved aside and restored (see module doc)."""
    path = paths.catalog
    fix_stale_wal_permissions(path)
    try:
        wal = Path(str(path) + "-wal")
        emptied = path.exists() and path.stat().st_size == 0 and (not wal.exists() or wal.stat().st_size == 0)
    except OSError:
        emptied = False
    if emptied and newest_good_backup(paths.home) is not None:  # SQLite would take it as a new, empty catalog
        return recover_catalog(paths, "the file is empty")
    try:
        cat = Catalog(path)
    except CatalogError as exc:
        if not is_damage(exc.__cause__):
            raise
        return recover_catalog(paths, str(exc.__cause__))
    try:
        problems = quick_check(cat.db)
    except sqlite3.DatabaseError as exc:
        cat.close()
        if not is_damage(exc):
            raise CatalogError(f"catalog {path} cannot be read: {exc}") from exc
        problems = [str(exc)]
    if not problems:
        return cat
    cat.close()
    return recover_catalog(paths, problems[0])


def fix_stale_wal_permissions(path: Path) -> None:
    """A -wal/-shm that SQLite created while the catalog was read-only stays read-only after the user
    makes the catalog writable again, and then every open fails: give them the catalog's permissions."""
    try:
        if not path.exists() or not os.access(path, os.W_OK):
            return
        mode = stat.S_IMODE(path.stat().st_mode)
        for suffix in ("-wal", "-shm"):
            side = Path(str(path) + suffix)
            if side.exists() and not os.access(side, os.W_OK) and side.stat().st_uid == os.geteuid():
                os.chmod(side, mode | stat.S_IWUSR)
    except OSError:
        pass


def recover_catalog(paths: "LibraryPaths", problem: str) -> Catalog:
    """Move the damaged catalog aside, restore the newest good backup, salvage what rows can be read."""
    path = paths.catalog
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    try:
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
    except OSError as exc:
        raise CatalogError(
            f"catalog {path} is damaged ({problem}) and cannot be moved aside: {exc.strerror or exc}"
        ) from exc
    backup = newest_good_backup(paths.home)
    try:
        if backup is not None:
            tmp = path.with_name(f".{path.name}.restore.tmp")
            shutil.copyfile(backup, tmp)
            _fsync(tmp)
            os.replace(tmp, path)
        cat = Catalog(path)
    except (OSError, CatalogError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CatalogError(f"catalog {path} is damaged ({problem}) and could not be restored: {why}") from exc
    salvaged = _salvage(aside, cat, merge=backup is not None)
    _drop_index(paths)
    what = (
        f"restored from the backup {backup.name}" if backup is not None else "rebuilt from the rows that could be read"
    )
    extra = f", {salvaged} tags recovered from the damaged copy" if salvaged else ""
    notice(
        f"the catalog was damaged ({problem}); it was kept as {aside.name} and {what}{extra}; "
        "run attalos-index to bring it up to date (tags in XMP sidecars are taken in)"
    )
    return cat


def _drop_index(paths: "LibraryPaths") -> None:
    """After a restore, photo ids may mean other photos: the index must be rebuilt, not reconciled."""
    try:
        (paths.index_dir / POINTER).unlink()
    except OSError:
        pass


def _read_rows(src: sqlite3.Connection, table: str, cols: list[str]) -> list[tuple]:
    """Every row that can be read, stepping over damaged stretches (by rowid)."""
    rows: list[tuple] = []
    lo, skip, attempts = -(2**63), 1, 0
    sql = f"SELECT rowid, {', '.join(cols)} FROM {table} WHERE rowid > ? ORDER BY rowid"
    while attempts < 48:
        try:
            for r in src.execute(sql, (lo,)):
                rows.append(r)
                lo, skip = r[0], 1
            break
        except sqlite3.DatabaseError:
            attempts += 1
            if lo == -(2**63):
                lo = 0
            lo += skip
            skip *= 2
    return rows


def _salvage(damaged: Path, cat: Catalog, merge: bool) -> int:
    """Copy readable rows of the damaged catalog into ``cat``; returns the user tags taken over.

    ``merge=False`` (no backup): everything readable is copied under its own ids. ``merge=True``
    (restored backup): photos and roots the backup lacks are added (without vectors: the rescan embeds
    them), and user tags / rejections are added by photo path.
    """
    try:
        src = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return 0
    db = cat.db
    tags_taken = 0
    try:

        def columns(conn: sqlite3.Connection, table: str) -> list[str]:
            try:
                return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            except sqlite3.DatabaseError:
                return []

        data: dict[str, tuple[list[str], list[tuple]]] = {}
        for t in _TABLES:
            cols = [c for c in columns(src, t) if c in set(columns(db, t))]
            if cols and (merge is False or t in ("roots", "photos", "user_tags", "rejected_tags")):
                data[t] = (cols, _read_rows(src, t, cols))
        db.execute("PRAGMA foreign_keys=OFF")
        with cat.transaction():
            if not merge:
                for t, (cols, rows) in data.items():
                    q = f"INSERT OR IGNORE INTO {t}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                    db.executemany(q, [r[1:] for r in rows])
                    if t == "user_tags":
                        tags_taken = len(rows)
                for t in ("photos", "vectors", "user_tags", "suggested_tags", "rejected_tags", "sidecars"):
                    col = "id" if t == "photos" else "photo_id"
                    if t == "photos":
                        db.execute(
                            "DELETE FROM photos WHERE root_id IS NOT NULL AND root_id NOT IN (SELECT id FROM roots)"
                        )
                    else:
                        db.execute(f"DELETE FROM {t} WHERE {col} NOT IN (SELECT id FROM photos)")
            else:
                tags_taken = _merge(db, data)
    except sqlite3.Error:
        return 0
    finally:
        try:
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error:
            pass
        src.close()
    return tags_taken


def _merge(db: sqlite3.Connection, data: dict[str, tuple[list[str], list[tuple]]]) -> int:
    def rows_of(t: str) -> list[dict[str, Any]]:
        cols, rows = data.get(t, ([], []))
        return [dict(zip(cols, r[1:])) for r in rows]

    root_path = {r["id"]: r["path"] for r in rows_of("roots") if "id" in r and "path" in r}
    for p in root_path.values():
        db.execute("INSERT OR IGNORE INTO roots(path, added) VALUES (?, ?)", (p, time.time()))
    new_root = {bytes(p): i for i, p in db.execute("SELECT id, path FROM roots")}
    old_path: dict[int, bytes] = {}
    for r in rows_of("photos"):
        if "id" not in r or "path" not in r:
            continue
        old_path[r["id"]] = bytes(r["path"])
        if db.execute("SELECT 1 FROM photos WHERE path=?", (r["path"],)).fetchone():
            continue
        rid = new_root.get(bytes(root_path.get(r.get("root_id"), b"") or b""))
        if rid is None:
            continue
        db.execute(
            "INSERT INTO photos(path, root_id, size, mtime_ns, hash) VALUES (?, ?, ?, ?, ?)",
            (r["path"], rid, r.get("size", 0), r.get("mtime_ns", 0), r.get("hash")),
        )
    new_id = {bytes(p): i for i, p in db.execute("SELECT id, path FROM photos")}
    taken = 0
    for t in ("user_tags", "rejected_tags"):
        for r in rows_of(t):
            pid = new_id.get(old_path.get(r.get("photo_id"), b""))  # type: ignore[arg-type]
            if pid is None or not r.get("tag"):
                continue
            if t == "user_tags":
                cur = db.execute(
                    "INSERT OR IGNORE INTO user_tags(photo_id, tag, source) VALUES (?, ?, ?)",
                    (pid, r["tag"], r.get("source") or "user"),
                )
                taken += cur.rowcount
            else:
                db.execute("INSERT OR IGNORE INTO rejected_tags(photo_id, tag) VALUES (?, ?)", (pid, r["tag"]))
    return taken


# -- backups -------------------------------------------------------------------------------------------
def backup_dir(home: Path) -> Path:
    return home / BACKUP_DIR


def list_backups(home: Path) -> list[Path]:
    """Backups, newest first."""
    d = backup_dir(home)
    try:
        return sorted(
            (p for p in d.iterdir() if p.name.startswith("catalog-") and p.suffix == ".sqlite3"),
            key=lambda p: p.name,
            reverse=True,
        )
    except OSError:
        return []


def backup_ok(path: Path) -> bool:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        try:
            return not quick_check(conn) and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
        finally:
            conn.close()
    except sqlite3.Error:
        return False


def newest_good_backup(home: Path) -> Path | None:
    for p in list_backups(home):
        if backup_ok(p):
            return p
    return None


def backup_catalog(catalog: Catalog, home: Path, keep: int = BACKUPS_KEPT) -> Path | None:
    """A verified copy of the catalog in <home>/backups (online backup API); None when it could not be
    made (full disk, read-only folder, damaged source): never an error, the catalog itself is untouched."""
    d = backup_dir(home)
    now = time.time()
    name = f"catalog-{time.strftime('%Y%m%d-%H%M%S', time.gmtime(now))}-{int(now * 1e6) % 1_000_000:06d}.sqlite3"
    tmp = d / f".{name}.tmp"
    try:
        d.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(str(tmp))
        try:
            catalog.db.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            good = not quick_check(dst)
        finally:
            dst.close()
        if not good:
            tmp.unlink()
            return None
        _fsync(tmp)
        os.replace(tmp, d / name)
    except (sqlite3.Error, OSError):
        for p in (tmp, Path(str(tmp) + "-journal")):
            try:
                p.unlink()
            except OSError:
                pass
        return None
    for old in list_backups(home)[keep:]:
        try:
            old.unlink()
        except OSError:
            pass
    return d / name


def backup_due(home: Path, every_s: float = BACKUP_EVERY_S) -> bool:
    newest = list_backups(home)
    if not newest:
        return True
    try:
        return time.time() - newest[0].stat().st_mtime >= every_s
    except OSError:
        return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- vector index --------------------------------------------------------------------------------------
def load_index(
    catalog: Catalog,
    index_dir: Path,
    dim: int,
    encoder_id: str,
    progress: Callable[[int, int], None] | None = None,
) -> VectorIndex:
    """The verified saved index in ``index_dir`` reconciled with the catalog, or one rebuilt from the catalog."""
    try:
        vi = VectorIndex.load_checked(index_dir, dim, encoder_id)
    except IndexDamaged as exc:
        vi = None
        if catalog.count_vectors(encoder_id):
            notice(f"the search index was damaged or out of date ({exc}); rebuilding it from the catalog")
    if vi is None:
        vi = VectorIndex(index_dir, dim, encoder_id)
    reconcile(catalog, vi, progress)
    return vi


def index_needs_repair(catalog: Catalog, index_dir: Path, dim: int, encoder_id: str) -> bool:
    """Cheap check (no index load) that the saved index matches the catalog's current vectors."""
    meta = VectorIndex.saved_meta(index_dir)
    n = catalog.count_vectors(encoder_id)
    if meta is None:
        return n > 0
    if meta.get("encoder_id") != encoder_id or meta.get("dim") != dim or meta.get("count") != n:
        return True
    # the files themselves (checksums, structure; no voyager load): a rescan must repair a damaged index
    return verify_saved(index_dir, dim, encoder_id) is not None


def save_repaired(vi: VectorIndex, lock_path: Path, writer: bool) -> None:
    """Persist a rebuilt/repaired index so the next opener need not redo it; only the lock holder writes
    (``writer``: the caller holds it already)."""
    if writer:
        vi.save()
        return
    lock = LibraryLock(lock_path)
    try:
        lock.acquire()
    except (LockHeld, OSError):
        return  # an indexer is running: it saves its own, reconciled, index
    try:
        vi.save()
    except OSError:
        pass  # a read-only library still answers from memory
    finally:
        lock.release()


def reconcile(catalog: Catalog, vi: VectorIndex, progress: Callable[[int, int], None] | None = None) -> None:
    """sync_with_catalog, then drop the catalog's unusable (non-finite) vectors so they are re-embedded."""
    vi.sync_with_catalog(catalog, progress)
    if vi.skipped:
        n = drop_unusable_vectors(catalog, vi.encoder_id, vi.dim, vi.skipped)
        vi.skipped = []
        if n:
            notice(
                f"{n} photos had unusable (non-finite) vectors; they are left out of searches "
                "and re-embedded by the next attalos-index"
            )


def unusable_vectors(catalog: Catalog, encoder_id: str, dim: int, ids: list[int] | None = None) -> list[int]:
    """Photo ids whose stored vector is not finite or not ``dim`` floats (all, or among ``ids``)."""
    q = "SELECT photo_id, vec FROM vectors WHERE encoder_id=?"
    chunks: list[list[int] | None] = (
        [None] if ids is None else [list(ids)[i : i + 500] for i in range(0, len(ids), 500)]
    )
    bad: list[int] = []
    for chunk in chunks:
        sql = q if chunk is None else q + f" AND photo_id IN ({','.join('?' * len(chunk))})"
        for pid, blob in catalog.db.execute(sql, [encoder_id, *(chunk or [])]):
            if len(blob) != 4 * dim or not np.isfinite(np.frombuffer(blob, dtype=np.float32)).all():
                bad.append(int(pid))
    return bad


def drop_unusable_vectors(catalog: Catalog, encoder_id: str, dim: int, ids: list[int] | None = None) -> int:
    """Delete stored vectors that are not finite or have the wrong size; their photos count as not
    embedded, so the next rescan re-embeds them. Returns how many (0 when the catalog is read-only)."""
    bad = unusable_vectors(catalog, encoder_id, dim, ids)
    if not bad:
        return 0
    try:
        with catalog.transaction():
            catalog.db.executemany(
                "DELETE FROM vectors WHERE photo_id=? AND encoder_id=?", [(i, encoder_id) for i in bad]
            )
    except sqlite3.Error:
        return 0  # read-only: searches leave them out anyway
    return len(bad)
