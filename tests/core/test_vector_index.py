"""The voyager vector index: its file is checked before voyager reads it (a damaged one would crash the
process), an empty index round-trips, generations saved by the hnswlib version are rebuilt, and save
failures are OSErrors that leave the previous generation current."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import voyager

from attalos_desktop.core import vector_index as vi_mod
from attalos_desktop.core.catalog import PhotoInfo
from attalos_desktop.core.library import Library
from attalos_desktop.core.vector_index import VectorIndex, open_index, verify_saved
from attalos_desktop.core.voyager_file import IndexDamaged
from core_helpers import as_hnswlib_generation, patch_index_file

DIM = 8
ENC = "test-encoder"
META = 19  # voyager's metadata: magic, version, dimensions, space, storage type, max norm, transform flag
HEADER = META + 96  # ... then hnswlib's header
LINKS0 = 4 + 2 * vi_mod.DEFAULT_M * 4  # level-0 record: count/flags word and 2*M neighbour ids
PER = LINKS0 + 4 * DIM + 8  # ... then the vector and the label


def _saved_index(directory: Path, n: int, seed: int = 0) -> tuple[VectorIndex, np.ndarray]:
    vecs = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    vi = VectorIndex(directory, DIM, ENC)
    vi.add(np.arange(1, n + 1, dtype=np.int64), vecs)
    vi.save()
    return vi, vecs


def _index_file(directory: Path) -> Path:
    return directory / json.loads((directory / "current.json").read_text())["index"]


def test_file_layout_is_what_the_check_expects(tmp_path: Path) -> None:
    vi, _ = _saved_index(tmp_path, 1500)
    b = _index_file(tmp_path).read_bytes()
    assert b[:4] == b"VOYA" and int.from_bytes(b[4:8], "little") == 1 and int.from_bytes(b[8:12], "little") == DIM
    assert b[12] == voyager.Space.Cosine.value and b[13] == voyager.StorageDataType.Float32.value and b[18] == 0
    max_el, n, per = (int.from_bytes(b[META + 8 * i : META + 8 * i + 8], "little") for i in (1, 2, 3))
    assert (n, per) == (1500, PER)
    assert vi.index.max_elements == 2048 and max_el == 1500  # the file records the count as its capacity


def test_empty_index_round_trips(tmp_path: Path) -> None:
    VectorIndex(tmp_path, DIM, ENC).save()  # voyager writes an empty index it cannot load itself
    assert verify_saved(tmp_path, DIM, ENC) is None
    vi = VectorIndex.load_checked(tmp_path, DIM, ENC)
    assert vi is not None and vi.count == 0
    assert vi.search(np.ones(DIM, dtype=np.float32), 5)[0].tolist() == []
    vi.add(np.array([7]), np.ones((1, DIM), dtype=np.float32))
    assert vi.search(np.ones(DIM, dtype=np.float32), 5)[0].tolist() == [7]


def test_unchecked_bad_links_crash_voyager_and_the_check_refuses_them(tmp_path: Path) -> None:
    """Why the file is checked first: voyager loads a file whose level-0 neighbour ids point past the
    end and the first search then dies on a wild read (SIGSEGV on Linux)."""
    _, vecs = _saved_index(tmp_path, 300)
    patch_index_file(tmp_path, HEADER, (3).to_bytes(4, "little") + (0xFFFFFF).to_bytes(4, "little") * 3)
    with pytest.raises(IndexDamaged, match="out of range"):
        VectorIndex.load_checked(tmp_path, DIM, ENC)
    assert VectorIndex.load(tmp_path, DIM, ENC) is None
    np.save(tmp_path / "q.npy", vecs[0])
    code = (
        "import sys, numpy as np, voyager\n"
        "ix = voyager.Index.load(sys.argv[1])\n"
        "print('loaded', flush=True)\n"
        "ix.query(np.load(sys.argv[2]), k=10, query_ef=200)\n"
        "print('searched', flush=True)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, str(_index_file(tmp_path)), str(tmp_path / "q.npy")],
        capture_output=True,
        timeout=120,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)),
    )
    assert b"loaded" in r.stdout and b"searched" not in r.stdout and r.returncode != 0, (r.returncode, r.stderr)


@pytest.mark.parametrize(
    "offset, data, why",
    [
        (0, b"VOYB", "metadata"),  # magic
        (8, (DIM + 1).to_bytes(4, "little"), "metadata"),  # dimensions
        (12, bytes([voyager.Space.InnerProduct.value]), "metadata"),  # space
        (13, bytes([voyager.StorageDataType.Float8.value]), "metadata"),  # storage type
        (18, b"\x01", "metadata"),  # order-preserving transform (one more dimension per vector)
        (META + 8, (10**9).to_bytes(8, "little"), "header"),  # capacity: a huge allocation on load
        (META + 52, (300).to_bytes(4, "little"), "entry point"),  # entry point past the end
    ],
)
def test_damaged_metadata_and_header_are_refused(tmp_path: Path, offset: int, data: bytes, why: str) -> None:
    _saved_index(tmp_path, 300)
    patch_index_file(tmp_path, offset, data)
    with pytest.raises(IndexDamaged, match=why):
        VectorIndex.load_checked(tmp_path, DIM, ENC)


def test_vector_that_is_not_unit_length_is_refused(tmp_path: Path) -> None:
    """voyager's cosine search takes a negative distance for a corrupted file and raises: never loaded."""
    _, vecs = _saved_index(tmp_path, 300)
    v = vecs[40] / np.linalg.norm(vecs[40]) * 2
    patch_index_file(tmp_path, HEADER + 40 * PER + LINKS0, v.astype(np.float32).tobytes())
    with pytest.raises(IndexDamaged, match="not unit length"):
        VectorIndex.load_checked(tmp_path, DIM, ENC)


