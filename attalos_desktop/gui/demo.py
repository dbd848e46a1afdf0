"""Make a demo library of generated photos and a screenshot of the app showing it.

    python -m attalos_desktop.gui.demo [--out DIR] [--photos 120] [--screenshot docs/screenshot.png]
                                       [--search QUERY]

The photos come from ``trainer.synthetic`` (coloured shapes on textured backgrounds; Pillow and
numpy only, no torch). The folder is indexed with the core, a few suggestions are accepted as user
tags so the detail panel shows both kinds, and ``attalos-desktop --screenshot`` renders the window.
A developer tool for the README; the app itself never imports it.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path


CAMERAS = (("Fujifilm", "X-T5"), ("Canon", "EOS R6"), ("Apple", "iPhone 15"))


def _exif(i: int, rng: random.Random):
    """Plausible EXIF for a demo photo: camera, capture time and GPS position."""
    from PIL import Image

    exif = Image.Exif()
    make, model = CAMERAS[i % len(CAMERAS)]
    exif[0x010F] = make
    exif[0x0110] = model
    when = f"2026:07:{1 + i // 8:02d} {9 + i % 10:02d}:{(i * 7) % 60:02d}:00"
    exif[0x0132] = when
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = when  # DateTimeOriginal
    lat, lon = 43.55 + rng.uniform(-0.05, 0.05), 7.01 + rng.uniform(-0.05, 0.05)  # a summer on the coast

    def dms(x: float) -> tuple[float, float, float]:
        d = int(x)
        m = int((x - d) * 60)
        return (float(d), float(m), round(((x - d) * 60 - m) * 60, 2))

    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", dms(lat), "E", dms(lon)
    return exif


def make_photos(folder: Path, n: int, seed: int = 3, size: tuple[int, int] = (480, 360)) -> list[Path]:
    from trainer.synthetic import render_photo

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        img, tags = render_photo(rng, size=size)
        p = folder / f"IMG_{1000 + i:04d}.jpg"
        img.save(p, quality=88, exif=_exif(i, rng))
        out.append(p)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate a demo library and a screenshot of attalos-desktop.")
    ap.add_argument("--out", help="demo folder (default: a new temp dir)")
    ap.add_argument("--photos", type=int, default=120)
    ap.add_argument("--screenshot", default="docs/screenshot.png")
    ap.add_argument("--search", default=None, help="search to show in the screenshot")
    ap.add_argument("--select", type=int, default=0)
    ap.add_argument("--size", default="1280x800")
    args = ap.parse_args(argv)

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="attalos-demo-"))
    photos_dir = out / "Photos" / "Summer 2026"
    home = out / "library"
    if not photos_dir.is_dir():
        make_photos(photos_dir, args.photos)

    from attalos_desktop.core.library import Library

    lib = Library.open(home=str(home))
    try:
        report = lib.index([str(photos_dir)])
        print(f"indexed {report.new} new photos ({report.seconds:.1f} s, {report.provider})")
        rows = lib.photos()
        if rows:
            # The photo the screenshot will select: the search's hit, or the grid's row.
            if args.search:
                pid = lib.search(args.search, limit=args.select + 1)[args.select].photo_id
            else:
                pid = rows[min(args.select, len(rows) - 1)].id
            if not lib.user_tags(pid):
                best = [t.tag for t in lib.suggest_tags(pid, top=2)]
                lib.accept_tags(pid, best + ["holiday"])
    finally:
        lib.close()

    cmd = [sys.executable, "-m", "attalos_desktop.gui.app", "--library", str(home), "--screenshot", args.screenshot,
           "--size", args.size, "--select", str(args.select)]
    if args.search:
        cmd += ["--search", args.search]
    env = dict(__import__("os").environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("ATTALOS_CONFIG_DIR", str(out / "config"))
    rc = subprocess.call(cmd, env=env)
    print(f"library: {home}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
