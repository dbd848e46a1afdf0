"""The memory-saving paths keep their behaviour: the index check streamed in chunks still finds damage
anywhere, a loaded index sized to its count still grows, paged catalog reads answer what one query did,
and a text search never loads ONNX Runtime (issue 12, item 5; bench/bench_memory.py measures the sizes)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from attalos_desktop.core import library as library_mod
from attalos_desktop.core import vector_index as vi_mod
from attalos_desktop.core.catalog import PhotoInfo
from attalos_desktop.core.library import Library, QueryError
from attalos_desktop.core.vector_index import VectorIndex, catalog_vector_ids, verify_saved
from attalos_desktop.core.voyager_file import IndexDamaged
from core_helpers import patch_index_file

DIM = 8
ENC = "test-encoder"
HEADER = 19 + 96  # voyager's metadata, then hnswlib's header
LINKS0 = 4 + 2 * vi_mod.DEFAULT_M * 4  # level-0 record: count/flags word and 2*M neighbour ids
PER = LINKS0 + 4 * DIM + 8  # ... then the vector (cosine space: DIM floats) and the label


def _saved_index(directory: Path, n: int, seed: int = 0) -> VectorIndex:
    vecs = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    vi = VectorIndex(directory, DIM, ENC)
    vi.add(np.arange(1, n + 1, dtype=np.int64), vecs)
    vi.save()
    return vi


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Check 7 level-0 records at a time, so 300 elements take many chunks and a partial last one."""
    monkeypatch.setattr(vi_mod, "_CHECK_CHUNK", 7 * PER)
    return 7


def test_streamed_check_accepts_a_sound_index(tmp_path: Path, small_chunks: int) -> None:
    _saved_index(tmp_path, 300)
    assert verify_saved(tmp_path, DIM, ENC) is None
    vi = VectorIndex.load_checked(tmp_path, DIM, ENC)
    assert vi is not None and vi.count == 300


@pytest.mark.parametrize("element", [0, 150, 299])  # first chunk, a middle one, the partial last one
def test_streamed_check_finds_a_non_finite_vector_in_any_chunk(tmp_path: Path, small_chunks: int, element: int) -> None:
    _saved_index(tmp_path, 300)
    patch_index_file(tmp_path, HEADER + element * PER + LINKS0, np.float32(np.nan).tobytes())
    with pytest.raises(IndexDamaged, match="non-finite"):
        VectorIndex.load_checked(tmp_path, DIM, ENC)
    assert VectorIndex.load(tmp_path, DIM, ENC) is None  # a damaged index is never loaded


@pytest.mark.parametrize("element", [3, 151, 298])
def test_streamed_check_finds_a_neighbour_out_of_range_in_any_chunk(
    tmp_path: Path, small_chunks: int, element: int
) -> None:
    _saved_index(tmp_path, 300)
    patch_index_file(tmp_path, HEADER + element * PER, (1).to_bytes(4, "little") + (10**6).to_bytes(4, "little"))
    with pytest.raises(IndexDamaged, match="out of range"):
        VectorIndex.load_checked(tmp_path, DIM, ENC)


def test_streamed_check_finds_duplicate_labels(tmp_path: Path, small_chunks: int) -> None:
    _saved_index(tmp_path, 300)
    patch_index_file(tmp_path, HEADER + 200 * PER + PER - 8, (1).to_bytes(8, "little"))  # element 200 labelled 1 too
    with pytest.raises(IndexDamaged, match="duplicate labels"):
        VectorIndex.load_checked(tmp_path, DIM, ENC)


def test_trailing_bytes_are_damage(tmp_path: Path) -> None:
    _saved_index(tmp_path, 50)
    meta = json.loads((tmp_path / "current.json").read_text())
    f = tmp_path / meta["index"]
    data = f.read_bytes() + b"\0" * (1 << 20)
    f.write_bytes(data)
    meta["sha256"]["index"], meta["sizes"]["index"] = hashlib.sha256(data).hexdigest(), len(data)
    (tmp_path / "current.json").write_text(json.dumps(meta))
    assert verify_saved(tmp_path, DIM, ENC) == "index file has trailing bytes"


