"""Indexing throughput on 12-megapixel JPEGs: the library pipeline against a naive one, same run.

- naive: full-size decode, whole-image resize, crop, one image at a time through the encoder, no overlap
  (what a first implementation does);
- library: Library.index() end to end (scan, EXIF + keywords, draft-mode decode in a thread pool a few
  batches ahead of batched ONNX Runtime inference, hashing, SQLite commits, hnswlib, atomic save);
- ceilings: draft decode alone (thread pool, no model) and batched inference alone, to see how close the
  pipeline gets to what the 2 cores can do.

    python bench/index_bench.py --n 300 [--model BUNDLE] [--size 1600x1200] [--out bench/out/index.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from attalos_desktop.core.bundle import default_bundle_path, load_bundle  # noqa: E402
from attalos_desktop.core.encoder import ImageEncoder  # noqa: E402
from attalos_desktop.core.imageio import decode_for_model, naive_decode  # noqa: E402
from attalos_desktop.core.library import Library  # noqa: E402
from attalos_desktop.core.pipeline import default_workers  # noqa: E402


def make_photo(path: Path, seed: int, size: tuple[int, int] = (4000, 3000)) -> None:
    """A 12-MP photo-like JPEG: smooth colour field, shapes, and sensor-like noise (so JPEG is not trivial)."""
    rng = random.Random(seed)
    small = Image.new("RGB", (200, 150), tuple(rng.randrange(256) for _ in range(3)))
    d = ImageDraw.Draw(small)
    for _ in range(6):
        x, y, r = rng.randrange(200), rng.randrange(150), rng.randrange(10, 60)
        d.ellipse([x - r, y - r, x + r, y + r], fill=tuple(rng.randrange(256) for _ in range(3)))
    im = small.filter(ImageFilter.GaussianBlur(3)).resize(size, Image.Resampling.BICUBIC)
    noise = np.random.default_rng(seed).integers(-12, 13, (size[1] // 4, size[0] // 4, 3), dtype=np.int16)
    arr = np.asarray(im, dtype=np.int16) + np.kron(noise, np.ones((4, 4, 1), dtype=np.int16))
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)


def ensure_photos(folder: Path, n: int, size: tuple[int, int] = (4000, 3000)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo{i:04d}.jpg" for i in range(n)]
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"generating {len(missing)} {size[0]}x{size[1]} JPEGs in {folder} ...", flush=True)
        with ThreadPoolExecutor(os.cpu_count()) as ex:
            list(ex.map(lambda p: make_photo(p, int(p.stem[5:]), size), missing))
    for p in paths:  # warm the page cache so both pipelines read from memory
        p.read_bytes()
    return paths


def naive(paths: list[Path], enc: ImageEncoder) -> float:
    pre = enc.bundle.preprocessing
    t = time.perf_counter()
    for p in paths:
        enc.embed(naive_decode(p, pre)[None])
    return len(paths) / (time.perf_counter() - t)


def library(paths: list[Path], bundle: Path, workers: int) -> tuple[float, dict]:
    folder = paths[0].parent
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(tmp, model=bundle)
        lib.provider  # model loaded before timing, as in a running app
        t = time.perf_counter()
        report = lib.index([folder], workers=workers)
        dt = time.perf_counter() - t
        lib.close()
    assert report.new == len(paths), report
    return len(paths) / dt, report.to_json()


def decode_ceiling(paths: list[Path], enc: ImageEncoder, workers: int) -> float:
    pre = enc.bundle.preprocessing
    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        list(ex.map(lambda p: decode_for_model(p, pre).tensor, paths))
    return len(paths) / (time.perf_counter() - t)


def infer_ceiling(enc: ImageEncoder, n: int, batch: int = 32) -> float:
    s = enc.bundle.preprocessing.input_size
    x = np.random.default_rng(0).standard_normal((batch, 3, s, s)).astype(np.float32)
    enc.embed(x)
    t = time.perf_counter()
    done = 0
    while done < n:
        enc.embed(x)
        done += batch
    return done / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--naive-n", type=int, default=100, help="photos for the (slow) naive pipeline")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT of the generated photos")
    ap.add_argument("--photos", type=Path, default=None,
                    help="folder of the generated photos (default: bench/out/photos12mp, or photos-WxH for --size)")
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--out", default="bench/out/index.json")
    args = ap.parse_args()
    bundle = args.model or default_bundle_path()
    b = load_bundle(bundle)
    enc = ImageEncoder(b)
    size = tuple(int(v) for v in args.size.lower().split("x"))
    photos = args.photos or Path("bench/out/photos12mp" if size == (4000, 3000) else f"bench/out/photos-{args.size}")
    paths = ensure_photos(photos, args.n, size)  # type: ignore[arg-type]
    print(f"model {b.name} (input {b.preprocessing.input_size}px, dim {b.dim}) on {enc.provider}, "
          f"{os.cpu_count()} cores, {args.workers} decode threads", flush=True)
    r_naive = naive(paths[: args.naive_n], enc)
    print(f"naive pipeline      : {r_naive:7.1f} photos/s  ({args.naive_n} photos)", flush=True)
    r_lib, report = library(paths, bundle, args.workers)
    print(f"library index()     : {r_lib:7.1f} photos/s  ({len(paths)} photos)  = {r_lib / r_naive:.1f}x naive", flush=True)
    r_dec = decode_ceiling(paths, enc, args.workers)
    print(f"decode only ceiling : {r_dec:7.1f} photos/s", flush=True)
    r_inf = infer_ceiling(enc, max(256, args.n))
    print(f"inference only      : {r_inf:7.1f} photos/s (batch 32)", flush=True)
    serial = 1.0 / (1.0 / r_dec + 1.0 / r_inf)
    print(f"decode+inference on the same cores, back to back: {serial:7.1f} photos/s; "
          f"library reaches {r_lib / serial:.0%} of it", flush=True)
    out = {"model": b.name, "provider": enc.provider, "cores": os.cpu_count(), "workers": args.workers,
           "photos": len(paths), "megapixels": round(size[0] * size[1] / 1e6, 2), "naive_photos_per_s": round(r_naive, 2),
           "library_photos_per_s": round(r_lib, 2), "speedup": round(r_lib / r_naive, 2),
           "decode_only_photos_per_s": round(r_dec, 2), "inference_only_photos_per_s": round(r_inf, 2),
           "decode_plus_inference_photos_per_s": round(serial, 2), "report": report}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
