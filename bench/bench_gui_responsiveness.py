"""How long can the GUI thread go without running its event loop while a real index job runs?

    python bench/bench_gui_responsiveness.py [--photos 300] [--photo-dir DIR] [--json bench/out/gui_resp.json]

A 10 ms QTimer ticks on the GUI thread of a real MainWindow (offscreen) while the window indexes a
folder through its worker. Every gap between ticks longer than the interval is time the user would
have felt as a frozen window. The same measurement on the idle window, in the same run, is the
baseline (timer jitter of this machine). Prints longest gap and percentiles, writes JSON.
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
os.environ.setdefault("ATTALOS_GUI_NO_POPUPS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def percentiles(gaps_ms: list[float]) -> dict[str, float]:
    if not gaps_ms:
        return {}
    s = sorted(gaps_ms)

    def q(p: float) -> float:
        return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]

    return {
        "ticks": len(s),
        "max_ms": round(s[-1], 1),
        "p50_ms": round(q(0.50), 1),
        "p95_ms": round(q(0.95), 1),
        "p99_ms": round(q(0.99), 1),
        "mean_ms": round(statistics.fmean(s), 2),
        "over_50ms": sum(1 for g in s if g > 50),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=300, help="generated photos to index (ignored with --photo-dir)")
    ap.add_argument("--photo-dir", help="index this folder instead of generated photos")
    ap.add_argument("--size", default="640x480", help="generated photo size WxH")
    ap.add_argument("--interval-ms", type=int, default=10)
    ap.add_argument("--max-baseline-s", type=float, default=20.0, help="longest idle baseline after the run")
    ap.add_argument("--json", default="bench/out/gui_responsiveness.json")
    args = ap.parse_args()

    from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    tmp = Path(tempfile.mkdtemp(prefix="attalos-bench-gui-"))
    os.environ["ATTALOS_CONFIG_DIR"] = str(tmp / "config")
    os.environ["ATTALOS_CACHE_DIR"] = str(tmp / "cache")
    if args.photo_dir:
        folder = Path(args.photo_dir)
    else:
        from attalos_desktop.synthetic import render_photo

        folder = tmp / "photos"
        folder.mkdir()
        w, h = (int(x) for x in args.size.split("x"))
        rng = random.Random(0)
        for i in range(args.photos):
            img, tags = render_photo(rng, size=(w, h))
            img.save(folder / f"{i:05d}_{'-'.join(tags)}.jpg", quality=90)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from attalos_desktop.gui.window import MainWindow

    class Ticks(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.gaps: list[float] = []
            self.stamps: list[float] = []
            self.last = time.perf_counter()
            self.timer = QTimer(self)
            self.timer.setInterval(args.interval_ms)
            self.timer.timeout.connect(self.tick)

        @Slot()
        def tick(self) -> None:
            now = time.perf_counter()
            self.gaps.append((now - self.last) * 1000)
            self.stamps.append(now)
            self.last = now

        def reset(self) -> None:
            self.gaps = []
            self.stamps = []
            self.last = time.perf_counter()

    def pump(cond, limit: float) -> None:
        end = time.monotonic() + limit
        while time.monotonic() < end and not cond():
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    win = MainWindow(home=str(tmp / "home"))
    win.resize(1280, 800)
    win.show()
    ticks = Ticks()
    ticks.timer.start()
    pump(lambda: False, 2.0)
    ticks.reset()
    pump(lambda: False, 3.0)
    idle = percentiles(ticks.gaps)

    ticks.reset()
    t0 = time.perf_counter()
    win.add_folders([str(folder)])
    pump(lambda: not win.indexing, 3600)
    busy_s = time.perf_counter() - t0
    indexing = percentiles(ticks.gaps)
    worst = sorted(zip(ticks.gaps, ticks.stamps), reverse=True)[:5]
    indexing["worst_ms_at_s"] = [(round(g, 1), round(t - t0, 2)) for g, t in worst]
    report = win.last_report
    n_shown = win.model.rowCount()
    # Second baseline: the idle window again, as long as the run took (capped), after the run. On a
    # shared machine the other processes' load shows up here too, so the two can be compared.
    pump(lambda: not win.query.busy and not win.loader.busy, 30)
    ticks.reset()
    pump(lambda: False, min(max(busy_s, 3.0), args.max_baseline_s))
    idle_after = percentiles(ticks.gaps)
    win.shutdown()
    win.deleteLater()
    app.processEvents()

    result = {
        "photos": getattr(report, "new", None),
        "shown_in_grid": n_shown,
        "index_seconds": round(busy_s, 2),
        "provider": getattr(report, "provider", None),
        "interval_ms": args.interval_ms,
        "idle_baseline": idle,
        "idle_baseline_after": idle_after,
        "while_indexing": indexing,
        "errors": win.errors,
    }
    print(f"indexed {result['photos']} photos in {busy_s:.1f} s ({result['provider']}); grid shows {n_shown}")
    print(f"idle baseline : max {idle['max_ms']} ms, p50 {idle['p50_ms']}, p95 {idle['p95_ms']}, p99 {idle['p99_ms']}")
    print(f"idle, after   : max {idle_after['max_ms']} ms, p50 {idle_after['p50_ms']}, p95 {idle_after['p95_ms']}, "
          f"p99 {idle_after['p99_ms']}, gaps over 50 ms: {idle_after['over_50ms']} of {idle_after['ticks']}")
    print(
        f"while indexing: max {indexing['max_ms']} ms, p50 {indexing['p50_ms']}, p95 {indexing['p95_ms']}, "
        f"p99 {indexing['p99_ms']}, gaps over 50 ms: {indexing['over_50ms']} of {indexing['ticks']}"
    )
    print("worst gaps (ms, seconds after Add folder):", indexing["worst_ms_at_s"])
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not win.errors else 1


if __name__ == "__main__":
    sys.exit(main())
