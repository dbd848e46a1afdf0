"""No-op rescan of a large tree: how long attalos-index takes when nothing changed.

Builds a tree of N tiny distinct JPEGs (1000 per folder), indexes it once for real, then times
Library.index() rescans that find nothing to do. Baseline in the same run: a bare os.walk + stat of the
same tree (the floor any rescan must pay).

    python bench/rescan_bench.py --n 100000 [--model BUNDLE] [--out bench/out/rescan.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from attalos_desktop.core.bundle import default_bundle_path  # noqa: E402
from attalos_desktop.core.library import Library  # noqa: E402


def make_tree(root: Path, n: int) -> None:
    marker = root / f".complete-{n}"
    if marker.exists():
        return
    print(f"writing {n} tiny JPEGs under {root} ...", flush=True)
    for i in range(n):
        d = root / f"folder{i // 1000:04d}"
        if i % 1000 == 0:
            d.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), (i % 256, (i // 256) % 256, (i // 65536) % 256)).save(buf, "JPEG", quality=80)
        (d / f"img{i:06d}.jpg").write_bytes(buf.getvalue())
    marker.write_text("")


def walk_stat(root: Path) -> int:
    n = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            os.stat(os.path.join(dirpath, f))
            n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=Path("bench/out/rescan"))
    ap.add_argument("--out", default="bench/out/rescan.json")
    args = ap.parse_args()
    tree, home = args.work / "tree", args.work / "library"
    make_tree(tree, args.n)
    lib = Library.open(home, model=args.model or default_bundle_path())
    t = time.perf_counter()
    first = lib.index([tree])
    t_first = time.perf_counter() - t
    print(f"first index: {first.new} new, {first.unchanged} unchanged in {t_first:.1f} s", flush=True)
    lib.close()
    times = []
    for _ in range(3):
        lib = Library.open(home, model=args.model or default_bundle_path())  # as a fresh attalos-index process
        t = time.perf_counter()
        r = lib.index()
        times.append(time.perf_counter() - t)
        lib.close()
        assert r.new == r.changed == r.removed == r.moved == 0 and r.unchanged == args.n, r.to_json()
    t = time.perf_counter()
    walked = walk_stat(tree)
    t_walk = time.perf_counter() - t
    print(
        f"no-op rescan of {args.n} files: {min(times):.2f} s best, {sorted(times)[1]:.2f} s median "
        f"(os.walk+stat baseline {t_walk:.2f} s for {walked} files)",
        flush=True,
    )
    out = {
        "files": args.n,
        "first_index_s": round(t_first, 1),
        "first_index_new": first.new,
        "noop_rescan_s": [round(x, 3) for x in times],
        "walk_stat_baseline_s": round(t_walk, 3),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
