"""``attalos-index --check [--repair]``: the full check of a library's catalog, stored vectors, search index
and backups, and the repairs the tools of core/integrity.py can make. It works on an open
:class:`~.library.Library` (its catalog may be swapped for a restored one), so it sits a floor above it."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from .integrity import (
    backup_catalog,
    backup_dir,
    drop_unusable_vectors,
    list_backups,
    newest_good_backup,
    quick_check,
    reconcile,
    recover_catalog,
    unusable_vectors,
)
from .vector_index import VectorIndex
from .voyager_file import IndexDamaged

if TYPE_CHECKING:
    from .library import Library


def check_library(lib: "Library", repair: bool = False) -> dict[str, Any]:
    """Full check of catalog and index; with ``repair`` fix what can be fixed. Caller holds the lock."""
    checked: list[str] = []
    problems: list[str] = []
    fixed: list[str] = []
    remaining: list[str] = []
    db = lib.catalog.db

    # 1. the catalog file: every page, every index entry
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    found = quick_check(db, full=True)
    checked.append(f"catalog: integrity_check of {pages} pages")
    if found:
        problems.append("catalog: " + "; ".join(found[:3]))
        if repair:
            try:
                db.execute("REINDEX")
                still = quick_check(db, full=True)
            except sqlite3.DatabaseError as exc:
                still = [str(exc)]
            if not still:
                fixed.append("catalog: indexes rebuilt (REINDEX)")
            else:
                lib.catalog.close()
                lib.catalog = recover_catalog(lib.paths, still[0])
                lib._vi = None
                fixed.append("catalog: moved aside and restored (backup and readable rows)")
        else:
            remaining.append(problems[-1])

    # 2. rows that point at photos that are gone
    try:
        orphans = lib.catalog.db.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.DatabaseError:
        orphans = []
    checked.append("catalog: references between tables")
    if orphans:
        problems.append(f"catalog: {len(orphans)} rows refer to missing photos or folders")
        if repair:
            with lib.catalog.transaction():
                for table, rowid, _parent, _fk in orphans:
                    lib.catalog.db.execute(f"DELETE FROM {table} WHERE rowid=?", (rowid,))
            fixed.append(f"catalog: {len(orphans)} dangling rows removed")
        else:
            remaining.append(problems[-1])

    # 3. stored vectors and the vector index (needs the model's encoder id)
    try:
        b = lib.bundle
    except Exception as exc:  # noqa: BLE001 - BundleError and friends: check what can be checked
        checked.append(f"index: not checked (no usable model: {exc})")
        b = None
    if b is not None:
        enc = b.encoder_id
        n_vec = lib.catalog.count_vectors(enc)
        bad = len(unusable_vectors(lib.catalog, enc, b.dim))
        checked.append(f"catalog: {n_vec} stored vectors finite and of size {b.dim}")
        if bad:
            problems.append(f"catalog: {bad} stored vectors are not finite or have the wrong size")
            if repair:
                drop_unusable_vectors(lib.catalog, enc, b.dim)
                fixed.append(f"catalog: {bad} unusable vectors dropped (the next attalos-index re-embeds those photos)")
            else:
                remaining.append(problems[-1])
        why = None
        try:
            vi = VectorIndex.load_checked(lib.paths.index_dir, b.dim, enc)
            if vi is None and n_vec:
                why = "missing or made for another model"
            elif vi is not None:
                cat_ids = set(lib.catalog.vector_ids(enc).tolist())
                live = set(vi.live_ids().tolist())
                if live != cat_ids:
                    why = f"{len(cat_ids - live)} photos missing, {len(live - cat_ids)} extra"
        except IndexDamaged as exc:
            why = str(exc)
        checked.append(f"index: checksums, structure, labels and ids against the catalog ({n_vec} vectors)")
        if why:
            problems.append(f"index: {why}")
            if repair:
                vi = VectorIndex(lib.paths.index_dir, b.dim, enc)
                reconcile(lib.catalog, vi)
                vi.save()
                lib._vi = None
                fixed.append(f"index: rebuilt from the catalog ({vi.count} vectors)")
            else:
                remaining.append(problems[-1])
        waiting = lib.catalog.count_photos() - lib.catalog.count_vectors(enc)
        if waiting > 0:
            checked.append(f"{waiting} photos are not embedded yet (attalos-index embeds them)")

    # 4. backups
    backups = list_backups(lib.paths.home)
    good = newest_good_backup(lib.paths.home)
    checked.append(
        f"backups: {len(backups)} in {backup_dir(lib.paths.home)}"
        + (f", newest good: {good.name}" if good else ", none verifies")
    )
    if repair and (found or fixed or good is None):
        made = backup_catalog(lib.catalog, lib.paths.home)
        if made is not None:
            fixed.append(f"backups: new backup {made.name}")
    return {"ok": not remaining, "checked": checked, "problems": problems, "fixed": fixed, "remaining": remaining}
