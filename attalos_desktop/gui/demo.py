"""Make a demo library and a screenshot of the app showing it.

    python -m attalos_desktop.gui.demo [--out DIR] [--source samples|shapes] [--photos 120]
                                       [--screenshot docs/screenshot.png] [--search QUERY]
                                       [--personal WORD] [--tagged N]
                                       [--review-screenshot FILE.png] [--training-screenshot FILE.png]

The photos are the quick start's sample library (``--source samples``, the default: real, freely
licensed photos copied from the installed scikit-image, see ``attalos_desktop.samples``; their "true
tags" are what a person would tag them with), or ``--photos`` generated ones from ``attalos_desktop.synthetic``
(``--source shapes``: coloured shapes on textured backgrounds with plausible EXIF; the default when
``--personal`` or ``--tagged`` asks for more photos and look-alikes than the ten samples give). The
folder is indexed with the core, the selected photo gets user tags (its true tags for the samples, two
accepted suggestions and "holiday" for the shapes) so the detail panel shows both kinds, and
``attalos-desktop --screenshot`` renders the window.
``--personal WORD`` puts a word of the user's own on a few look-alike photos (so the review dialog of
another look-alike suggests it, marked "yours"), ``--tagged N`` gives N photos their true tags (what a
user who tagged them would have: training data), and ``--review-screenshot`` / ``--training-screenshot``
render the review dialog of that photo and the Train on my tags dialog after a real training run.
A developer tool for the README; the app itself never imports it.
"""

from __future__ import annotations

import argparse
import os
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


def make_photos(
    folder: Path,
    n: int,
    seed: int = 3,
    size: tuple[int, int] = (480, 360),
    tags_out: dict[Path, list[str]] | None = None,
) -> list[Path]:
    """Write ``n`` generated photos; ``tags_out`` (when given) receives each photo's true tags."""
    from attalos_desktop.synthetic import render_photo

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    out = []
    for i in range(n):
        img, tags = render_photo(rng, size=size)
        p = folder / f"IMG_{1000 + i:04d}.jpg"
        img.save(p, quality=88, exif=_exif(i, rng))
        out.append(p)
        if tags_out is not None:
            tags_out[p] = list(tags)
    return out


def tag_lookalikes(lib, word: str, anchor: int, photos: int = 4) -> int | None:
    """Put ``word`` on ``anchor`` and its nearest look-alikes; return a further look-alike for which the
    word is now suggested as a personal word (None when there is none)."""
    hits = lib.similar(photo_id=anchor, limit=photos + 12)
    for pid in [anchor] + [h.photo_id for h in hits[: photos - 1]]:
        lib.accept_tags(pid, [word])
    for h in hits[photos - 1 :]:
        if any(s.tag == word and s.source == "personal" for s in lib.suggest_tags(h.photo_id, top=8)):
            return h.photo_id
    return None


