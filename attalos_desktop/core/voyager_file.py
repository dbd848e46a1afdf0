"""The saved voyager index file, parsed and checked without voyager (and the two edits ``save`` makes to it).

Why a module of its own: voyager, like hnswlib, follows the neighbour ids in its file without bounds checks,
so a damaged file would crash the process (a level-0 neighbour id past the end: SIGSEGV on the first search).
Everything here reads the file's bytes itself (voyager's metadata, hnswlib's header, every level-0 record
streamed a chunk at a time, the upper-level lists) so that ``vector_index`` hands voyager only a file that
checks out; ``IndexDamaged`` says why one does not.
"""

from __future__ import annotations

import errno
import math
import struct
from pathlib import Path

import numpy as np

MIN_CAPACITY = 1024  # the least capacity of a new index and of a saved file (hnswlib's max_elements)
# voyager's file: its metadata (magic, version, dimensions, space, storage type, max norm, whether the
# order-preserving transform is on: 19 bytes), then hnswlib's saveIndex stream (96-byte header, the
# level-0 records, the upper-level lists).
_VOYAGER_META = struct.Struct("<4siiBBfB")
_VOYAGER_MAGIC, _VOYAGER_VERSION, _COSINE, _FLOAT32 = b"VOYA", 1, 2, 0x20
_HNSW_HEADER = struct.Struct("<QQQQQQiIQQQdQ")
_HEADER = _VOYAGER_META.size + _HNSW_HEADER.size  # 115 bytes
_CAPACITY_AT = _VOYAGER_META.size + 8  # hnswlib's max_elements field
_NO_ENTRY = 0xFFFFFFFF  # entry point of an empty index
# |norm^2 - 1| allowed for a stored vector: float32 normalisation leaves ~2e-7; a vector longer than 1 + 1e-5 can
# give a distance below -1e-5, which voyager's cosine search takes for a corrupted index (it raises)
_UNIT_TOLERANCE = 1e-5


class IndexDamaged(Exception):
    """The saved index cannot be trusted; the message says why (for the one-line notice)."""


def record_capacity(path: Path, count: int) -> int:
    """Write ``max(count, MIN_CAPACITY)`` as the capacity (hnswlib's max_elements) in a file voyager just
    saved; returns it. voyager's load takes the capacity from the file (it has no max_elements argument)
    and allocates per element of capacity up front (the level-0 record, ~2 KB at 512-d, a 40-byte lock,
    a level and a list pointer), while the saving index may hold up to twice its count after growing: so
    the file records what is there and the opener grows it only when it adds (the level-0 records and
    lists in the file do not depend on the capacity)."""
    capacity = max(count, MIN_CAPACITY)
    with open(path, "r+b") as fh:
        head = fh.read(_HEADER)
        if len(head) != _HEADER:
            raise OSError(errno.ENOSPC, "No space left on device (index file incomplete)")
        if _HNSW_HEADER.unpack_from(head, _VOYAGER_META.size)[2] != count:
            raise OSError(errno.EIO, "index file does not hold the index's element count")
        fh.seek(_CAPACITY_AT)
        fh.write(struct.pack("<Q", capacity))
    return capacity


def expected_index_size(path: Path) -> int:
    """The size a voyager file must have according to its own header and level lists (-1: unreadable)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEADER)
            if len(head) != _HEADER:
                return -1
            h = _HNSW_HEADER.unpack_from(head, _VOYAGER_META.size)
            n, per = h[2], h[3]
            pos = _HEADER + n * per
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


def has_duplicates(ids: np.ndarray) -> bool:
    """Whether an id appears twice (a sorted copy compared with itself shifted: no hash table)."""
    s = np.sort(ids)
    return bool((s[1:] == s[:-1]).any())


def validate_index_file(path: Path, dim: int, M: int, chunk_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Parse a voyager 2.x index file without voyager and check everything its search trusts.

    The file: voyager's 19-byte metadata (``_VOYAGER_META``), then hnswlib's saveIndex stream: a 96-byte
    header, one level-0 record per element, then per element a u32 byte count and its upper-level lists.
    Returns (labels, deleted mask) by internal id; IndexDamaged when anything is off. Cost: one pass
    over the file in numpy, a few MB at a time (the upper-level lists, ~1/M of the elements, in a
    Python loop), so checking never holds more than a chunk (``chunk_bytes`` of level-0 records) of the
    file in memory.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(_HEADER)
    if len(head) != _HEADER:
        raise IndexDamaged("index file truncated (no header)")
    magic, version, dims, space, storage, max_norm, transform = _VOYAGER_META.unpack_from(head)
    if (
        magic != _VOYAGER_MAGIC
        or version != _VOYAGER_VERSION
        or dims != dim
        or space != _COSINE
        or storage != _FLOAT32
        or transform != 0  # the order-preserving transform (InnerProduct only) adds a dimension
        or not math.isfinite(max_norm)
    ):
        raise IndexDamaged("index file metadata is inconsistent")
    (off0, max_el, n, per, label_off, data_off, maxlevel, entry, maxM, maxM0, hM, mult, efc) = _HNSW_HEADER.unpack_from(
        head, _VOYAGER_META.size
    )
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
        or max_el > max(n, MIN_CAPACITY)  # voyager allocates max_el records on load: only what the file holds
        or n >= _NO_ENTRY
        or not (0 < mult < 10)
        or maxlevel < -1
        or maxlevel > 64
    ):
        raise IndexDamaged("index file header is inconsistent")
    body = _HEADER + n * per
    if size < body + 4 * n:
        raise IndexDamaged("index file truncated")
    if n == 0:
        if entry != _NO_ENTRY or maxlevel != -1 or size != body:
            raise IndexDamaged("index file header is inconsistent")
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
    # Streamed through one small reused buffer: the file is as large as the index voyager then loads
    # (~2 KB per photo), and mapping or reading it whole would double the peak memory of every opener.
    step = max(1, chunk_bytes // per)
    buf = bytearray(step * per)
    view = memoryview(buf)
    # per-chunk results go to buffers made once: no large temporaries left to fragment the heap
    used = np.empty((step, maxM0), dtype=bool)
    bad = np.empty((step, maxM0), dtype=bool)
    finite = np.empty((step, dim), dtype=bool)
    norm2 = np.empty(step, dtype=np.float64)
    cols = np.arange(maxM0, dtype=np.uint16)
    with open(path, "rb") as fh:
        fh.seek(_HEADER)
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
            data = block["data"]
            if not np.isfinite(data, out=finite[:m]).all():
                raise IndexDamaged("index holds non-finite vectors")
            # unit length (or zero): voyager's cosine search raises on the negative distances of longer ones
            np.einsum("ij,ij->i", data, data, dtype=np.float64, out=norm2[:m])
            if ((np.abs(norm2[:m] - 1.0) > _UNIT_TOLERANCE) & (norm2[:m] != 0)).any():
                raise IndexDamaged("index holds vectors that are not unit length")
            lab = block["label"]
            if (lab > np.iinfo(np.int64).max).any():
                raise IndexDamaged("index label out of range")
            labels[a : a + m] = lab
            deleted[a : a + m] = (flags & 1).astype(bool)
    del block, view, buf, used, bad, finite, norm2
    if has_duplicates(labels):
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
        # a neighbour on level l must itself reach level l, or voyager reads past its lists
        need = np.broadcast_to(np.arange(1, len(lv) + 1)[:, None], nb.shape)
        if (levels[nb[used].astype(np.int64)] < need[used]).any():
            raise IndexDamaged("index neighbour on a level it does not have")
    return labels, deleted
