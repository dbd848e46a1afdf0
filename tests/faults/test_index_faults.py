"""Damaged vector index, bad live ids, NaN vectors: never a crash, one notice, rebuilt from the catalog."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from core_helpers import as_hnswlib_generation
from fault_helpers import assert_clean, assert_consistent, finite_json, run, user_tags

HEADER = 19 + 96  # voyager's metadata, then hnswlib's header


def _meta(index: Path) -> dict:
    return json.loads((index / "current.json").read_text())


def _rechecksum(index: Path, key: str) -> None:
    """Make the recorded checksum and size agree with a damaged file (damage the checksum cannot see)."""
    meta = _meta(index)
    data = (index / meta[key]).read_bytes()
    meta["sha256"][key] = hashlib.sha256(data).hexdigest()
    meta["sizes"][key] = len(data)
    (index / "current.json").write_text(json.dumps(meta))


def _damage(index: Path, how: str, rng: np.random.Generator) -> None:
    meta = _meta(index)
    f = index / meta["index"]
    b = bytearray(f.read_bytes())
    if how.startswith("random@"):
        where = how.split("@")[1]
        off = {"header": 8, "start": HEADER + 4, "middle": len(b) // 2, "end": len(b) - 600}[where]
        n = min(4096, len(b) - off)
        b[off : off + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        f.write_bytes(bytes(b))
        if where == "middle":
            _rechecksum(index, "index")  # the structure check alone must catch it (or it is harmless)
    elif how == "truncated":
        f.write_bytes(bytes(b[: len(b) // 3]))
        _rechecksum(index, "index")
    elif how == "bad-links":
        # level-0 neighbour list of element 0: count 3, ids far out of range; checksum made to match
        b[HEADER : HEADER + 4] = (3).to_bytes(4, "little")
        b[HEADER + 4 : HEADER + 16] = (0xFFFFFF).to_bytes(4, "little") * 3
        f.write_bytes(bytes(b))
        _rechecksum(index, "index")
    elif how == "bad-live-ids":
        live = np.load(index / meta["ids"])
        np.save(index / meta["ids"], np.concatenate([live, [99999, 123456]]).astype(np.int64))
        _rechecksum(index, "ids")
        meta = _meta(index)
        meta["count"] = len(live) + 2
        (index / "current.json").write_text(json.dumps(meta))
    elif how == "hnswlib-generation":  # saved by the hnswlib version of the app: rebuilt, not a crash
        as_hnswlib_generation(index)
    elif how == "missing-file":
        (index / meta["known"]).unlink()
    elif how == "garbage-pointer":
        (index / "current.json").write_bytes(b"\x00garbage{")
    else:
        raise AssertionError(how)


VARIANTS = [
    "random@header",
    "random@start",
    "random@middle",
    "random@end",
    "truncated",
    "bad-links",
    "bad-live-ids",
    "hnswlib-generation",
    "missing-file",
    "garbage-pointer",
]


@pytest.mark.parametrize("how", VARIANTS)
def test_damaged_index_is_rebuilt(world: Path, template: Path, how: str) -> None:
    home = world / "lib"
    tags = user_tags(home)
    _damage(home / "index", how, np.random.default_rng(len(how)))
    r = run("attalos-search", "--json", "red", "circle", home=home)
    assert r.returncode == 0, r.stderr
    hits = finite_json(r.stdout)
    assert len(hits) == 12 and all(-1.0 <= h["score"] <= 1.0 for h in hits)
    lines = assert_clean(r.stderr)
    if how != "random@middle":  # float bytes in the middle may be the only thing hit: harmless, no notice
        assert len(lines) == 1 and "rebuilding" in lines[0], r.stderr
    if how == "hnswlib-generation":
        assert "older version" in lines[0], lines
    assert_consistent(home, template / "photos")  # the rebuilt index was saved and verifies
    assert not list((home / "index").glob("*.hnsw"))  # the old generation's files are gone
    r = run("attalos-search", "--json", "red", "circle", home=home)
    assert r.returncode == 0 and r.stderr == "", r.stderr  # told once: the second run finds it sound
    assert user_tags(home) == tags


def test_indexing_after_index_damage(world: Path, template: Path) -> None:
    home = world / "lib"
    _damage(home / "index", "bad-links", np.random.default_rng(0))
    r = run("attalos-index", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert len(assert_clean(r.stderr)) <= 1
    assert json.loads(r.stdout)["unchanged"] == 12
    assert_consistent(home, template / "photos")


def _poison(home: Path, n: int) -> list[int]:
    """NaN in the catalog vectors of n photos, and an index saved (valid checksums) that holds them:
    what older versions could leave behind."""
    from attalos_desktop.core.vector_index import VectorIndex
    from attalos_desktop.core.encoder import unit

    db = sqlite3.connect(home / "catalog.sqlite3")
    ids = [r[0] for r in db.execute("SELECT photo_id FROM vectors ORDER BY photo_id LIMIT ?", (n,))]
    rows = {
        pid: np.frombuffer(v, dtype=np.float32).copy() for pid, v in db.execute("SELECT photo_id, vec FROM vectors")
    }
    for pid in ids:
        v = rows[pid]
        v[:5] = np.nan
        v[5] = np.inf
        db.execute("UPDATE vectors SET vec=? WHERE photo_id=?", (v.tobytes(), pid))
    db.commit()
    db.close()
    meta = _meta(home / "index")
    vi = VectorIndex(home / "index", meta["dim"], meta["encoder_id"])
    all_ids = np.array(sorted(rows), dtype=np.int64)
    vi.index.add_items(unit(np.stack([rows[i] for i in all_ids])), all_ids)  # bypasses the finite filter
    vi._grow_masks(int(all_ids.max()) + 1)
    vi._known[all_ids] = True
    vi._live[all_ids] = True
    vi.save()
    return ids


def test_nan_vectors_never_reach_the_output_and_are_reembedded(world: Path, template: Path) -> None:
    home = world / "lib"
    _poison(home, 2)
    r = run("attalos-search", "--json", "red", "circle", home=home)
    assert r.returncode == 0, r.stderr
    hits = finite_json(r.stdout)
    assert len(hits) == 10  # the two photos without a usable vector are left out, never NaN
    assert len(assert_clean(r.stderr, max_lines=2)) >= 1
    r = run("attalos-search", "--json", "--similar", str(sorted((template / "photos").glob("*.jpg"))[0]), home=home)
    assert r.returncode == 0, r.stderr
    finite_json(r.stdout)
    r = run("attalos-index", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["changed"] == 2  # re-embedded
    assert_consistent(home, template / "photos")
    r = run("attalos-search", "--json", "red", "circle", home=home)
    assert len(finite_json(r.stdout)) == 12


def test_encoder_nan_output_is_a_failure_not_a_vector(tmp_path: Path) -> None:
    from attalos_desktop.core import encoder as enc_mod
    from attalos_desktop.core.library import Library
    from core_helpers import make_photos

    make_photos(tmp_path / "p", 4)
    lib = Library.open(tmp_path / "lib")
    real = enc_mod.ImageEncoder.embed

    def embed(self, batch):  # type: ignore[no-untyped-def]
        out = real(self, batch)
        if len(out) == 4:
            out[1, 0] = np.nan
        return out

    enc_mod.ImageEncoder.embed = embed
    try:
        report = lib.index([tmp_path / "p"])
    finally:
        enc_mod.ImageEncoder.embed = real
    assert report.new == 3 and report.failed == 1
    assert "non-finite" in report.failures[0].reason
    assert lib.catalog.count_vectors() == 3
    report = lib.index()  # the failed photo is retried and now embeds
    assert report.new == 1 and report.failed == 0
    lib.close()