def test_vectors_without_a_direction_are_stored_as_zeros(tmp_path: Path) -> None:
    """Too small or too large to normalise in float32: voyager would blow them up past unit length (and its
    search would then raise), so they are stored as zeros; the index verifies and searches."""
    vecs = np.random.default_rng(3).standard_normal((60, DIM))
    scales = np.logspace(-45, 36, 60)
    vi = VectorIndex(tmp_path, DIM, ENC)
    with np.errstate(over="ignore"):  # numpy's norm of the largest overflows: that is the point
        vi.add(np.arange(1, 61), (vecs * scales[:, None]).astype(np.float32))
    norms = np.array([np.linalg.norm(vi.index.get_vector(i)) for i in range(1, 61)])
    assert set(np.round(norms, 4)) == {0.0, 1.0} and (norms == 0).sum() > 10
    vi.save()
    assert verify_saved(tmp_path, DIM, ENC) is None
    loaded = VectorIndex.load_checked(tmp_path, DIM, ENC)
    assert loaded is not None
    ids, scores = loaded.search(vecs[30], 60)
    assert len(ids) == 60 and ids[0] == 31 and np.all((scores >= -1) & (scores <= 1))


def test_hnswlib_generation_is_rebuilt_from_the_catalog(tmp_path: Path) -> None:
    lib = Library.open(tmp_path / "lib")
    try:
        (tmp_path / "photos").mkdir()
        root = lib.add_roots([tmp_path / "photos"])[0]
        vecs = np.random.default_rng(0).standard_normal((20, DIM)).astype(np.float32)
        ids = []
        with lib.catalog.transaction():
            for i, v in enumerate(vecs):
                pid = lib.catalog.upsert_photo(
                    f"{root.path}/p{i}.jpg", root.id, 1, 10**18 + i, f"{i:016x}", PhotoInfo()
                )
                lib.catalog.put_vector(pid, ENC, v)
                ids.append(pid)
        index_dir = tmp_path / "index"
        vi, _ = open_index(index_dir, DIM, ENC, lib.catalog)
        vi.save()
        old = as_hnswlib_generation(index_dir)
        assert verify_saved(index_dir, DIM, ENC) == "saved by an older version of the app"
        assert VectorIndex.load(index_dir, DIM, ENC) is None  # never handed to voyager
        vi, changed = open_index(index_dir, DIM, ENC, lib.catalog)
        assert changed and sorted(vi.live_ids().tolist()) == sorted(ids)
        assert vi.search(vecs[3], 1)[0].tolist() == [ids[3]]
        vi.save()
        assert not old.exists() and not list(index_dir.glob("*.hnsw"))
        assert verify_saved(index_dir, DIM, ENC) is None
    finally:
        lib.close()


class _FewReachable:
    """A voyager index that finds only ``found`` live elements, however large ef is."""

    def __init__(self, index: Any, found: int, say_how_many: bool) -> None:
        self._index, self.found, self.say, self.asked = index, found, say_how_many, []

    def query(self, q: np.ndarray, k: int, query_ef: int) -> tuple[np.ndarray, np.ndarray]:
        self.asked.append(k)
        if k > self.found:
            raise voyager.RecallError(
                f"Fewer than expected results were retrieved; only found {self.found} of {k} requested neighbors."
                if self.say
                else "Fewer than expected results were retrieved."
            )
        return self._index.query(q, k=k, query_ef=query_ef)


@pytest.mark.parametrize("say_how_many", [True, False])
def test_search_returns_what_is_reachable(tmp_path: Path, say_how_many: bool) -> None:
    vi, vecs = _saved_index(tmp_path, 30)
    few = _FewReachable(vi.index, 3, say_how_many)
    vi.index = few
    ids, scores = vi.search(vecs[0], 10)
    assert len(ids) == 3 and ids[0] == 1 and np.all(np.diff(scores) <= 0)
    assert few.asked == ([10, 3] if say_how_many else [10, 9, 8, 7, 6, 5, 4, 3])


def test_failed_save_is_an_oserror_and_keeps_the_previous_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vi, vecs = _saved_index(tmp_path, 50)
    before = json.loads((tmp_path / "current.json").read_text())
    vi.add(np.array([51]), vecs[:1])

    class FixedUUID:
        hex = "feedfacecafe0000"

    monkeypatch.setattr(vi_mod.uuid, "uuid4", lambda: FixedUUID())
    (tmp_path / "vectors-feedfacecafe.voy").mkdir()  # voyager cannot open it for writing
    with pytest.raises(OSError):
        vi.save()
    assert json.loads((tmp_path / "current.json").read_text()) == before
    assert verify_saved(tmp_path, DIM, ENC) is None
    assert not list(tmp_path.glob("*feedfacecafe.npy"))


def test_asking_for_every_photo_finds_every_copy(tmp_path: Path) -> None:
    """1,536 copies of 32 photos (identical vectors) leave HNSW nodes it cannot reach; "all" must be all."""
    rng = np.random.default_rng(4)
    base = rng.normal(size=(32, 16)).astype(np.float32)
    vecs = np.repeat(base, 48, axis=0)
    vi = VectorIndex(tmp_path, 16, "enc")
    vi.add(np.arange(1, len(vecs) + 1), vecs)
    ids, scores = vi.search(base[0], 5000)
    assert sorted(ids.tolist()) == list(range(1, len(vecs) + 1))
    assert np.all(np.diff(scores) <= 0) and scores[0] == pytest.approx(1.0, abs=1e-5)
    some = np.array([5, 49, 2000, 97])  # 2000 is no photo: left out
    ids, scores = vi.score_ids(base[1], some, 10)
    assert ids.tolist() == [49, 97, 5] and scores[0] == pytest.approx(1.0, abs=1e-5)
