"""Approximate nearest-neighbour index over photo vectors (hnswlib), a rebuildable cache.

The catalog holds the raw vectors; this index holds their unit-length copies for cosine search (space
'ip' on L2-normalised vectors). It is saved atomically as a *generation*: new files under fresh names,
then ``current.json`` replaced in one rename, then the old generation removed, so a reader or a crash
only ever sees a complete index. ``sync_with_catalog`` makes it agree with the catalog (adding the
vectors it lacks, deleting those the catalog no longer has) and rebuilds from scratch when the files
are missing, unreadable, or made by another encoder: never silently wrong.

Derived data is verified before it is trusted: every generation records the sha256 and size of its
three files and the vector count; ``load`` checks those and then parses the hnswlib file itself
(header, every neighbour list, labels, deleted marks, finite vectors) *before* hnswlib sees it, because
hnswlib follows neighbour ids without bounds checks and a damaged file would crash the process.
Non-finite vectors never enter the index (``add`` skips them; ``skipped`` lists them).

Parameters (M=16, ef_construction=100, ef=200) were picked with bench/search_bench.py on 1M clustered
128-d vectors: recall@10 0.988, per-query CPU time p50 1.4 ms / p99 2.2 ms on the shared 2-core machine.
Near-isotropic 256-d data is harder (recall@10 plateaus near 0.97 at this M); M=32 is the next thing to
measure if real embeddings turn out to look like that.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import hnswlib
import numpy as np

from .encoder import unit

if TYPE_CHECKING:
    from .catalog import Catalog

POINTER = "current.json"
DEFAULT_M = 16
DEFAULT_EF_CONSTRUCTION = 100
DEFAULT_EF = 200
MIN_CAPACITY = 1024
FORMAT = 2  # 2: files carry sha256 + size in current.json; older generations are rebuilt
_HNSW_HEADER = struct.Struct("<QQQQQQiIQQQdQ")  # hnswlib 0.8 saveIndex header (96 bytes)
_CHECK_CHUNK = 1 << 20  # bytes of the level-0 records checked at a time (small: repeated checks do not grow the heap)


class IndexDamaged(Exception):
    """The saved index cannot be trusted; the message says why (for the one-line notice)."""


class VectorIndex:
    """hnswlib index + the mask of live labels (photo ids)."""

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
        self.threads = threads
        self.index = hnswlib.Index(space="ip", dim=dim)
        if fresh:  # a loaded index is initialised by load_index instead
            self.index.init_index(max_elements=MIN_CAPACITY, M=M, ef_construction=ef_construction, random_seed=100)
            self.index.set_ef(ef)
            self.index.set_num_threads(threads)
        self._live = np.zeros(0, dtype=bool)  # by label
        self.skipped: list[int] = []  # ids whose vectors were not finite and so were left out
        self._known = np.zeros(0, dtype=bool)  # label present in hnswlib (live or marked deleted)
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
            vi = cls(
                directory,
                dim,
                encoder_id,
                M=int(meta.get("M", DEFAULT_M)),
                ef_construction=int(meta.get("ef_construction", DEFAULT_EF_CONSTRUCTION)),
                ef=kw.get("ef", DEFAULT_EF),
                threads=kw.get("threads", -1),
                fresh=False,
            )
            # Room for exactly what is there: hnswlib builds a lock and a level slot per element of
            # capacity up front (the saved capacity can be twice the count); add() grows it when needed.
            vi.index.load_index(str(directory / meta["index"]), max_elements=max(MIN_CAPACITY, len(known_ids)))
            vi.index.set_ef(vi.ef)
            vi.index.set_num_threads(vi.threads)
            if vi.index.element_count != len(known_ids):
                raise IndexDamaged("element count differs from the list of known ids")
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
        files = {"index": f"vectors-{gen}.hnsw", "ids": f"live-{gen}.npy", "known": f"known-{gen}.npy"}
        tmp = self.directory / f".{POINTER}.{gen}.tmp"
        try:
            self.index.save_index(str(self.directory / files["index"]))
            if not (self.directory / files["index"]).exists():  # hnswlib reports no write errors
                raise OSError(28, "No space left on device (index file not written)")
            np.save(self.directory / files["ids"], self.live_ids())
            np.save(self.directory / files["known"], np.flatnonzero(self._known).astype(np.int64))
            sums, sizes = {}, {}
            for k, f in files.items():
                _fsync(self.directory / f, strict=True)
                sums[k], sizes[k] = _sha256(self.directory / f)
            if sizes["index"] != _expected_hnsw_size(self.directory / files["index"]):
                raise OSError(28, "No space left on device (index file incomplete)")
            meta = {
                "gen": gen,
                "format": FORMAT,
                "dim": self.dim,
                "encoder_id": self.encoder_id,
                "M": self.M,
                "ef_construction": self.ef_construction,
                "capacity": self.index.get_max_elements(),
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
        need = int(self.index.element_count + (~self._known[ids]).sum())
        cap = self.index.get_max_elements()
        if need > cap:
            self.index.resize_index(max(need, cap * 2))
        self.index.add_items(vecs, ids, num_threads=self.threads)
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
        """(ids, cosine scores) best first; k is capped by the live count."""
        k = min(k, self.count)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = unit(np.asarray(query, dtype=np.float32).reshape(1, self.dim))
        ef = max(self.ef, k)
        while True:
            self.index.set_ef(ef)
            try:
                labels, dist = self.index.knn_query(q, k=k)
                break
            except RuntimeError:  # too few reachable live elements for this ef (many deletions)
                if ef >= self.index.element_count:
                    k -= 1
                    if k <= 0:
                        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
                ef = min(ef * 2, max(self.index.element_count, 1))
        self.index.set_ef(self.ef)
        ids, scores = labels[0].astype(np.int64), (1.0 - dist[0]).astype(np.float32)
        ok = np.isfinite(scores)
        return (ids, scores) if ok.all() else (ids[ok], scores[ok])

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
    """Everything about a saved generation that can be checked without hnswlib: (meta, live ids, known
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
        if meta.get("format") != FORMAT:
            raise IndexDamaged("saved by an older version without checksums")
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
        labels, deleted = _validate_hnsw(directory / meta["index"], dim, M, capacity)
        if len(labels) != len(known_ids) or not np.array_equal(np.sort(labels), known_ids):
            raise IndexDamaged("the index's labels differ from its list of known ids")
        if _has_duplicates(known_ids) or _has_duplicates(live_ids):
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
    Reads the files (checksums, structure) but does not load them into hnswlib."""
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


def _expected_hnsw_size(path: Path) -> int:
    """The size an hnswlib file must have according to its own header and level lists (-1: unreadable)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HNSW_HEADER.size)
            if len(head) != _HNSW_HEADER.size:
                return -1
            h = _HNSW_HEADER.unpack(head)
            n, per = h[2], h[3]
            pos = _HNSW_HEADER.size + n * per
            fh.seek(pos)
            tail = fh.read()
        off = 0
        for _ in range(n):
            if off + 4 > len(tail):
                return -1
            (size,) = struct.unpack_from("<I", tail, off)
            off += 4 + size
        return pos + off
    except (OSError, struct.error, OverflowError, ValueError):
        return -1


