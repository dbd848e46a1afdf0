"""Decode ahead, embed in batches: the indexing pipeline.

Decoding (file I/O, libjpeg, resampling: all release the GIL) runs in a thread pool that keeps a few
batches ahead of the consumer, while the consumer thread runs batched ONNX Runtime inference (which
also releases the GIL). So the two overlap, as in rclip, and neither waits for the other on 2 cores.
Threads rather than processes: nothing large crosses a process boundary, startup is instant, and a
SIGKILL leaves no orphaned workers. A file that fails to decode comes back with its reason and never
stops the run.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from .bundle import Preprocessing
from .encoder import ImageEncoder
from .imageio import Decoded, ImageError, decode_for_model, ensure_regular_file, file_hash
from .metadata import Metadata, clean_keywords, keywords_from_image, read_exif
from .sidecars import keywords_from_sidecar
from .thumbnails import ThumbnailCache

DEFAULT_BATCH = 32
PREFETCH_BATCHES = 2


@dataclass
class Job:
    """One file to (re)embed."""

    path: str
    size: int
    mtime_ns: int
    root_id: int | None
    photo_id: int | None = None  # set when the photo is already in the catalog (changed / re-embed)
    kind: str = "new"  # "new" or "changed"
    hash: str | None = None


@dataclass
class Done:
    """A job's outcome: decoded input + metadata, or the reason it failed."""

    job: Job
    decoded: Decoded | None = None
    meta: Metadata | None = None
    keywords: list[str] = field(default_factory=list)
    hash: str | None = None
    error: str | None = None


def default_workers() -> int:
    """Decoding threads: one more than the cores (at most 8). The encoder's threads leave a core idle
    between batches and while a batch is handed over; a spare decoder fills it. 12-MP camera JPEGs on 2
    cores (bench/index_bench.py, 8 alternating runs): 3 threads 61.9 photos/s, 2 threads 58.3; 3 won all 8."""
    if hasattr(os, "sched_getaffinity"):  # not on Windows or macOS
        n = len(os.sched_getaffinity(0))
    else:
        n = os.cpu_count() or 1
    return max(2, min(8, n + 1))


@dataclass(frozen=True)
class ThumbnailTarget:
    """Where the indexer leaves the grid's thumbnails it can make from pixels it decoded anyway."""

    cache: ThumbnailCache
    size: int


def prepare(job: Job, pre: Preprocessing, thumbnails: ThumbnailTarget | None = None) -> Done:
    """Everything per file that does not need the model: metadata, keywords, hash, input tensor (and
    the thumbnail, when asked and the decoded pixels are big enough)."""
    try:
        ensure_regular_file(job.path)  # before anything opens it: a FIFO would block the reader forever
        meta = read_exif(job.path)
        dec = decode_for_model(
            job.path, pre, inspect=keywords_from_image, thumbnail_size=thumbnails.size if thumbnails else None
        )
        if dec.thumbnail is not None and thumbnails is not None:
            try:
                thumbnails.cache.store(job.path, thumbnails.size, dec.thumbnail)
            except OSError:
                pass  # derived data: the window makes it itself when it shows the photo
            dec.thumbnail = None  # not kept while the batch waits for the model
        keywords = clean_keywords(list(dec.extra or []) + keywords_from_sidecar(job.path))
        h = job.hash or file_hash(job.path)
        return Done(job, dec, meta, keywords, h)
    except ImageError as exc:
        return Done(job, error=exc.reason)
    except MemoryError:
        return Done(job, error="not enough memory to decode this image")
    except OSError as exc:
        return Done(job, error=f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - one odd file must never stop the run
        return Done(job, error=f"cannot decode image: {type(exc).__name__}: {exc}")


def run_pipeline(
    jobs: Iterable[Job],
    encoder: ImageEncoder,
    *,
    workers: int | None = None,
    batch_size: int = DEFAULT_BATCH,
    cancel: threading.Event | None = None,
    thumbnails: ThumbnailTarget | None = None,
) -> Iterator[tuple[list[Done], np.ndarray, list[Done]]]:
    """Yield (decoded items, their raw embeddings [n,d], failed items) batch by batch, in job order.

    After ``cancel`` is set, what is already decoded is embedded and yielded, then it stops.
    ``thumbnails``: also leave each photo's thumbnail in that cache (made from the same decode).
    """
    pre = encoder.bundle.preprocessing
    it = iter(jobs)
    window = batch_size * (PREFETCH_BATCHES + 1)
    pending: deque[Future[Done]] = deque()
    ex = ThreadPoolExecutor(max_workers=workers or default_workers(), thread_name_prefix="attalos-decode")

    def fill() -> None:
        while len(pending) < window and not (cancel is not None and cancel.is_set()):
            job = next(it, None)
            if job is None:
                return
            pending.append(ex.submit(prepare, job, pre, thumbnails))

    ok: list[Done] = []
    failed: list[Done] = []
    try:
        fill()
        while pending and not (cancel is not None and cancel.is_set()):
            done = pending.popleft().result()
            fill()
            (failed if done.error else ok).append(done)
            if len(ok) >= batch_size:
                yield _finite(ok, _embed(encoder, ok), failed)
                ok, failed = [], []
        if ok or failed:
            yield _finite(ok, _embed(encoder, ok), failed)
    finally:
        for f in pending:
            f.cancel()
        ex.shutdown(wait=True, cancel_futures=True)


def _finite(ok: list[Done], emb: np.ndarray, failed: list[Done]) -> tuple[list[Done], np.ndarray, list[Done]]:
    """A non-finite embedding is never stored: that photo is recorded as failed instead."""
    good = np.isfinite(emb).all(axis=1) if len(emb) else np.ones(0, dtype=bool)
    if good.all():
        return ok, emb, failed
    for d, g in zip(ok, good):
        if not g:
            d.error = "the model produced an unusable (non-finite) vector for this image"
            failed.append(d)
    return [d for d, g in zip(ok, good) if g], emb[good], failed


def _embed(encoder: ImageEncoder, items: list[Done]) -> np.ndarray:
    if not items:
        return np.zeros((0, encoder.bundle.dim), dtype=np.float32)
    batch = np.stack([d.decoded.tensor for d in items])  # type: ignore[union-attr]
    return encoder.embed(batch)
