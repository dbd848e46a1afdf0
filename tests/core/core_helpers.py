"""Helpers for the core tests: the bundle under test and real generated photos."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

from attalos_desktop.core.bundle import default_bundle_path
from attalos_desktop.synthetic import render_photo


def bundle_path() -> Path:
    # ATTALOS_TEST_BUNDLE lets a developer point the suite at another bundle; normally the default.
    env = os.environ.get("ATTALOS_TEST_BUNDLE")
    return Path(env) if env else default_bundle_path()


def make_photos(
    folder: Path, n: int, seed: int = 0, size: tuple[int, int] = (160, 120), prefix: str = "img"
) -> list[Path]:
    """n synthetic photos of coloured shapes (JPEG) with known tags."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        im, _tags = render_photo(rng, size=size)
        p = folder / f"{prefix}{i:03d}.jpg"
        im.save(p, quality=90)
        out.append(p)
    return out


def make_spec_photo(
    path: Path, background: str, objects: list[tuple[str, str]], seed: int = 0, size: tuple[int, int] = (160, 120)
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im, _ = render_photo(random.Random(seed), size=size, spec={"background": background, "objects": objects})
    im.save(path, quality=92)
    return path


def as_hnswlib_generation(index_dir: Path) -> Path:
    """Turn the saved index generation into what the hnswlib version of the app saved (format 2): a
    ``vectors-*.hnsw`` file holding hnswlib 0.8's saveIndex stream (voyager's file without its 19 bytes of
    metadata: hnswlib itself loads it) and checksums that match. Returns the old index file."""
    import hashlib
    import json

    meta = json.loads((index_dir / "current.json").read_text())
    gen = "0123456789ab"
    files = {"index": f"vectors-{gen}.hnsw", "ids": f"live-{gen}.npy", "known": f"known-{gen}.npy"}
    data = {
        "index": (index_dir / meta["index"]).read_bytes()[19:],
        "ids": (index_dir / meta["ids"]).read_bytes(),
        "known": (index_dir / meta["known"]).read_bytes(),
    }
    for key in files:
        (index_dir / meta[key]).unlink()
        (index_dir / files[key]).write_bytes(data[key])
    meta.update(gen=gen, format=2, **files)
    meta["sha256"] = {k: hashlib.sha256(v).hexdigest() for k, v in data.items()}
    meta["sizes"] = {k: len(v) for k, v in data.items()}
    (index_dir / "current.json").write_text(json.dumps(meta))
    return index_dir / files["index"]


def patch_index_file(directory: Path, offset: int, data: bytes) -> None:
    """Overwrite bytes of the saved index file and make its recorded checksum agree (so only the
    structure check can catch the damage)."""
    meta = json.loads((directory / "current.json").read_text())
    f = directory / meta["index"]
    b = bytearray(f.read_bytes())
    b[offset : offset + len(data)] = data
    f.write_bytes(bytes(b))
    meta["sha256"]["index"] = hashlib.sha256(b).hexdigest()
    (directory / "current.json").write_text(json.dumps(meta))
