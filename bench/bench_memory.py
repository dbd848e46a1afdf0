"""Resident memory of `attalos-search` and of the desktop app on a 100k-photo library.

    python bench/bench_memory.py [--photos 100000] [--library DIR] [--json bench/out/memory.json]

The library is built cheaply, without decoding anything: synthetic catalog rows (paths of files
that do not exist: the app shows them as unreadable thumbnails) and random unit vectors, written
through the core's Catalog and VectorIndex APIs with the default model's encoder id and dimension.
A library already at DIR with the right photo count is reused.

Each program runs as its own process and is measured two ways:
- VmHWM, the peak resident set of the process after its exec, polled from /proc/PID/status;
- ru_maxrss of a small wrapper's child (``python -S`` that only spawns and waits). Linux carries the
  parent's RSS at fork into a child's ru_maxrss, which is why the wrapper is small (its own few MB
  are an upper bound on what leaks into the figure) and the bench's own memory never counts.

Programs: ``attalos-search --library L --json WORDS`` (loads the model, the search index, the
catalog rows of the hits) and ``attalos-desktop --library L --screenshot X.png --search WORDS``
offscreen (lists all photos in the grid, searches, selects the first result: the detail panel's
tags and suggestions). Goal: each at most 400 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_MB = 400
WRAPPER = (
    "import json, resource, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "print(p.pid, file=sys.stderr, flush=True)\n"
    "rc = p.wait()\n"
    "ru = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(json.dumps({'rc': rc, 'child_maxrss_kb': ru, 'wrapper_maxrss_kb': me}), file=sys.stderr, flush=True)\n"
)


def build_library(home: Path, n: int, seed: int = 0) -> dict:
    """``n`` catalog rows + unit vectors under one root; returns timings."""
    import numpy as np

    from attalos_desktop.core.catalog import PhotoInfo
    from attalos_desktop.core.library import Library
    from attalos_desktop.core.vector_index import VectorIndex

    t0 = time.perf_counter()
    folder = home.parent / f"{home.name}-photos"
    folder.mkdir(parents=True, exist_ok=True)
    lib = Library.open(home=str(home))
    try:
        b = lib.bundle
        root = lib.add_roots([str(folder)])[0]
        cat = lib.catalog
        rng = np.random.default_rng(seed)
        ids: list[int] = []
        chunk = 5000
        vi = VectorIndex(lib.paths.index_dir, b.dim, b.encoder_id)
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            vecs = rng.standard_normal((m, b.dim)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            got = []
            with cat.transaction():
                for k in range(m):
                    i = start + k
                    path = str(folder / f"{i // 1000:03d}" / f"IMG_{i:06d}.jpg")
                    info = PhotoInfo(
                        width=4000,
                        height=3000,
                        taken=f"2024-01-{1 + i % 28:02d}T12:00:00",
                        camera="Synthetic",
                        format="JPEG",
                    )
                    pid = cat.upsert_photo(
                        path, root.id, 3_000_000 + i, 1_700_000_000_000_000_000 + i, f"{i:016x}", info
                    )
                    cat.put_vector(pid, b.encoder_id, vecs[k])
                    got.append(pid)
            vi.add(np.asarray(got, dtype=np.int64), vecs)
            ids += got
        built = time.perf_counter()
        vi.save()
    finally:
        lib.close()
    return {"photos": len(ids), "build_s": round(built - t0, 1), "save_s": round(time.perf_counter() - built, 1)}


def library_count(home: Path) -> int:
    import sqlite3

    from attalos_desktop.core.paths import resolve_paths

    for c in [resolve_paths(str(home)).catalog]:
        try:
            con = sqlite3.connect(f"file:{c}?mode=ro", uri=True)
            try:
                return int(con.execute("SELECT count(*) FROM photos").fetchone()[0])
            finally:
                con.close()
        except sqlite3.Error:
            continue
    return 0


def _status_kb(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])
    except (OSError, ValueError):
        pass
    return out


def measure(cmd: list[str], env: dict[str, str], timeout: float = 900) -> dict:
    """Run ``cmd`` under the wrapper; poll the target's VmHWM; returns MB figures and the exit code."""
    t0 = time.perf_counter()
    w = subprocess.Popen([sys.executable, "-S", "-c", WRAPPER, *cmd], env=env, stderr=subprocess.PIPE, text=True)
    assert w.stderr is not None
    pid = int(w.stderr.readline().strip())
    hwm = rss = 0
    while w.poll() is None and time.perf_counter() - t0 < timeout:
        s = _status_kb(pid)
        hwm = max(hwm, s.get("VmHWM", 0))
        rss = max(rss, s.get("VmRSS", 0))
        time.sleep(0.02)
    if w.poll() is None:
        w.kill()
    rest = w.stderr.read().strip().splitlines()
    w.wait()
    info = json.loads(rest[-1]) if rest and rest[-1].startswith("{") else {"rc": None}
    return {
        "cmd": " ".join(Path(cmd[0]).name if i == 0 else c for i, c in enumerate(cmd)),
        "rc": info.get("rc"),
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb_vmhwm": round(hwm / 1024, 1),
        "peak_rss_mb_ru_maxrss": round(info.get("child_maxrss_kb", 0) / 1024, 1),
        "wrapper_rss_mb": round(info.get("wrapper_maxrss_kb", 0) / 1024, 1),
        "within_goal": bool(hwm and hwm / 1024 <= GOAL_MB),
        "stderr_tail": rest[:-1][-5:],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--library", help="library folder (built there unless it already holds --photos photos)")
    ap.add_argument("--query", default="dog on a beach")
    ap.add_argument("--skip-gui", action="store_true")
    ap.add_argument("--json", default="bench/out/memory.json")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="attalos-bench-mem-"))
    home = Path(args.library) if args.library else tmp / "library"
    env = dict(os.environ)
    env.update(
        ATTALOS_CONFIG_DIR=str(tmp / "config"),
        ATTALOS_CACHE_DIR=str(tmp / "cache"),
        QT_QPA_PLATFORM="offscreen",
        ATTALOS_GUI_NO_POPUPS="1",
    )
    result: dict = {"photos": args.photos, "goal_mb": GOAL_MB}
    have = library_count(home) if home.exists() else 0
    if have != args.photos:
        if home.exists():
            shutil.rmtree(home)
        print(f"building a {args.photos:,}-photo library in {home} …", flush=True)
        result["build"] = build_library(home, args.photos)
        print(f"  built: {result['build']}", flush=True)
    else:
        result["build"] = {"reused": str(home)}

    bindir = Path(sys.executable).parent
    search = shutil.which("attalos-search", path=str(bindir)) or "attalos-search"
    runs = {"attalos-search": measure([search, "--library", str(home), "--json", *args.query.split()], env)}
    if not args.skip_gui:
        desktop = shutil.which("attalos-desktop", path=str(bindir)) or "attalos-desktop"
        shot = tmp / "shot.png"
        runs["attalos-desktop"] = measure(
            [desktop, "--library", str(home), "--screenshot", str(shot), "--search", args.query, "--timeout", "300"],
            env,
        )
    result["runs"] = runs
    for name, r in runs.items():
        verdict = "within" if r["within_goal"] else "OVER"
        print(
            f"{name:16s} peak RSS {r['peak_rss_mb_vmhwm']:7.1f} MB (VmHWM)  {r['peak_rss_mb_ru_maxrss']:7.1f} MB (ru_maxrss, "
            f"wrapper {r['wrapper_rss_mb']} MB)  {r['seconds']} s  rc={r['rc']}  {verdict} the {GOAL_MB} MB goal"
        )
        for line in r["stderr_tail"]:
            print(f"    {line}")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    if not args.library:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(r["rc"] == 0 for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