def _has_duplicates(ids: np.ndarray) -> bool:
    """Whether an id appears twice (a sorted copy compared with itself shifted: no hash table)."""
    s = np.sort(ids)
    return bool((s[1:] == s[:-1]).any())


def _validate_hnsw(path: Path, dim: int, M: int, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse an hnswlib 0.8 index file without hnswlib and check everything its search trusts.

    Returns (labels, deleted mask) by internal id; IndexDamaged when anything is off. Cost: one pass
    over the file in numpy, a few MB at a time (the upper-level lists, ~1/M of the elements, in a
    Python loop), so checking never holds more than a chunk of the file in memory.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(_HNSW_HEADER.size)
    if len(head) != _HNSW_HEADER.size:
        raise IndexDamaged("index file truncated (no header)")
    (off0, max_el, n, per, label_off, data_off, maxlevel, entry, maxM, maxM0, hM, mult, efc) = _HNSW_HEADER.unpack(head)
    links0 = 4 + maxM0 * 4
    if (
        off0 != 0
        or hM != M
        or maxM != M
        or maxM0 != 2 * M
        or data_off != links0
        or label_off != links0 + 4 * dim
        or per != label_off + 8
        or n > max_el
        or max_el > max(capacity, n) * 4 + MIN_CAPACITY
        or not (0 < mult < 10)
        or maxlevel < -1
        or maxlevel > 64
    ):
        raise IndexDamaged("index file header is inconsistent")
    body = _HNSW_HEADER.size + n * per
    if size < body + 4 * n:
        raise IndexDamaged("index file truncated")
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    if not (0 <= entry < n) or maxlevel < 0:
        raise IndexDamaged("index entry point out of range")
    # One element's level-0 record: link count (u16), flags (u8: 1 = deleted), a pad byte, maxM0 links,
    # the vector, the label. The header checks above make its size exactly ``per``.
    rec = np.dtype(
        [
            ("count", "<u2"),
            ("flags", "u1"),
            ("pad", "u1"),
            ("links", "<u4", (maxM0,)),
            ("data", "<f4", (dim,)),
            ("label", "<u8"),
        ]
    )
    labels = np.empty(n, dtype=np.int64)
    deleted = np.empty(n, dtype=bool)
    # Streamed through one small reused buffer: the file is as large as the index hnswlib then loads
    # (~2 KB per photo), and mapping or reading it whole would double the peak memory of every opener.
    step = max(1, _CHECK_CHUNK // per)
    buf = bytearray(step * per)
    view = memoryview(buf)
    # per-chunk results go to buffers made once: no large temporaries left to fragment the heap
    used = np.empty((step, maxM0), dtype=bool)
    bad = np.empty((step, maxM0), dtype=bool)
    finite = np.empty((step, dim), dtype=bool)
    cols = np.arange(maxM0, dtype=np.uint16)
    with open(path, "rb") as fh:
        fh.seek(_HNSW_HEADER.size)
        for a in range(0, n, step):
            m = min(step, n - a)
            if fh.readinto(view[: m * per]) != m * per:
                raise IndexDamaged("index file truncated")
            block = np.frombuffer(buf, dtype=rec, count=m)
            count, flags = block["count"], block["flags"]
            if (count > maxM0).any() or (flags & ~np.uint8(1)).any():
                raise IndexDamaged("index neighbour list damaged (level 0)")
            np.less(cols[None, :], count[:, None], out=used[:m])
            np.greater_equal(block["links"], n, out=bad[:m])
            if (bad[:m] & used[:m]).any():
                raise IndexDamaged("index neighbour id out of range (level 0)")
            if not np.isfinite(block["data"], out=finite[:m]).all():
                raise IndexDamaged("index holds non-finite vectors")
            lab = block["label"]
            if (lab > np.iinfo(np.int64).max).any():
                raise IndexDamaged("index label out of range")
            labels[a : a + m] = lab
            deleted[a : a + m] = (flags & 1).astype(bool)
    del block, view, buf, used, bad, finite
    if _has_duplicates(labels):
        raise IndexDamaged("index has duplicate labels")
    per_level = 4 + maxM * 4
    if size - body > n * (4 + maxlevel * per_level):  # more than the upper levels could ever take
        raise IndexDamaged("index file has trailing bytes")
    with open(path, "rb") as fh:
        fh.seek(body)
        tail = fh.read()
    off = 0
    levels = np.zeros(n, dtype=np.uint8)  # maxlevel <= 64 (header check)
    owners: list[int] = []  # element with upper levels, and where its lists start in ``tail``
    starts: list[int] = []
    unpack = struct.unpack_from
    for i in range(n):
        if off + 4 > len(tail):
            raise IndexDamaged("index file truncated (upper levels)")
        (ls,) = unpack("<I", tail, off)
        off += 4
        if ls:
            if ls % per_level or ls // per_level > maxlevel or off + ls > len(tail):
                raise IndexDamaged("index upper-level list damaged")
            levels[i] = ls // per_level
            owners.append(i)
            starts.append(off)
            off += ls
    if off != len(tail):
        raise IndexDamaged("index file has trailing bytes")
    if levels[entry] != maxlevel:
        raise IndexDamaged("index entry point has the wrong level")
    cols_up = np.arange(maxM)[None, :]
    for i, start in zip(owners, starts):
        lv = np.frombuffer(tail, dtype="<u4", count=int(levels[i]) * (maxM + 1), offset=start).reshape(-1, maxM + 1)
        cnt = lv[:, 0]
        if (cnt > maxM).any():
            raise IndexDamaged("index upper-level list damaged")
        used = cols_up < cnt[:, None]
        nb = lv[:, 1:]
        if (nb[used] >= n).any():
            raise IndexDamaged("index neighbour id out of range (upper levels)")
        # a neighbour on level l must itself reach level l, or hnswlib reads past its lists
        need = np.broadcast_to(np.arange(1, len(lv) + 1)[:, None], nb.shape)
        if (levels[nb[used].astype(np.int64)] < need[used]).any():
            raise IndexDamaged("index neighbour on a level it does not have")
    return labels, deleted


def _fsync_dir(path: Path) -> None:
    if os.name != "nt":
        _fsync(path)
