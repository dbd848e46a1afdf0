"""How long can the GUI thread go without running its event loop while a real index job runs?

    python bench/bench_gui_responsiveness.py [--photos 300] [--photo-dir DIR] [--json bench/out/gui_resp.json]
                                             [--pump exec|spin] [--probe] [--probe-events] [--profile gui.prof]
                                             [--runs 12 --load 2 --baseline-thumbnails]

A 10 ms QTimer ticks on the GUI thread of a real MainWindow (offscreen) while the window indexes a
folder through its worker. Every gap between ticks longer than the interval is time the user would
have felt as a frozen window. The measured window runs from "Add folder" until the run has ended and
the window's reloads after it (grid, sidebar, words) are answered. The same measurement on the idle
window, before and after, in the same run, is the baseline (timer jitter and load of this machine).
Prints longest gap and percentiles, writes JSON.

--runs K repeats the measurement in K fresh processes; with --load N every other run is made while N
busy processes (another program the user runs, at normal priority) compete for the CPUs, so the
stall with and without competition comes from the same session. --baseline-thumbnails adds runs in
which the window makes every grid thumbnail itself (--window-thumbnails: how the app worked before the
index job left them in the cache as it decoded each photo), interleaved with the others.

The GUI thread sleeps in a blocking event loop between events, as in the application (``--pump
spin`` calls processEvents() in a loop instead, the way this bench measured until 2026-12: a GUI
thread that never sleeps is scheduled as a CPU hog on a loaded machine and its gaps come out longer).

--probe explains the worst gaps: for each, how much of it the GUI thread spent running (its CPU
time), waiting for a CPU while runnable (the kernel's run-queue wait, /proc/thread-self/schedstat:
machine load), and neither (asleep until the timer was due, or blocked on the GIL held by another
thread of this process, whose CPU time in the gap is shown too), plus the garbage-collector passes
in the gap and on the GUI thread overall (--probe-threads adds each other thread's CPU and run-queue
wait: a thread that waits for a CPU while holding the GIL stalls the GUI thread too; reading every
thread's counters each tick costs the GUI thread ~0.5 ms, so it inflates what it measures).
--probe-events lists the events that took the GUI thread
over 2 ms of CPU, with what inside them took over 0.5 ms (which widget painted, which object's
queued call ran). --profile writes a cProfile of the GUI thread while measuring.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import os
import random
import statistics
import sys
import tempfile
import threading
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
    ap.add_argument(
        "--pump",
        choices=("exec", "spin"),
        default="exec",
        help="exec: run a blocking event loop, as the application does (default); spin: call processEvents() "
        "in a loop, the GUI thread never sleeps (how this bench measured before 2026-12; a busy thread "
        "that the kernel schedules behind other processes on a loaded machine)",
    )
    ap.add_argument("--probe", action="store_true", help="explain the worst gaps (CPU, run-queue wait, GIL, GC)")
    ap.add_argument(
        "--probe-threads",
        action="store_true",
        help="with --probe: each other thread's CPU and run-queue wait per gap (costs the GUI thread ~0.5 ms a tick)",
    )
    ap.add_argument(
        "--probe-events", action="store_true", help="list the events that took the GUI thread over 2 ms of CPU"
    )
    ap.add_argument("--profile", help="write a cProfile of the GUI thread while indexing to this file")
    ap.add_argument(
        "--runs", type=int, default=1, help="repeat the whole measurement this many times, each in a fresh process"
    )
    ap.add_argument(
        "--load",
        type=int,
        default=0,
        help="other programs competing for the CPUs: this many busy processes (normal priority) run throughout; "
        "with --runs, every other run is made with this load and the rest without it (interleaved)",
    )
    ap.add_argument(
        "--window-thumbnails",
        action="store_true",
        help="the window makes every thumbnail itself (as before 2026-12) instead of the index job leaving them",
    )
    ap.add_argument(
        "--baseline-thumbnails",
        action="store_true",
        help="with --runs: interleave runs with --window-thumbnails as the baseline of the same session",
    )
    args = ap.parse_args()
    if args.runs > 1:
        return repeat(args)
    if args.load:
        busy = start_load(args.load)
        try:
            return measure(args)
        finally:
            stop_load(busy)
    return measure(args)


def name_pool_threads() -> None:
    """--probe-threads: give the pool threads running the window's jobs an OS name (Linux), so that
    the explanation of a gap tells the index supervisor from the thumbnail makers."""
    import ctypes

    from attalos_desktop.gui import workers

    try:
        prctl = ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        return

    def named(cls: type, name: bytes) -> None:
        run = cls.run

        def run_named(self) -> None:  # noqa: ANN001
            prctl(15, ctypes.c_char_p(name), 0, 0, 0)  # PR_SET_NAME
            run(self)

        cls.run = run_named

    named(workers.IndexWorker, b"index-supervise")
    named(workers._ThumbnailJob, b"thumbnail-job")


def start_load(n: int) -> list:
    """n processes that spin on a CPU at normal priority: another program the user is running."""
    import subprocess

    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def stop_load(busy: list) -> None:
    for p in busy:
        p.kill()
        p.wait()


def _without(argv: list[str], names: tuple[str, ...]) -> list[str]:
    """argv less the options ``names`` and their values (``--x V`` or ``--x=V``)."""
    out: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in names:
            skip = True
        elif a.split("=", 1)[0] not in names:
            out.append(a)
    return out


def repeat(args: argparse.Namespace) -> int:
    """--runs K: K fresh processes cycling through the variants (with and without --load, and with
    --baseline-thumbnails the window making every thumbnail itself); the longest stall of each."""
    import subprocess

    variants: list[tuple[str, list[str]]] = [("no load", [])]
    if args.load:
        variants.append((f"{args.load} busy processes", ["--load", str(args.load)]))
    if args.baseline_thumbnails:
        variants += [(f"{name}, window makes thumbnails", [*extra, "--window-thumbnails"]) for name, extra in variants]
    rows: dict[str, list[dict]] = {name: [] for name, _ in variants}
    passthrough = [a for a in _without(sys.argv[1:], ("--runs", "--load", "--json")) if a != "--baseline-thumbnails"]
    for i in range(args.runs):
        key, extra = variants[i % len(variants)]
        out = Path(tempfile.mkdtemp(prefix="attalos-bench-run-")) / "run.json"
        code = subprocess.call(
            [sys.executable, __file__, *passthrough, *extra, "--json", str(out)], stdout=subprocess.DEVNULL
        )
        if code != 0 or not out.is_file():
            print(f"run {i + 1} failed (exit {code})", file=sys.stderr)
            return 1
        r = json.loads(out.read_text())
        shutil.rmtree(out.parent, ignore_errors=True)
        rows[key].append(r)
        w = r["while_indexing"]
        print(
            f"run {i + 1:2d} ({key}): longest stall {w['max_ms']} ms, p99 {w['p99_ms']}, idle max "
            f"{r['idle_baseline']['max_ms']} ms, indexed {r['photos']} in {r['index_seconds']} s",
            flush=True,
        )
        if w.get("worst_explained"):  # --probe: what the longest gap of this run was made of
            print("        ", w["worst_explained"][0], flush=True)
    summary = {}
    for key, runs in rows.items():
        if not runs:
            continue
        worst = [r["while_indexing"]["max_ms"] for r in runs]
        idle = [max(r["idle_baseline"]["max_ms"], r["idle_baseline_after"]["max_ms"]) for r in runs]
        summary[key] = {
            "runs": len(runs),
            "longest_stall_ms": {"min": min(worst), "median": statistics.median(worst), "max": max(worst)},
            "idle_window_longest_gap_ms": {"min": min(idle), "median": statistics.median(idle), "max": max(idle)},
            "index_seconds_median": statistics.median(r["index_seconds"] for r in runs),
            "runs_over_50ms": sum(1 for w in worst if w > 50),
        }
        s = summary[key]["longest_stall_ms"]
        print(
            f"{key}: longest stall min/median/max {s['min']}/{s['median']}/{s['max']} ms over {len(runs)} runs "
            f"({summary[key]['runs_over_50ms']} over 50 ms); idle window longest gap median "
            f"{summary[key]['idle_window_longest_gap_ms']['median']} ms; indexing "
            f"{summary[key]['index_seconds_median']} s"
        )
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"summary": summary, "runs": rows}, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0


def measure(args: argparse.Namespace) -> int:

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

    slow_events: list[tuple[float, float, float, str, str]] = []  # at, CPU ms, wall ms, event type, receiver

    class ProbeApp(QApplication):
        """Times each event the GUI thread delivers (outermost only): which ones take its CPU."""

        depth = 0
        recording = False
        inner: list = []

        def notify(self, obj, ev) -> bool:  # noqa: N802
            if not self.recording or threading.get_ident() != main_ident:
                return super().notify(obj, ev)
            self.depth += 1
            c0, w0 = time.thread_time(), time.perf_counter()
            try:
                return super().notify(obj, ev)
            finally:
                self.depth -= 1
                cpu = time.thread_time() - c0
                if self.depth == 0 and cpu > 0.002:
                    name = (
                        f"{type(obj).__name__}:{obj.objectName()}" if isinstance(obj, QObject) else type(obj).__name__
                    )
                    slow_events.append((w0, cpu * 1000, (time.perf_counter() - w0) * 1000, ev.type().name, name))
                    slow_events.extend(self.inner)
                if self.depth == 0:
                    self.inner = []
                elif self.depth == 1 and cpu > 0.0005:  # what the outermost event spent its time on
                    name = (
                        f"{type(obj).__name__}:{obj.objectName()}" if isinstance(obj, QObject) else type(obj).__name__
                    )
                    self.inner.append((w0, cpu * 1000, (time.perf_counter() - w0) * 1000, "  " + ev.type().name, name))

    app = QApplication.instance() or (ProbeApp if args.probe_events else QApplication)(sys.argv[:1])
    from attalos_desktop.gui.window import MainWindow

    if args.probe_threads:
        name_pool_threads()
    main_ident = threading.get_ident()
    main_tid = threading.get_native_id()
    gc_passes: list[tuple[float, float, int, bool, int]] = []  # start, ms, generation, on GUI thread, collected
    gc_open: dict[int, float] = {}

    def on_gc(phase: str, info: dict) -> None:
        now = time.perf_counter()
        tid = threading.get_ident()
        if phase == "start":
            gc_open[tid] = now
        elif tid in gc_open:
            t = gc_open.pop(tid)
            gc_passes.append((t, (now - t) * 1000, info["generation"], tid == main_ident, info["collected"]))

    try:  # opened on the GUI thread: /proc/thread-self is that thread
        schedstat = os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    except OSError:
        schedstat = None

    def sched() -> tuple[float, float]:
        """(CPU ms, run-queue wait ms) of the GUI thread so far."""
        if schedstat is not None:
            try:
                run, wait, _ = os.pread(schedstat, 128, 0).split()
                return int(run) / 1e6, int(wait) / 1e6
            except (OSError, ValueError):
                pass
        return time.thread_time() * 1000, 0.0

    def threads_sched() -> dict[int, tuple[str, float, float]]:
        """{tid: (name, CPU ms, run-queue wait ms)} of this process's other threads."""
        out = {}
        for tid in os.listdir("/proc/self/task"):
            if int(tid) == main_tid:
                continue
            try:
                with open(f"/proc/self/task/{tid}/schedstat") as f:
                    run, wait, _ = f.read().split()
                with open(f"/proc/self/task/{tid}/comm") as f:
                    name = f.read().strip()
            except (OSError, ValueError):
                continue
            out[int(tid)] = (name, int(run) / 1e6, int(wait) / 1e6)
        return out

    def other_threads(before: dict, after: dict) -> list[tuple[str, float, float]]:
        """(name, CPU ms, run-queue wait ms) in a gap, for the threads that did either for over 1 ms."""
        rows = []
        for tid, (name, run, wait) in after.items():
            _, run0, wait0 = before.get(tid, (name, 0.0, 0.0))
            if run - run0 > 1 or wait - wait0 > 1:
                rows.append((name, round(run - run0, 1), round(wait - wait0, 1)))
        return sorted(rows, key=lambda r: -(r[1] + r[2]))

    class Ticks(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.gaps: list[float] = []
            self.stamps: list[float] = []
            self.probes: list[tuple[float, float, float]] = []  # GUI-thread CPU, its run-queue wait, process CPU (ms)
            self.threads: list[dict] = []  # the other threads' schedstat, per tick
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
            if args.probe:
                self.probes.append((*sched(), time.process_time() * 1000))
                if args.probe_threads:
                    self.threads.append(threads_sched())

        def reset(self) -> None:
            self.gaps = []
            self.stamps = []
            self.probes = []
            self.threads = []
            self.last = time.perf_counter()
            if args.probe:
                self.probes.append((*sched(), time.process_time() * 1000))
                if args.probe_threads:
                    self.threads.append(threads_sched())

        def explain(self, t0: float, n: int = 8) -> list[dict]:
            """The ``n`` longest gaps, each split into CPU / run-queue wait / blocked, with the GC in it."""
            out = []
            order = sorted(range(len(self.gaps)), key=lambda i: -self.gaps[i])[:n]
            for i in order:
                (c0, w0, p0), (c1, w1, p1) = self.probes[i], self.probes[i + 1]
                end = self.stamps[i]
                start = end - self.gaps[i] / 1000
                gcs = [(round(ms, 1), gen, main) for t, ms, gen, main, _ in gc_passes if start <= t <= end]
                cpu, runq = c1 - c0, w1 - w0
                out.append(
                    {
                        "gap_ms": round(self.gaps[i], 1),
                        "at_s": round(end - t0, 2),
                        "gui_cpu_ms": round(cpu, 1),
                        "runqueue_wait_ms": round(runq, 1),
                        # neither running nor runnable: asleep until the timer was due (up to one
                        # interval), or waiting for the GIL that another thread of this process holds
                        "asleep_or_blocked_ms": round(self.gaps[i] - cpu - runq, 1),
                        "other_threads_cpu_ms": round((p1 - p0) - cpu, 1),
                        # the other threads of this process that ran or waited for a CPU in the gap: one
                        # that waited while holding the GIL kept the GUI thread waiting too
                        "other_threads": other_threads(self.threads[i], self.threads[i + 1]) if self.threads else None,
                        "gc": gcs,
                    }
                )
            return out

    def pump(cond, limit: float) -> None:
        end = time.monotonic() + limit
        if args.pump == "spin":
            while time.monotonic() < end and not cond():
                QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            return
        # The application's own way: the GUI thread sleeps in the event loop until there is work.
        loop = QEventLoop()
        check = QTimer()
        check.setInterval(20)
        check.timeout.connect(lambda: (time.monotonic() >= end or cond()) and loop.quit())
        if time.monotonic() < end and not cond():
            check.start()
            loop.exec()
            check.stop()

    load_at_start = os.getloadavg()[0]
    win = MainWindow(home=str(tmp / "home"))
    if args.window_thumbnails:
        win.indexer.thumbnails = None
    win.resize(1280, 800)
    win.show()
    ticks = Ticks()
    ticks.timer.start()
    pump(lambda: False, 2.0)
    ticks.reset()
    pump(lambda: False, 3.0)
    idle = percentiles(ticks.gaps)

    if args.probe:
        gc.callbacks.append(on_gc)
    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
    ticks.reset()
    t0 = time.perf_counter()
    if isinstance(app, ProbeApp):
        app.recording = True
    if prof is not None:
        prof.enable()
    win.add_folders([str(folder)])
    pump(lambda: not win.indexing, 3600)
    busy_s = time.perf_counter() - t0
    # The end of the run is part of it: the window reloads the grid, the sidebar and the words, and
    # the gap in which the run ended is only closed by the next tick.
    pump(lambda: not win.query.busy and not win.loader.busy, 30)
    settled_s = time.perf_counter() - t0
    if prof is not None:
        prof.disable()
        prof.dump_stats(args.profile)
    indexing = percentiles(ticks.gaps)
    if isinstance(app, ProbeApp):
        app.recording = False
        indexing["slow_events"] = [
            {"at_s": round(t - t0, 2), "cpu_ms": round(c, 1), "wall_ms": round(w, 1), "event": e, "receiver": r}
            for t, c, w, e, r in slow_events
        ]
    worst = sorted(zip(ticks.gaps, ticks.stamps), reverse=True)[:5]
    indexing["worst_ms_at_s"] = [(round(g, 1), round(t - t0, 2)) for g, t in worst]
    if args.probe:
        gc.callbacks.remove(on_gc)
        indexing["worst_explained"] = ticks.explain(t0)
        gui_gc = [ms for t, ms, gen, main, _ in gc_passes if main]
        indexing["gc_on_gui_thread"] = {
            "passes": len(gui_gc),
            "max_ms": round(max(gui_gc, default=0.0), 1),
            "total_ms": round(sum(gui_gc), 1),
            "by_generation": {g: sum(1 for _, _, gen, main, _ in gc_passes if main and gen == g) for g in (0, 1, 2)},
            "over_5ms": [
                {"at_s": round(t - t0, 2), "ms": round(ms, 1), "generation": gen, "collected": n}
                for t, ms, gen, main, n in gc_passes
                if main and ms > 5
            ],
        }
        cpu = [c1 - c0 for (c0, _, _), (c1, _, _) in zip(ticks.probes, ticks.probes[1:])]
        runq = [w1 - w0 for (_, w0, _), (_, w1, _) in zip(ticks.probes, ticks.probes[1:])]
        indexing["gui_thread"] = {
            "cpu_ms_total": round(sum(cpu), 1),
            "cpu_ms_max_in_one_gap": round(max(cpu, default=0.0), 1),
            "runqueue_wait_ms_total": round(sum(runq), 1),
            "runqueue_wait_ms_max_in_one_gap": round(max(runq, default=0.0), 1),
            "process_cpu_ms_total": round(ticks.probes[-1][2] - ticks.probes[0][2], 1) if ticks.probes else 0.0,
        }
    report = win.last_report
    n_shown = win.model.rowCount()
    # Second baseline: the idle window again, as long as the run took (capped), after the run. On a
    # shared machine the other processes' load shows up here too, so the two can be compared.
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
        "measured_seconds": round(settled_s, 2),  # indexing, then until the window's reloads are answered
        "provider": getattr(report, "provider", None),
        "interval_ms": args.interval_ms,
        "pump": args.pump,
        "thumbnails_made_by": "window" if args.window_thumbnails else "index job",
        "thumbnails_the_window_decoded": win.cache.made,  # cache misses in the GUI process
        # other processes' load (1-minute average) when the run started and ended: the gaps grow with it
        "load_average": [round(load_at_start, 2), round(os.getloadavg()[0], 2)],
        "idle_baseline": idle,
        "idle_baseline_after": idle_after,
        "while_indexing": indexing,
        "errors": win.errors,
    }
    print(
        f"indexed {result['photos']} photos in {busy_s:.1f} s ({result['provider']}); grid shows {n_shown}; "
        f"the window decoded {win.cache.made} thumbnails itself"
    )
    print(f"idle baseline : max {idle['max_ms']} ms, p50 {idle['p50_ms']}, p95 {idle['p95_ms']}, p99 {idle['p99_ms']}")
    print(
        f"idle, after   : max {idle_after['max_ms']} ms, p50 {idle_after['p50_ms']}, p95 {idle_after['p95_ms']}, "
        f"p99 {idle_after['p99_ms']}, gaps over 50 ms: {idle_after['over_50ms']} of {idle_after['ticks']}"
    )
    print(
        f"while indexing: max {indexing['max_ms']} ms, p50 {indexing['p50_ms']}, p95 {indexing['p95_ms']}, "
        f"p99 {indexing['p99_ms']}, gaps over 50 ms: {indexing['over_50ms']} of {indexing['ticks']}"
    )
    print("worst gaps (ms, seconds after Add folder):", indexing["worst_ms_at_s"])
    if args.probe:
        print("GUI thread while indexing:", indexing["gui_thread"], "GC there:", indexing["gc_on_gui_thread"])
        for w in indexing["worst_explained"]:
            print("  ", w)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not win.errors else 1


if __name__ == "__main__":
    sys.exit(main())