def test_loaded_index_is_sized_to_its_count_and_still_grows(tmp_path: Path) -> None:
    n = 1500  # past MIN_CAPACITY: the saving index doubled its capacity to 2048
    first = _saved_index(tmp_path, n)
    assert first.index.max_elements > n
    vi = VectorIndex.load_checked(tmp_path, DIM, ENC)
    assert vi is not None and vi.index.max_elements == n
    extra = np.random.default_rng(1).standard_normal((100, DIM)).astype(np.float32)
    vi.add(np.arange(n + 1, n + 101, dtype=np.int64), extra)
    assert vi.count == n + 100
    ids, _ = vi.search(extra[7], 1)
    assert ids.tolist() == [n + 8]
    vi.save()
    again = VectorIndex.load_checked(tmp_path, DIM, ENC)
    assert again is not None and again.count == n + 100


def _library_with_rows(tmp_path: Path, per_root: int) -> Library:
    lib = Library.open(tmp_path / "lib")
    roots = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        roots.append(lib.add_roots([d])[0])
    rng = np.random.default_rng(0)
    with lib.catalog.transaction():
        for i in range(per_root):
            for r in roots:  # interleaved, so each root's ids are not contiguous
                info = PhotoInfo(width=400, height=300, taken=f"2024-01-0{1 + i % 9}T12:00:00", camera="Cam")
                pid = lib.catalog.upsert_photo(f"{r.path}/p{i:03d}.jpg", r.id, 1000 + i, 10**18 + i, f"{i:016x}", info)
                lib.catalog.put_vector(pid, ENC, rng.standard_normal(DIM).astype(np.float32))
    return lib


def test_paged_photo_listing_matches_one_query(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(library_mod, "PHOTO_PAGE", 3)
    lib = _library_with_rows(tmp_path, 7)
    try:
        whole = [library_mod._row(r) for r in lib.catalog.photo_rows("ORDER BY id")]
        assert len(whole) == 14 and lib.photos() == whole
        for root in lib.roots():
            assert lib.photos(root.id) == [r for r in whole if r.root_id == root.id]
        assert lib.photos(root_id=999) == []
        assert not lib.catalog.db.in_transaction  # its read snapshot is closed again
        with lib.catalog.transaction():  # inside a caller's transaction it neither commits nor ends it
            lib.catalog.set_meta("probe", "1")
            assert lib.photos() == whole
            assert lib.catalog.db.in_transaction
        assert lib.catalog.get_meta("probe") == "1"
        rows = lib.photos()
        assert rows[0].camera is rows[1].camera  # repeated values are shared, not copied per photo
    finally:
        lib.close()


def test_paged_vector_ids_match_the_catalog(tmp_path: Path) -> None:
    lib = _library_with_rows(tmp_path, 5)
    try:
        want = lib.catalog.vector_ids(ENC)
        assert np.array_equal(catalog_vector_ids(lib.catalog, ENC, page=3), want) and len(want) == 10
        assert catalog_vector_ids(lib.catalog, "other").tolist() == []
    finally:
        lib.close()


def test_text_search_never_imports_onnxruntime(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from attalos_desktop.core.library import Library, QueryError\n"
        "assert 'onnxruntime' not in sys.modules, 'imported with the core'\n"
        f"lib = Library.open({str(tmp_path / 'lib')!r})\n"
        "try:\n"
        "    lib.search('dog on a beach')\n"
        "except QueryError:\n"
        "    pass\n"
        "assert lib.bundle is not None\n"
        "assert 'onnxruntime' not in sys.modules, 'imported by a text search'\n"
        "lib.close()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert r.returncode == 0, r.stderr


def test_image_encoder_still_loads_on_demand(tmp_path: Path) -> None:
    lib = Library.open(tmp_path / "lib")
    try:
        assert lib.provider  # the ONNX session (and the runtime) come with the first use
        assert lib.encoder.embed(
            np.zeros((1, 3, lib.bundle.preprocessing.input_size, lib.bundle.preprocessing.input_size), dtype=np.float32)
        ).shape == (1, lib.bundle.dim)
        with pytest.raises(QueryError):
            lib.search("dog")  # empty library: answered, not crashed
    finally:
        lib.close()