def dialog_screenshots(
    home: Path,
    review_pid: int | None,
    review_path: str | None,
    training_path: str | None,
    size: tuple[int, int] = (1280, 800),
    timeout: float = 600.0,
) -> int:
    """Render the review dialog of ``review_pid`` and the Train on my tags dialog (after a real run)."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("ATTALOS_GUI_NO_POPUPS", "1")

    from attalos_desktop.gui.app import _make_app, pump_until
    from attalos_desktop.gui.window import MainWindow

    _make_app(sys.argv[:1])

    def save(widget, path: str) -> bool:
        pump_until(lambda: False, 0.3)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        ok = widget.grab().toImage().save(path, "PNG", 0)
        print(f"{'saved' if ok else 'could not write'} {path}")
        return ok

    rc = 0
    w = MainWindow(home=str(home))
    w.resize(*size)
    w.show()
    pump_until(w.is_settled, 60)
    if review_path and review_pid is not None:
        row = w.model.row_of(review_pid)
        if row is None:
            print(f"photo {review_pid} is not in the grid", file=sys.stderr)
            rc = 1
        else:
            w.select_rows([row])
            w.grid.scrollTo(w.model.index(row))  # its thumbnail gets loaded: the dialog shows it
            pump_until(w.is_settled, 60)
            dlg = w.open_suggest_dialog([w.model.photo_at(row)])
            review = dlg.reviews[review_pid]
            pump_until(lambda: bool(review.rows) and w.is_settled(), 60)
            dlg.resize(700, 540)
            rc |= 0 if save(dlg, review_path) else 1
            dlg.reject()
    if training_path:
        dlg = w.show_training()
        pump_until(lambda: dlg.summary is not None, 30)
        if dlg.start():
            finished = []
            dlg.runFinished.connect(finished.append)
            pump_until(lambda: bool(finished), timeout)
            print(f"training: {dlg.state} {dlg.message.text()}")
        dlg.resize(720, 400)
        rc |= 0 if save(dlg, training_path) else 1
    w.shutdown()
    return rc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate a demo library and a screenshot of attalos-desktop.")
    ap.add_argument("--out", help="demo folder (default: a new temp dir)")
    ap.add_argument("--photos", type=int, default=120)
    ap.add_argument("--screenshot", default="docs/screenshot.png", help="main window screenshot ('': none)")
    ap.add_argument("--search", default=None, help="search to show in the screenshot")
    ap.add_argument("--select", type=int, default=0)
    ap.add_argument("--size", default="1280x800")
    ap.add_argument("--personal", metavar="WORD", help="put this word of your own on a few look-alike photos")
    ap.add_argument("--tagged", type=int, default=0, help="give this many photos their true tags (training data)")
    ap.add_argument("--review-screenshot", metavar="FILE.png", help="render the review dialog of a look-alike")
    ap.add_argument("--training-screenshot", metavar="FILE.png", help="render Train on my tags after a real run")
    ap.add_argument(
        "--source",
        choices=("samples", "shapes"),
        default=None,
        help="the sample photos from scikit-image (default), or --photos generated shapes (the "
        "default with --personal or --tagged)",
    )
    args = ap.parse_args(argv)
    source = args.source or ("shapes" if args.personal or args.tagged else "samples")

    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="attalos-demo-"))
    home = out / "library"
    true_tags: dict[Path, list[str]] = {}
    if source == "samples":
        from attalos_desktop.samples import SamplesUnavailable, by_file, copy_samples

        photos_dir = out / "Photos" / "Sample photos"
        try:
            known = by_file()
            true_tags = {p: list(known[p.name].tags) for p in copy_samples(photos_dir)}
        except SamplesUnavailable as exc:
            print(f"sample photos: {exc} (or use --source shapes)", file=sys.stderr)
            return 1
    else:
        photos_dir = out / "Photos" / "Summer 2026"
        if not photos_dir.is_dir():
            make_photos(photos_dir, args.photos, tags_out=true_tags)
    review_pid = None

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
                here = os.path.abspath(lib.photo(pid).path)
                mine = next((t for p, t in true_tags.items() if os.path.abspath(p) == here), None)
                if source == "samples" and mine:  # what a person would tag this photo with
                    lib.accept_tags(pid, mine)
                else:
                    best = [t.tag for t in lib.suggest_tags(pid, top=2)]
                    lib.accept_tags(pid, best + ["holiday"])
            for path in sorted(true_tags)[: max(0, args.tagged)]:
                row = lib.photo_by_path(path)
                if row is not None and row.id != pid:
                    lib.accept_tags(row.id, true_tags[path])
            if args.personal:
                anchor = rows[min(args.select + 1, len(rows) - 1)].id
                review_pid = tag_lookalikes(lib, args.personal, anchor)
                if review_pid is None:
                    print(f"no look-alike gets {args.personal!r} suggested yet; tag more photos", file=sys.stderr)
    finally:
        lib.close()

    cmd = [
        sys.executable,
        "-m",
        "attalos_desktop.gui.app",
        "--library",
        str(home),
        "--screenshot",
        args.screenshot,
        "--size",
        args.size,
        "--select",
        str(args.select),
    ]
    if args.search:
        cmd += ["--search", args.search]
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.setdefault("ATTALOS_CONFIG_DIR", str(out / "config"))
    rc = subprocess.call(cmd, env=env) if args.screenshot else 0
    if args.review_screenshot or args.training_screenshot:
        os.environ.setdefault("ATTALOS_CONFIG_DIR", str(out / "config"))
        w, h = (int(x) for x in args.size.lower().split("x"))
        rc |= dialog_screenshots(home, review_pid, args.review_screenshot, args.training_screenshot, (w, h))
    print(f"library: {home}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
