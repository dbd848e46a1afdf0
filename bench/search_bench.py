"""Search latency (p50/p99) and recall@10 of the library's vector index against exact search.

Clustered synthetic vectors (photo libraries are clustered: many shots of the same scenes), queries
drawn from the same distribution but not in the index. Exact top-10 by brute-force inner product is
the baseline, measured in the same run. Latency is per single query, as a search box issues them,
through VectorIndex.search (normalisation and result handling included), one thread. Wall-clock
percentiles include the shared machine's scheduling; the thread's CPU time per query is reported too.

    python bench/search_bench.py --n 100000 1000000 --dim 128 --out bench/out/search.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from attalos_desktop.core.encoder import unit  # noqa: E402
from attalos_desktop.core.vector_index import DEFAULT_EF, DEFAULT_EF_CONSTRUCTION, DEFAULT_M, VectorIndex  # noqa: E402


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


def run(n: int, dim: int, n_queries: int, efs: list[int], seed: int, threads: int, cache: str | None = None) -> dict:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(100, n // 1000), dim)).astype(np.float32)
    centers = unit(centers) * 1.0
    data = clustered(rng, n, dim, centers, spread=0.08)
    queries = clustered(rng, n_queries, dim, centers, spread=0.08)
    t = time.perf_counter()
    truth = exact_top(data, queries, 10)
    exact_s = (time.perf_counter() - t) / n_queries
    with tempfile.TemporaryDirectory() as tmp:
        cached = Path(cache) / f"n{n}-d{dim}-s{seed}-M{DEFAULT_M}-efc{DEFAULT_EF_CONSTRUCTION}" if cache else None
        vi = VectorIndex.load(cached, dim, "bench", threads=threads) if cached else None
        build_s = None
        if vi is None:
            vi = VectorIndex(cached or Path(tmp), dim, "bench", threads=threads)
            t = time.perf_counter()
            step = 50_000
            for i in range(0, n, step):
                vi.add(np.arange(i + 1, min(n, i + step) + 1), data[i : i + step])
            build_s = round(time.perf_counter() - t, 1)
            if cached:
                vi.save()
        vi.index.set_num_threads(1)
        vi.threads = 1
        rows = []
        for ef in efs:
            vi.ef = ef
            vi.index.set_ef(ef)
            for q in queries[:50]:  # warm-up
                vi.search(q, 10)
            lat = np.empty(n_queries)
            cpu = np.empty(n_queries)
            found = np.empty((n_queries, 10), dtype=np.int64)
            for j, q in enumerate(queries):
                c0 = time.thread_time()
                t0 = time.perf_counter()
                ids, _ = vi.search(q, 10)
                lat[j] = time.perf_counter() - t0
                cpu[j] = time.thread_time() - c0
                found[j, : len(ids)] = ids - 1
            recall = float(np.mean([len(set(found[j]) & set(truth[j])) / 10 for j in range(n_queries)]))
            rows.append(
                {
                    "ef": ef,
                    "p50_ms": round(float(np.percentile(lat, 50)) * 1e3, 3),
                    "p99_ms": round(float(np.percentile(lat, 99)) * 1e3, 3),
                    "recall_at_10": round(recall, 4),
                    "cpu_p50_ms": round(float(np.percentile(cpu, 50)) * 1e3, 3),
                    "cpu_p99_ms": round(float(np.percentile(cpu, 99)) * 1e3, 3),
                }
            )
            print(
                f"  n={n:>8} ef={ef:>4}  p50 {rows[-1]['p50_ms']:7.3f} ms  p99 {rows[-1]['p99_ms']:7.3f} ms  "
                f"recall@10 {recall:.4f}   (CPU time p50 {rows[-1]['cpu_p50_ms']:.3f} p99 {rows[-1]['cpu_p99_ms']:.3f} ms)",
                flush=True,
            )
    return {
        "n": n,
        "dim": dim,
        "M": DEFAULT_M,
        "ef_construction": DEFAULT_EF_CONSTRUCTION,
        "default_ef": DEFAULT_EF,
        "build_s": build_s,
        "exact_ms_per_query": round(exact_s * 1e3, 3),
        "queries": n_queries,
        "results": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100_000])
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--ef", type=int, nargs="+", default=[20, 40, 80, 160])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="build threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/out/search.json")
    ap.add_argument("--cache", default=None, help="keep built indexes here and reuse them (same seed/params)")
    args = ap.parse_args()
    results = []
    for n in args.n:
        print(f"building n={n} dim={args.dim} ...", flush=True)
        r = run(n, args.dim, args.queries, args.ef, args.seed, args.threads, args.cache)
        print(
            f"  built in {r['build_s']} s (None: loaded from --cache); exact search {r['exact_ms_per_query']} ms/query (batched baseline)"
        )
        results.append(r)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
