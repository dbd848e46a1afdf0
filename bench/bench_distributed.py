"""Per-step cost of keeping the tag table identical across processes, at 1 and 2 processes (gloo, CPU).

    .venv/bin/python bench/bench_distributed.py [--vocabs 1000,100000,400000] [--batches 16,64,256]

For each tag count and photos per process it replays the trainer's own pieces on a Zipf vocabulary:
``sample_batch`` (3 tags a photo, P=2, K=10), a random gradient for the sampled rows, then
``distributed.exchange_row_grads`` (all-gather of ids + row gradients, sum per row) and the
row-wise Adagrad ``TagTable.step``, plus the per-step ``agree`` all-reduce. At one process the
exchange is a no-op and only the update runs. Also measures the resident memory of a tag table
(weight + Adagrad state + sampler tables) per process. Prints a table; writes bench/out/distributed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer import distributed  # noqa: E402
from trainer.sampling import NegativeSampler, sample_batch  # noqa: E402
from trainer.tag_layer import TagTable  # noqa: E402

OUT = Path(__file__).resolve().parent / "out" / "distributed.json"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(rank: int, world: int, args: argparse.Namespace, port: int, q: object) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dd, dev = distributed.init(torch.device("cpu"))
    rows_out = []
    for v in [int(x) for x in args.vocabs.split(",")]:
        before = rss_mb()
        table = TagTable(torch.zeros((v, args.dim)), frozen=False, lr=0.05)
        freq = np.maximum((1e6 / np.arange(1, v + 1)).astype(np.int64), 1)
        sampler = NegativeSampler(freq, 0.75)
        table.weight.add_(0.01)  # touch every page: resident, not just reserved
        mem_mb = rss_mb() - before
        rng = np.random.default_rng(rank)
        for b in [int(x) for x in args.batches.split(",")]:
            ex_ms, up_ms, agree_ms, sample_ms, n_rows = [], [], [], [], []
            for i in range(args.warmup + args.steps):
                tags = [sampler.draw(rng, 3) for _ in range(b)]
                t = time.perf_counter()
                pos, neg, _ = sample_batch("presampled", (0, 0, i), rank * b, sampler, tags, 2, 10)
                t_s = time.perf_counter() - t
                rows = torch.from_numpy(np.unique(np.concatenate([pos.ravel(), neg.ravel()])))
                grad = torch.randn(len(rows), args.dim)
                distributed.barrier(dd)  # time the exchange, not the other process's lag
                t = time.perf_counter()
                distributed.agree(dd, dev, False)
                t_a = time.perf_counter() - t
                t = time.perf_counter()
                r, g = distributed.exchange_row_grads(dd, rows, grad)
                t_x = time.perf_counter() - t
                t = time.perf_counter()
                table.step(r, g)
                t_u = time.perf_counter() - t
                if i >= args.warmup:
                    ex_ms.append(1e3 * t_x)
                    up_ms.append(1e3 * t_u)
                    agree_ms.append(1e3 * t_a)
                    sample_ms.append(1e3 * t_s)
                    n_rows.append(len(rows))
            u = int(statistics.median(n_rows))
            rows_out.append(
                {
                    "world": world,
                    "vocab": v,
                    "dim": args.dim,
                    "photos_per_process": b,
                    "rows_per_process": u,
                    "exchange_ms": statistics.median(ex_ms),
                    "agree_ms": statistics.median(agree_ms),
                    "update_ms": statistics.median(up_ms),
                    "sampling_ms": statistics.median(sample_ms),
                    "received_bytes": distributed.exchange_bytes(u, args.dim, world),
                    "table_rss_mb": mem_mb,
                }
            )
        del table, sampler, freq
    if dd.main:
        q.put(rows_out)  # type: ignore[attr-defined]
    distributed.teardown(dd)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(world: int, args: argparse.Namespace) -> list[dict]:
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.SimpleQueue()
    port = free_port()
    procs = [ctx.Process(target=measure, args=(r, world, args, port, q)) for r in range(world)]
    for p in procs:
        p.start()
    res = q.get()
    for p in procs:
        p.join()
    return res


def table_bytes(v: int, d: int) -> dict[str, float]:
    """What the trainer allocates per process for V tags (computed)."""
    return {
        "weight_gb": v * d * 4 / 1e9,
        "adagrad_state_gb": v * 4 / 1e9,
        "sampler_gb": v * (8 + 8 + 8) / 1e9,  # cdf float64, freq float64, vocab.freq int64
        "total_gb": (v * d * 4 + v * 4 + v * 24) / 1e9,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vocabs", default="1000,100000,400000")
    p.add_argument("--batches", default="16,64,256", help="photos per process and step")
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--worlds", default="1,2")
    p.add_argument("--json", default=str(OUT))
    args = p.parse_args()
    rows = []
    for w in [int(x) for x in args.worlds.split(",")]:
        rows += run(w, args)
    print(
        f"{'procs':>5} {'tags':>8} {'photos':>6} {'rows':>5} {'exchange':>9} {'agree':>7} {'update':>7} "
        f"{'sample':>7} {'recv KB':>8} {'table MB':>8}"
    )
    for r in rows:
        print(
            f"{r['world']:>5} {r['vocab']:>8} {r['photos_per_process']:>6} {r['rows_per_process']:>5} "
            f"{r['exchange_ms']:>7.3f}ms {r['agree_ms']:>5.3f}ms {r['update_ms']:>5.3f}ms "
            f"{r['sampling_ms']:>5.2f}ms {r['received_bytes'] / 1e3:>8.1f} {r['table_rss_mb']:>8.1f}"
        )
    memory = {str(v): table_bytes(v, args.dim) for v in (400_000, 6_000_000)}
    for v, m in memory.items():
        print(
            f"tag table per process at {int(v):,} tags, d={args.dim} (computed from the allocation): "
            f"{m['weight_gb']:.3f} GB weight + {m['adagrad_state_gb']:.4f} GB Adagrad + "
            f"{m['sampler_gb']:.3f} GB sampler = {m['total_gb']:.2f} GB"
        )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(
        json.dumps({"rows": rows, "memory_computed": memory, "cpu_threads": 1, "backend": "gloo (loopback)"}, indent=2)
    )
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
