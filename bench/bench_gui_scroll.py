"""Scrolling a grid of 10,000 photos: time per scroll step (layout + paint) and thumbnails decoded.

    python bench/bench_gui_scroll.py [--photos 10000] [--steps 300] [--json bench/out/gui_scroll.json]

The real grid model, delegate and view (offscreen) over N photos (hard links to a few generated
JPEGs, so each path is its own cache entry). The view scrolls down page by page like a user
holding Page Down; each step is timed until the frame is painted. Baseline in the same run: the
same steps again (a second pass: thumbnails made in the first pass now come from the disk cache).
"""

from __future__ import annotations

import argparse
import json
import shutil
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def stats(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {
        "steps": len(s),
        "max_ms": round(s[-1], 2),
        "p50_ms": round(s[len(s) // 2], 2),
        "p95_ms": round(s[int(0.95 * (len(s) - 1))], 2),
        "mean_ms": round(statistics.fmean(s), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=10_000)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--json", default="bench/out/gui_scroll.json")
    args = ap.parse_args()

    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from attalos_desktop.core.library import PhotoRow
    from attalos_desktop.core.thumbnails import ThumbnailCache
    from attalos_desktop.gui.grid import PhotoDelegate, PhotoGridModel, PhotoGridView
    from attalos_desktop.gui.workers import ThumbnailLoader
    from attalos_desktop.synthetic import render_photo

    tmp = Path(tempfile.mkdtemp(prefix="attalos-bench-scroll-"))
    rng = random.Random(0)
    sources = []
    for i in range(20):
        img, _ = render_photo(rng, size=(640, 480))
        p = tmp / f"src{i}.jpg"
        img.save(p, quality=90)
        sources.append(p)
    folder = tmp / "photos"
    folder.mkdir()
    rows = []
    for i in range(args.photos):
        p = folder / f"p{i:05d}.jpg"
        os.link(sources[i % len(sources)], p)
        rows.append(PhotoRow(i + 1, str(p), 1, 640, 480, None, None, None, None, p.stat().st_size, 0.0))

    app = QApplication.instance() or QApplication(sys.argv[:1])
    cache = ThumbnailCache(tmp / "cache")
    loader = ThumbnailLoader(cache, threads=2)
    model = PhotoGridModel(loader, 160)
    view = PhotoGridView()
    view.setItemDelegate(PhotoDelegate(160, view))
    view.setModel(model)
    view.resize(1000, 760)
    view.show()
    t0 = time.perf_counter()
    model.set_photos(rows)
    while view.verticalScrollBar().maximum() < 1 or time.perf_counter() - t0 < 0.5:
        app.processEvents()
    # Let the batched layout finish before measuring.
    last = -1
    while view.verticalScrollBar().maximum() != last:
        last = view.verticalScrollBar().maximum()
        t_end = time.perf_counter() + 0.2
        while time.perf_counter() < t_end:
            app.processEvents()
    layout_s = time.perf_counter() - t0

    sb = view.verticalScrollBar()
    page = sb.pageStep()

    def run_pass() -> list[float]:
        sb.setValue(0)
        app.processEvents()
        out = []
        for k in range(args.steps):
            t = time.perf_counter()
            sb.setValue(min(sb.maximum(), (k + 1) * page))
            view.viewport().repaint()  # paint synchronously: the step's full cost
            QCoreApplication.processEvents()
            out.append((time.perf_counter() - t) * 1000)
        return out

    cold = run_pass()
    made_cold = cache.made
    # Let the loader finish what the fast scroll asked for, then scroll the same range again.
    t_end = time.perf_counter() + 30
    while loader.busy and time.perf_counter() < t_end:
        app.processEvents()
        time.sleep(0.005)
    warm = run_pass()
    loader.shutdown()

    rows_scrolled = min(args.photos, view.visible_rows().stop)
    result = {
        "photos": args.photos,
        "layout_seconds": round(layout_s, 2),
        "rows_scrolled_past": rows_scrolled,
        "thumbnails_decoded_during_scroll": made_cold,
        "scroll_cold": stats(cold),
        "scroll_warm_baseline": stats(warm),
    }
    print(f"{args.photos} photos laid out in {layout_s:.2f} s; scrolled {args.steps} pages to row {rows_scrolled}")
    print(f"thumbnails decoded while scrolling: {made_cold} (not {rows_scrolled}: stale requests are dropped)")
    c, w = result["scroll_cold"], result["scroll_warm_baseline"]
    print(f"per step, thumbnails loading : max {c['max_ms']} ms, p50 {c['p50_ms']}, p95 {c['p95_ms']}")
    print(f"per step, second pass       : max {w['max_ms']} ms, p50 {w['p50_ms']}, p95 {w['p95_ms']}")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
