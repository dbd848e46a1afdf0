"""Benchmark: does a training step cost the same with 1k or 6M tags? (a script, not a test)

Times the trainer's own ``train_step`` (tower forward/backward + sampling + gathering the sampled
rows of the CPU tag table + sparse row-wise Adagrad update) at vocabularies of 1k, 100k, 1M and 6M
tags (d=256), with Zipf-distributed tag frequencies, and prints each size's median step time and
its ratio to the 1k baseline measured in the same run (absolute times on a shared machine are
noise; the ratio is the figure). Also reports the tag-layer part alone (everything but the tower),
where any dependence on V would show most clearly, and the resident memory.

The 6M x 256 float32 table is 6.1 GB; it is filled a chunk at a time (no second copy), and the
optimiser state is one float per row (24 MB), so the whole run stays well within 24 GB.

    python bench/bench_vocab_scale.py [--sizes 1000,100000,1000000,6000000] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.model import build_tower  # noqa: E402
from trainer.sampling import NegativeSampler, batch_negatives, sample_batch, sample_positives  # noqa: E402
from trainer.tag_layer import TagTable  # noqa: E402
from trainer.train import train_step  # noqa: E402


def rss_gb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1e6
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def unit_rows(seed: int, d: int):  # noqa: ANN201 - a fill callback
    def fill(start: int, stop: int) -> np.ndarray:
        rng = np.random.default_rng([seed, start])
        x = rng.standard_normal((stop - start, d), dtype=np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        return x

    return fill


def bench_size(v: int, args: argparse.Namespace, tower: torch.nn.Module, images: torch.Tensor) -> dict[str, float]:
    t0 = time.perf_counter()
    table = TagTable.from_numpy_chunks(v, args.dim, unit_rows(1, args.dim), frozen=False, lr=0.05)
    build_s = time.perf_counter() - t0
    freq = np.maximum((1e6 / np.arange(1, v + 1)).astype(np.int64), 1)  # Zipf
    sampler = NegativeSampler(freq, 0.75)
    opt = torch.optim.AdamW(tower.parameters(), lr=1e-4)
    rng = np.random.default_rng(0)
    device = torch.device("cpu")
    pool = sampler.pool(rng, args.batch * args.steps * 2, args.negatives) if args.strategy == "presampled" else None
    full, tag_only = [], []
    for i in range(args.warmup + args.steps):
        tags = [sampler.draw(rng, 3) for _ in range(args.batch)]  # 3 tags a photo, frequent ones most often
        rows = pool[i * args.batch : (i + 1) * args.batch] if pool is not None else None
        t = time.perf_counter()
        pos, neg, valid = sample_batch(args.strategy, (0, 0, i), 0, sampler, tags, args.positives, args.negatives)
        train_step(tower, table, opt, None, images, pos, neg, valid, device)
        dt = time.perf_counter() - t
        # The tag-layer part alone: sampling, gather, loss against a fixed embedding, sparse update.
        t = time.perf_counter()
        pos = sample_positives(rng, tags, args.positives)
        neg, valid = batch_negatives(args.strategy, rng, sampler, tags, args.negatives, rows)
        uniq, inv = np.unique(np.concatenate([pos.ravel(), neg.ravel()]), return_inverse=True)
        rows_t = torch.from_numpy(uniq)
        w = table.gather(rows_t, device)
        emb = torch.randn(args.batch, args.dim)
        s = (emb[:, None, :] * w[torch.from_numpy(inv[: pos.size].reshape(pos.shape))]).sum(-1)
        s.sum().backward()
        table.step(rows_t, w.grad)
        dt_tag = time.perf_counter() - t
        if i >= args.warmup:
            full.append(dt)
            tag_only.append(dt_tag)
    out = {
        "vocab": v,
        "step_ms": 1e3 * statistics.median(full),
        "tag_layer_ms": 1e3 * statistics.median(tag_only),
        "build_s": build_s,
        "rss_gb": rss_gb(),
        "table_gb": v * args.dim * 4 / 1e9,
    }
    del table, sampler, freq, pool
    gc.collect()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,100000,1000000,6000000")
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--backbone", default="mobilenet_v3_small")
    p.add_argument("--positives", type=int, default=2)
    p.add_argument("--negatives", type=int, default=10)
    p.add_argument("--strategy", default="presampled", choices=("presampled", "next-image"))
    p.add_argument("--steps", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    tower = build_tower(args.backbone, args.dim).train()
    images = torch.randn(args.batch, 3, args.image_size, args.image_size)
    results = []
    for v in (int(x) for x in args.sizes.split(",")):
        r = bench_size(v, args, tower, images)
        results.append(r)
        base = results[0]
        print(
            f"V={v:>9,}  step {r['step_ms']:7.1f} ms (x{r['step_ms'] / base['step_ms']:.2f})  "
            f"tag layer {r['tag_layer_ms']:6.2f} ms (x{r['tag_layer_ms'] / base['tag_layer_ms']:.2f})  "
            f"table {r['table_gb']:.2f} GB built in {r['build_s']:.1f} s  RSS {r['rss_gb']:.2f} GB",
            flush=True,
        )
    base = results[0]
    for r in results:
        r["step_ratio"] = r["step_ms"] / base["step_ms"]
        r["tag_layer_ratio"] = r["tag_layer_ms"] / base["tag_layer_ms"]
    print(
        f"ratio {results[0]['vocab']:,} -> {results[-1]['vocab']:,}: full step x{results[-1]['step_ratio']:.2f} "
        f"(goal <= 1.2), tag layer alone x{results[-1]['tag_layer_ratio']:.2f}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"settings": vars(args), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
