"""Search latency (p50/p99), recall@10, build time and file size of the vector index: voyager (the app's
VectorIndex) against hnswlib 0.8 (what the app used before), on the same vectors in the same run.

Clustered synthetic vectors (photo libraries are clustered: many shots of the same scenes), queries
drawn from the same distribution but not in the index. Exact top-10 by brute-force inner product is
the baseline, measured in the same run. Latency is per single query, as a search box issues them, one
thread: for voyager through VectorIndex.search (normalisation and result handling included), for
hnswlib through the same steps as the app's hnswlib-based index did (normalise, set_ef, knn_query,
1 - distance). Both are built with the same parameters (M, ef_construction from the app's defaults),
the same threads and the same growth (capacity doubled from 1024). Wall-clock percentiles include the
shared machine's scheduling; the thread's CPU time per query is reported too. The hnswlib row is left
out, with a message, when hnswlib is not importable (it is no longer a dependency); to measure another
hnswlib build (say the portable wheel the app used to ship), put it first on PYTHONPATH.

    python bench/search_bench.py --n 200000 --dim 128 --out bench/out/search.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from attalos_desktop.core.encoder import unit  # noqa: E402
from attalos_desktop.core.vector_index import (  # noqa: E402
    DEFAULT_EF,
    DEFAULT_EF_CONSTRUCTION,
    DEFAULT_M,
    VectorIndex,
)
from attalos_desktop.core.voyager_file import MIN_CAPACITY  # noqa: E402

LIBRARIES = ("hnswlib", "voyager")


def clustered(rng: np.random.Generator, n: int, dim: int, centers: np.ndarray, spread: float) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for i in range(0, n, step):
        m = min(step, n - i)
        c = centers[rng.integers(0, len(centers), m)]
        out[i : i + m] = unit(c + rng.standard_normal((m, dim), dtype=np.float32) * spread)
    return out


def exact_top(data: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    step = 200_000
    for i in range(0, len(data), step):
        s = queries @ data[i : i + step].T
        part = np.argpartition(-s, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(s, part, axis=1)
        cs = np.concatenate([best_s, ps], axis=1)
        ci = np.concatenate([best_i, part + i], axis=1)
        sel = np.argsort(-cs, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(cs, sel, axis=1), np.take_along_axis(ci, sel, axis=1)
    return best_i


class HnswlibIndex:
    """The app's former hnswlib index, reduced to what the bench measures: build, search, save."""

    def __init__(self, dim: int, threads: int) -> None:
        import hnswlib

        self.dim, self.threads, self.ef = dim, threads, DEFAULT_EF
        self.index = hnswlib.Index(space="ip", dim=dim)
        self.index.init_index(
            max_elements=MIN_CAPACITY, M=DEFAULT_M, ef_construction=DEFAULT_EF_CONSTRUCTION, random_seed=100
        )
        self.index.set_num_threads(threads)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vecs = unit(np.asarray(vectors, dtype=np.float32))
        need, cap = self.index.element_count + len(ids), self.index.get_max_elements()
        if need > cap:
            self.index.resize_index(max(need, cap * 2))
        self.index.add_items(vecs, ids, num_threads=self.threads)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        q = unit(np.asarray(query, dtype=np.float32).reshape(1, self.dim))
        self.index.set_ef(max(self.ef, k))
        labels, dist = self.index.knn_query(q, k=k)
        return labels[0].astype(np.int64), (1.0 - dist[0]).astype(np.float32)

    def save(self, directory: Path) -> int:
        path = directory / "vectors.hnsw"
        self.index.save_index(str(path))
        return path.stat().st_size


def _build(
    library: str, data: np.ndarray, threads: int, directory: Path, cache: Path | None
) -> tuple[Any, float | None, int]:
    """(index, build seconds or None when loaded from the cache, saved index file size in bytes)."""
    n, dim = data.shape
    step = 50_000
    if library == "hnswlib":
        hi = HnswlibIndex(dim, threads)
        t = time.perf_counter()
        for i in range(0, n, step):
            hi.add(np.arange(i + 1, min(n, i + step) + 1), data[i : i + step])
        build_s = time.perf_counter() - t
        hi.index.set_num_threads(1)
        return hi, build_s, hi.save(directory)
    vi = VectorIndex.load(cache, dim, "bench", threads=threads) if cache else None
    built: float | None = None
    if vi is None:
        vi = VectorIndex(cache or directory, dim, "bench", threads=threads)
        t = time.perf_counter()
        for i in range(0, n, step):
            vi.add(np.arange(i + 1, min(n, i + step) + 1), data[i : i + step])
        built = time.perf_counter() - t
        vi.save()
    vi.threads = 1
    meta = VectorIndex.saved_meta(vi.directory) or {}
    return vi, built, int(meta.get("sizes", {}).get("index", 0))


