"""Approximate nearest-neighbour index over photo vectors (voyager), a rebuildable cache.

The catalog holds the raw vectors; this index holds their unit-length copies for cosine search (voyager's
Cosine space; hits are scored 1 - distance, the cosine). It is saved atomically as a *generation*: new
files under fresh names, then ``current.json`` replaced in one rename, then the old generation removed,
so a reader or a crash only ever sees a complete index. ``sync_with_catalog`` makes it agree with the
catalog (adding the vectors it lacks, deleting those the catalog no longer has) and rebuilds from scratch
when the files are missing, unreadable, made by another encoder or by an older version (format 2 was
hnswlib's file): never silently wrong.

Why voyager (Spotify's HNSW library, built on hnswlib's own C++ core): it publishes wheels for every
Python we support (cp310, cp311, and one abi3 wheel for 3.12+) on Linux, macOS and Windows, so installing
the app needs no C++ compiler; hnswlib 0.8 publishes only a source archive.

Derived data is verified before it is trusted: every generation records the sha256 and size of its
three files and the vector count; ``load`` checks those and then parses the voyager file itself
(voyager's header, then hnswlib's: every neighbour list, labels, deleted marks, finite unit-length
vectors, the exact file size; core/voyager_file.py) *before* voyager sees it, because voyager, like hnswlib, follows
neighbour ids without bounds checks and a damaged file would crash the process (a level-0 neighbour id
past the end: SIGSEGV on the first search). Non-finite vectors never enter the index (``add`` skips
them; ``skipped`` lists them).

Parameters: M=16, ef_construction=100 (as with hnswlib) and ef=300, from bench/search_bench.py, which measures
voyager and hnswlib 0.8 on the same clustered vectors in one run (shared 2-core machine, one query at a time).
On 1M 128-d vectors (two runs) voyager's recall@10 is 0.988 at ef=200 and 0.992 at ef=300 (hnswlib 0.983 / 0.992), at
p50 1.3 / 1.4 ms and p99 2.1 / 2.2 ms per query; on 100k 518-d vectors (the default model's) 0.999 at ef=300,
p50 0.9 ms, p99 1.9 ms. Queries take 1.5-3x hnswlib's time built for this CPU (AVX2), 1.1-1.9x the portable
build the app used to ship: voyager's wheels target plain SSE, and its search loop lacks hnswlib's prefetches.
Near-isotropic 256-d data is harder (recall@10 plateaus near 0.97 at this M); M=32 is the next thing to
measure if real embeddings turn out to look like that.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import voyager

from .encoder import unit
from .voyager_file import (
    MIN_CAPACITY,
    IndexDamaged,
    expected_index_size,
    has_duplicates,
    record_capacity,
    validate_index_file,
)

if TYPE_CHECKING:
    from .catalog import Catalog

POINTER = "current.json"
DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 100
DEFAULT_EF = 300
FORMAT = 3  # 3: voyager files; 2: hnswlib files with sha256 + size in current.json; older ones are rebuilt
# Cosine, not InnerProduct: on unit vectors the same ranking and score (distance = 1 - cosine), while voyager's
# InnerProduct adds a dimension to every vector (its order-preserving transform) and keeps a max-norm state.
SPACE = voyager.Space.Cosine
EXACT_ALL_MAX = 20_000  # "every photo" is scored exactly up to this many (~60 ms); beyond, HNSW answers
_ADD_BATCH_BYTES = 4 << 20  # vectors handed to voyager per call (its transient copies of a batch are ~3x its size)
_CHECK_CHUNK = 1 << 20  # bytes of the level-0 records checked at a time (small: repeated checks do not grow the heap)


class VectorIndex:
    """voyager index + the mask of live labels (photo ids)."""

    def __init__(
        self,
        directory: Path,
        dim: int,
        encoder_id: str,
        *,
        M: int = DEFAULT_M,
        ef_construction: int = DEFAULT_EF_CONSTRUCTION,
        ef: int = DEFAULT_EF,
        threads: int = -1,
        fresh: bool = True,
    ) -> None:
        self.directory = directory
        self.dim = dim
        self.encoder_id = encoder_id
        self.M, self.ef_construction, self.ef = M, ef_construction, ef
        self.threads = threads  # for adding; a search is one query, on the caller's thread
        self.index: Any = None  # a voyager.Index; a loaded one is set by load_checked
        if fresh:
            self.index = _new_index(dim, M, ef_construction)
            self.index.ef = ef
        self._live = np.zeros(0, dtype=bool)  # by label
        self.skipped: list[int] = []  # ids whose vectors were not finite and so were left out
        self._known = np.zeros(0, dtype=bool)  # label present in voyager (live or marked deleted)
        self.generation: str | None = None
        self.dirty = False

    # -- persistence -------------------------------------------------------------------------------
    @classmethod
    def load(cls, directory: Path, dim: int, encoder_id: str, **kw: int) -> "VectorIndex | None":
        """The saved index, or None when absent, damaged or made for another encoder/dimension."""
        try:
            return cls.load_checked(directory, dim, encoder_id, **kw)
        except IndexDamaged:
            return None

    @classmethod
    def load_checked(cls, directory: Path, dim: int, encoder_id: str, **kw: int) -> "VectorIndex | None":
        """The saved index after full verification; None when there is none (or it is for another
        encoder/dimension: not damage, just stale); IndexDamaged saying why it cannot be trusted."""
        checked = _check_saved(directory, dim, encoder_id)
        if checked is None:
            return None
        meta, live_ids, known_ids, _ = checked
        try:
            M = int(meta.get("M", DEFAULT_M))
            vi = cls(
                directory,
                dim,
                encoder_id,
                M=M,
                ef_construction=int(meta.get("ef_construction", DEFAULT_EF_CONSTRUCTION)),
                ef=kw.get("ef", DEFAULT_EF),
                threads=kw.get("threads", -1),
                fresh=len(known_ids) == 0,  # voyager cannot load the empty index it saves: start afresh
            )
            if len(known_ids):
                # The file's capacity is its element count (save writes it so): voyager allocates a level-0
                # record, a lock and a level slot per element of capacity on load; add() grows it when needed.
                vi.index = voyager.Index.load(str(directory / meta["index"]))
                vi.index.ef = vi.ef
                if vi.index.num_elements != len(known_ids):
                    raise IndexDamaged("element count differs from the list of known ids")
                if vi.index.num_dimensions != dim or vi.index.space != SPACE or vi.index.M != M:
                    raise IndexDamaged("index parameters differ from the recorded ones")
            vi._grow_masks(int(max(known_ids.max(initial=-1), live_ids.max(initial=-1))) + 1)
            vi._known[known_ids] = True
            vi._live[live_ids] = True
            vi.generation = str(meta["gen"])
            return vi
        except IndexDamaged:
            raise
        except (OSError, ValueError, KeyError, TypeError, RuntimeError, IndexError, MemoryError) as exc:
            raise IndexDamaged(f"{type(exc).__name__}: {exc}") from None

    @staticmethod
    def saved_meta(directory: Path) -> dict | None:
        try:
            meta = json.loads((directory / POINTER).read_text(encoding="utf-8"))
            return meta if isinstance(meta, dict) else None
        except (OSError, ValueError):
            return None

    @staticmethod
    def saved_generation(directory: Path) -> str | None:
        try:
            return str(json.loads((directory / POINTER).read_text(encoding="utf-8"))["gen"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self) -> None:
        """Write a new generation atomically and drop the previous one.

        On failure (disk full, read-only folder) the files of the new generation are removed again and
        the previous generation stays current; the OSError propagates.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        gen = uuid.uuid4().hex[:12]
        files = {"index": f"vectors-{gen}.voy", "ids": f"live-{gen}.npy", "known": f"known-{gen}.npy"}
        tmp = self.directory / f".{POINTER}.{gen}.tmp"
        try:
            index_path = self.directory / files["index"]
            try:
                self.index.save(str(index_path))
            except RuntimeError as exc:  # voyager reports open and header-write failures, not their errno
                found = re.search(r"errno (\d+)", str(exc))
                code = int(found.group(1)) if found else errno.ENOSPC
                raise OSError(code, f"{os.strerror(code)} (index file not written: {exc})") from None
            if not index_path.exists():
                raise OSError(errno.ENOSPC, "No space left on device (index file not written)")
            capacity = record_capacity(index_path, int(self.index.num_elements))
            np.save(self.directory / files["ids"], self.live_ids())
            np.save(self.directory / files["known"], np.flatnonzero(self._known).astype(np.int64))
            sums, sizes = {}, {}
            for k, f in files.items():
                _fsync(self.directory / f, strict=True)
                sums[k], sizes[k] = _sha256(self.directory / f)
            if sizes["index"] != expected_index_size(index_path):  # voyager does not check its bulk writes
                raise OSError(errno.ENOSPC, "No space left on device (index file incomplete)")
            meta = {
                "gen": gen,
                "format": FORMAT,
                "dim": self.dim,
                "encoder_id": self.encoder_id,
                "M": self.M,
                "ef_construction": self.ef_construction,
                "capacity": capacity,
                "count": self.count,
                **files,
                "sha256": sums,
                "sizes": sizes,
            }
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(meta))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.directory / POINTER)
        except BaseException:
            for f in [*files.values(), tmp.name]:
                try:
                    (self.directory / f).unlink()
                except OSError:
                    pass
            raise
        _fsync_dir(self.directory)
        keep = set(files.values()) | {POINTER}
        for old in self.directory.iterdir():
            if old.name not in keep and (
                old.name.startswith(("vectors-", "live-", "known-")) or old.name.endswith(".tmp")
            ):
                try:
                    old.unlink()
                except OSError:
                    pass
        self.generation = gen
        self.dirty = False

    # -- contents ----------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return int(self._live.sum())

    def live_ids(self) -> np.ndarray:
        return np.flatnonzero(self._live).astype(np.int64)

    def _grow_masks(self, n: int) -> None:
        if n > len(self._live):
            n = max(n, 2 * len(self._live))
            self._live = np.concatenate([self._live, np.zeros(n - len(self._live), dtype=bool)])
            self._known = np.concatenate([self._known, np.zeros(n - len(self._known), dtype=bool)])

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace vectors (raw; normalised here) under their photo ids."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) == 0:
            return
        vecs = unit(np.asarray(vectors, dtype=np.float32).reshape(len(ids), self.dim))
        # unit() leaves a vector it cannot normalise in float32 (norm below ~1e-12 or past ~1e19) shorter than 1,
        # and voyager's own normalisation can blow that up far past unit length (then its search raises on the
        # negative distances): such a vector has no usable direction and is stored as zeros (score 0)
        vecs[np.abs(np.einsum("ij,ij->i", vecs, vecs) - 1.0) > 1e-3] = 0  # float32: no float64 copy of the chunk
        finite = np.isfinite(vecs).all(axis=1)
        if not finite.all():  # a NaN/inf vector would poison every search near it: it stays out
            self.skipped.extend(int(i) for i in ids[~finite])
            self.remove(ids[~finite])
            ids, vecs = ids[finite], vecs[finite]
            if len(ids) == 0:
                return
        self._grow_masks(int(ids.max()) + 1)
        for i in ids[self._known[ids] & ~self._live[ids]]:
            self.index.unmark_deleted(int(i))
        need = int(self.index.num_elements + (~self._known[ids]).sum())
        cap = int(self.index.max_elements)
        if need > cap:  # voyager itself would grow to exactly ``need`` on every add: double instead
            self.index.resize(max(need, cap * 2))
        vecs = np.ascontiguousarray(vecs)
        step = max(1, _ADD_BATCH_BYTES // (4 * self.dim))
        for a in range(0, len(ids), step):  # voyager copies what it is given, a few times over: a slice at a time
            self.index.add_items(vecs[a : a + step], ids=ids[a : a + step], num_threads=self.threads)
        self._known[ids] = True
        self._live[ids] = True
        self.dirty = True

    def remove(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[ids < len(self._live)]
        for i in ids[self._live[ids]]:
            self.index.mark_deleted(int(i))
        if len(ids):
            self._live[ids] = False
            self.dirty = True

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, cosine scores) best first; k is capped by the live count.

        Asked for every photo of a library of up to EXACT_ALL_MAX, it scores them all: HNSW may leave a
        few unreachable (many identical vectors: copies, bursts), and "all of them" must mean all.
        """
        k = min(k, self.count)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = unit(np.asarray(query, dtype=np.float32).reshape(self.dim))
        if k == self.count and k <= EXACT_ALL_MAX:
            return self.score_ids(q, self.live_ids(), k)
        while True:
            try:
                labels, dist = self.index.query(q, k=k, query_ef=max(self.ef, k))
                break
            except voyager.RecallError as exc:
                # Fewer than k live elements are reachable (many deletions). voyager's search with deletions
                # explores until it holds ef live candidates or runs out, so a larger ef would not find more:
                # ask for what it found (it says how many), or one fewer.
                found = re.search(r"only found (\d+) of", str(exc))
                k = min(k - 1, int(found.group(1))) if found else k - 1
                if k <= 0:
                    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids, scores = labels.astype(np.int64), np.clip(1.0 - dist, -1.0, 1.0).astype(np.float32)
        ok = np.isfinite(scores)
        return (ids, scores) if ok.all() else (ids[ok], scores[ok])

    def score_ids(self, query: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` of ``ids`` (live ones only) by exact cosine, best first: a filtered search's
        candidates (core/when_where_search.py) and "every photo"; voyager hands its stored unit vectors
        back at ~3 us each, so 10k candidates cost ~30 ms."""
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[(ids >= 0) & (ids < len(self._live))]
        ids = ids[self._live[ids]]
        if len(ids) == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = unit(np.asarray(query, dtype=np.float32).reshape(self.dim))
        scores = np.empty(len(ids), dtype=np.float32)
        step = 8192
        for a in range(0, len(ids), step):
            scores[a : a + step] = np.asarray(self.index.get_vectors(ids[a : a + step].tolist()), dtype=np.float32) @ q
        scores = np.clip(np.nan_to_num(scores, nan=-1.0), -1.0, 1.0)
        order = np.argsort(-scores, kind="stable")[:k]
        return ids[order], scores[order]

    # -- agreement with the catalog ----------------------------------------------------------------
    def sync_with_catalog(
        self, catalog: "Catalog", progress: "Callable[[int, int], None] | None" = None
    ) -> tuple[int, int]:
        """Add the catalog's vectors this index lacks, delete ids the catalog lacks: (added, removed).

        ``progress(done, total)`` is called after each chunk added. Ids whose catalog vectors are not
        finite end up in ``self.skipped`` (the caller drops those vectors so the photos are re-embedded).
        """
        cat_ids = catalog_vector_ids(catalog, self.encoder_id)
        live = self.live_ids()
        extra = np.setdiff1d(live, cat_ids, assume_unique=True)
        self.remove(extra)
        missing = np.setdiff1d(cat_ids, live, assume_unique=True)
        added = 0
        if len(missing):
            for ids, vecs in catalog.iter_vectors(self.encoder_id, None if len(live) == 0 else missing.tolist()):
                self.add(ids, vecs)
                added += len(ids)
                if progress is not None:
                    progress(added, len(missing))
            # ids the catalog listed but iter_vectors did not return had non-finite vectors
            got = np.flatnonzero(self._live).astype(np.int64)
            self.skipped.extend(
                int(i) for i in np.setdiff1d(missing, got, assume_unique=True) if int(i) not in self.skipped
            )
        return added, len(extra)


def catalog_vector_ids(catalog: "Catalog", encoder_id: str, page: int = 4096) -> np.ndarray:
    """The ids of the catalog's vectors for ``encoder_id`` (what ``Catalog.vector_ids`` answers), read a
    page at a time: a fetchall holds a tuple and an int object per photo (~9 MB per 100k photos), and
    this runs right after the index is loaded, when the process is at its largest."""
    cur = catalog.db.execute("SELECT photo_id FROM vectors WHERE encoder_id=?", (encoder_id,))
    parts = []
    while rows := cur.fetchmany(page):
        parts.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _check_saved(directory: Path, dim: int, encoder_id: str) -> tuple[dict, np.ndarray, np.ndarray, int] | None:
    """Everything about a saved generation that can be checked without voyager: (meta, live ids, known
    ids, capacity), None when there is none for this encoder, IndexDamaged when it cannot be trusted."""
    try:
        meta = json.loads((directory / POINTER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise IndexDamaged(f"{POINTER} unreadable: {exc}") from None
    if not isinstance(meta, dict):
        raise IndexDamaged(f"{POINTER} is not an object")
    if meta.get("dim") != dim or meta.get("encoder_id") != encoder_id:
        return None
    try:
        fmt = meta.get("format")
        if fmt != FORMAT:
            newer = isinstance(fmt, int) and fmt > FORMAT
            raise IndexDamaged(f"saved by {'a newer' if newer else 'an older'} version of the app")
        for key in ("index", "ids", "known"):
            _verify_file(directory / str(meta[key]), meta["sha256"][key], int(meta["sizes"][key]))
        M = int(meta.get("M", DEFAULT_M))
        live_ids = np.load(directory / meta["ids"], allow_pickle=False)
        known_ids = np.load(directory / meta["known"], allow_pickle=False)
        if (
            live_ids.ndim != 1
            or known_ids.ndim != 1
            or live_ids.dtype.kind not in "iu"
            or known_ids.dtype.kind not in "iu"
        ):
            raise IndexDamaged("id lists have the wrong shape")
        live_ids, known_ids = live_ids.astype(np.int64, copy=False), known_ids.astype(np.int64, copy=False)
        capacity = max(MIN_CAPACITY, int(meta["capacity"]))
        labels, deleted = validate_index_file(directory / meta["index"], dim, M, _CHECK_CHUNK)
        if len(labels) != len(known_ids) or not np.array_equal(np.sort(labels), known_ids):
            raise IndexDamaged("the index's labels differ from its list of known ids")
        if has_duplicates(known_ids) or has_duplicates(live_ids):
            raise IndexDamaged("duplicate ids")
        if known_ids.min(initial=0) < 0 or live_ids.min(initial=0) < 0:
            raise IndexDamaged("negative ids")
        if not np.array_equal(np.sort(labels[~deleted]), np.sort(live_ids)):
            raise IndexDamaged("live ids disagree with the index's deleted marks")
        if int(meta.get("count", -1)) != len(live_ids):
            raise IndexDamaged(f"vector count {len(live_ids)} differs from the recorded {meta.get('count')}")
        return meta, live_ids, known_ids, capacity
    except IndexDamaged:
        raise
    except FileNotFoundError as exc:
        raise IndexDamaged(f"missing file {Path(exc.filename or '').name}") from None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, IndexError, MemoryError) as exc:
        raise IndexDamaged(f"{type(exc).__name__}: {exc}") from None


def verify_saved(directory: Path, dim: int, encoder_id: str) -> str | None:
    """Why the saved index cannot be used (None: it verifies, or there is none for this encoder).
    Reads the files (checksums, structure) but does not load them into voyager."""
    try:
        _check_saved(directory, dim, encoder_id)
        return None
    except IndexDamaged as exc:
        return str(exc)


def open_index(directory: Path, dim: int, encoder_id: str, catalog: "Catalog") -> tuple[VectorIndex, bool]:
    """Load and reconcile the index, or rebuild it from the catalog; (index, changed-on-disk-needed)."""
    vi = VectorIndex.load(directory, dim, encoder_id)
    rebuilt = vi is None
    if vi is None:
        vi = VectorIndex(directory, dim, encoder_id)
    added, removed = vi.sync_with_catalog(catalog)
    return vi, bool(rebuilt or added or removed)


def _fsync(path: Path, strict: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        if strict:
            raise


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()  # hashlib.file_digest is Python 3.11+; this runs on 3.10 too
    buf = bytearray(1 << 20)  # one buffer, refilled: no new megabyte object per block
    view = memoryview(buf)
    with open(path, "rb") as fh:
        while k := fh.readinto(buf):
            h.update(view[:k])
        return h.hexdigest(), fh.tell()


def _verify_file(path: Path, sha: object, size: int) -> None:
    try:
        actual = path.stat().st_size
    except FileNotFoundError:
        raise IndexDamaged(f"missing file {path.name}") from None
    if actual != size:
        raise IndexDamaged(f"{path.name} has {actual} bytes, {size} were saved")
    if _sha256(path)[0] != sha:
        raise IndexDamaged(f"{path.name} checksum mismatch")


def _new_index(dim: int, M: int, ef_construction: int) -> Any:
    return voyager.Index(
        SPACE,
        num_dimensions=dim,
        M=M,
        ef_construction=ef_construction,
        random_seed=100,
        max_elements=MIN_CAPACITY,
        storage_data_type=voyager.StorageDataType.Float32,
    )


def _fsync_dir(path: Path) -> None:
    if os.name != "nt":
        _fsync(path)