def _measure(
    search: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]], queries: np.ndarray, truth: np.ndarray
) -> dict:
    n_queries = len(queries)
    for q in queries[:50]:  # warm-up
        search(q, 10)
    lat = np.empty(n_queries)
    cpu = np.empty(n_queries)
    found = np.full((n_queries, 10), -1, dtype=np.int64)
    for j, q in enumerate(queries):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        ids, _ = search(q, 10)
        lat[j] = time.perf_counter() - t0
        cpu[j] = time.thread_time() - c0
        found[j, : len(ids)] = ids - 1
    recall = float(np.mean([len(set(found[j]) & set(truth[j])) / 10 for j in range(n_queries)]))
    return {
        "p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 3),
        "p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 3),
        "recall_at_10": round(recall, 4),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)) * 1e3, 3),
        "cpu_p99_ms": round(float(np.percentile(cpu, 99)) * 1e3, 3),
    }


def run(
    n: int,
    dim: int,
    n_queries: int,
    efs: list[int],
    seed: int,
    threads: int,
    libraries: list[str],
    cache: str | None = None,
) -> dict:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(100, n // 1000), dim)).astype(np.float32)
    centers = unit(centers) * 1.0
    data = clustered(rng, n, dim, centers, spread=0.08)
    queries = clustered(rng, n_queries, dim, centers, spread=0.08)
    t = time.perf_counter()
    truth = exact_top(data, queries, 10)
    exact_s = (time.perf_counter() - t) / n_queries
    out: dict[str, Any] = {}
    for library in libraries:
        if library == "hnswlib":
            try:
                import hnswlib
            except ImportError:
                print("  hnswlib is not importable (pip install 'hnswlib==0.8.0' to compare): its row is left out")
                out[library] = {"skipped": "hnswlib is not importable"}
                continue
            # which build: one compiled on this machine uses its vector units (-march=native, e.g. AVX2);
            # the portable one packaging/build.sh used to ship (HNSWLIB_NO_NATIVE=1) uses SSE, as voyager's wheels do
            print(f"  hnswlib from {hnswlib.__file__}")
        with tempfile.TemporaryDirectory() as tmp:
            cached = Path(cache) / f"n{n}-d{dim}-s{seed}-M{DEFAULT_M}-efc{DEFAULT_EF_CONSTRUCTION}" if cache else None
            index, build_s, size = _build(library, data, threads, Path(tmp), cached if library == "voyager" else None)
            rows = []
            for ef in efs:
                index.ef = ef
                rows.append({"ef": ef, **_measure(index.search, queries, truth)})
                r = rows[-1]
                print(
                    f"  {library:8s} n={n:>8} ef={ef:>4}  p50 {r['p50_ms']:7.3f} ms  p99 {r['p99_ms']:7.3f} ms  "
                    f"recall@10 {r['recall_at_10']:.4f}   (CPU time p50 {r['cpu_p50_ms']:.3f} p99 {r['cpu_p99_ms']:.3f} ms)",
                    flush=True,
                )
            out[library] = {
                "module": sys.modules[library].__file__ if library in sys.modules else None,
                "build_s": None if build_s is None else round(build_s, 1),
                "index_file_mb": round(size / 2**20, 1),
                "results": rows,
            }
            print(
                f"  {library:8s} built in {out[library]['build_s']} s (None: loaded from --cache), "
                f"index file {out[library]['index_file_mb']} MB",
                flush=True,
            )
            del index
    return {
        "n": n,
        "dim": dim,
        "M": DEFAULT_M,
        "ef_construction": DEFAULT_EF_CONSTRUCTION,
        "default_ef": DEFAULT_EF,
        "build_threads": threads,
        "exact_ms_per_query": round(exact_s * 1e3, 3),
        "queries": n_queries,
        "libraries": out,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100_000])
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--ef", type=int, nargs="+", default=[20, 40, 80, 160, DEFAULT_EF])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="build threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--libraries", nargs="+", choices=LIBRARIES, default=list(LIBRARIES))
    ap.add_argument("--out", default="bench/out/search.json")
    ap.add_argument("--cache", default=None, help="keep the built voyager index here and reuse it (same seed/params)")
    args = ap.parse_args()
    results = []
    for n in args.n:
        print(f"n={n} dim={args.dim} ...", flush=True)
        r = run(n, args.dim, args.queries, args.ef, args.seed, args.threads, args.libraries, args.cache)
        print(f"  exact search {r['exact_ms_per_query']} ms/query (batched baseline)")
        results.append(r)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
