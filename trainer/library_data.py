"""A fine-tuning dataset from a photo library: the user's own words on the user's own photos.

``read_tags`` collects what the catalog knows of the user's words: every photo with user tags (typed,
accepted, or keywords read from the file) and the tags the user rejected. ``split_words`` decides
which words can be trained and holds out a share of the photos, by photo, for evaluation.
``read_vectors`` then brings each photo's raw embedding from the catalog (made by the base bundle's
encoder); a photo without one is decoded from its file and embedded here (nothing is written back),
plus a sample of untagged photos as background.

Nothing here changes the library: the catalog is only read, photos are only read.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from attalos_desktop.core.bundle import BundleError, ModelBundle, load_bundle

from .errors import TrainError

Progress = Callable[[str, int, int], None]  # (phase, done, total)
EMBED_BATCH = 16


@dataclass
class LibraryData:
    """The user-tagged photos of a library with their embeddings, and a background sample."""

    home: Path
    ids: np.ndarray  # int64 [N] photo ids of the user-tagged (or user-rejected) photos
    paths: list[str]
    tags: list[set[str]]  # the user's words on each photo
    rejected: list[set[str]]  # words the user rejected on each photo
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # [N, d] raw embeddings
    background_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # untagged photos sampled
    background: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # [B, d]
    user_tagged_photos: int = 0  # photos with at least one user tag (before anything is dropped)
    embedded_now: int = 0  # photos without a stored vector for this encoder, embedded from their files
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason) of photos skipped


@dataclass
class Split:
    """Trainable words and the photos (indices into LibraryData) that train and evaluate them."""

    words: list[str]  # trainable words, most frequent first
    counts: dict[str, int]  # photos per trainable word (train + held out)
    train: np.ndarray  # indices of training photos (a user word or a rejection of one)
    held_out: np.ndarray  # indices of evaluation photos (each carries a trainable word)
    dropped_words: dict[str, int]  # words on fewer photos than --min-photos


def open_library_bundle(home: Path, init: str | None) -> tuple[ModelBundle, str]:
    """The bundle to start from: ``--init BUNDLE_DIR`` when given, else the library's current one
    (the one it remembers, else the app's default: the rule of ``Library``, read without writing)."""
    from attalos_desktop.core.bundle import default_bundle_path

    spec = init
    if not spec:
        try:
            with _catalog(home) as db:
                row = db.execute("SELECT value FROM meta WHERE key='model_path'").fetchone()
        except sqlite3.Error as exc:
            raise TrainError(f"the catalog of {home} cannot be read: {exc}") from exc
        spec = row[0] if row and row[0] and Path(row[0]).is_dir() else None
    try:
        path = Path(spec) if spec else default_bundle_path()
        return load_bundle(path), str(path)
    except BundleError as exc:
        raise TrainError(f"--init {init}: {exc}" if init else f"the library's model: {exc}") from exc


def check_library(home: Path) -> None:
    if not home.is_dir():
        raise TrainError(f"library {home} does not exist (index photos into it first with attalos-index or the app)")
    if not (home / "catalog.sqlite3").is_file():
        raise TrainError(f"{home} is not a photo library (it has no catalog.sqlite3)")


def read_tags(home: Path) -> LibraryData:
    """The user's words and rejections per photo (cheap: no vectors yet). Read-only."""
    check_library(home)
    try:
        with _catalog(home) as db:
            tags: dict[int, set[str]] = {}
            for pid, tag in db.execute("SELECT photo_id, tag FROM user_tags"):
                tags.setdefault(int(pid), set()).add(str(tag))
            rejected: dict[int, set[str]] = {}
            for pid, tag in db.execute("SELECT photo_id, tag FROM rejected_tags"):
                rejected.setdefault(int(pid), set()).add(str(tag))
            n_tagged = len(tags)
            user_words = {t for ts in tags.values() for t in ts}
            # A rejection of a user word makes a photo an informative negative even without a tag of its own.
            for pid, rs in rejected.items():
                if rs & user_words:
                    tags.setdefault(pid, set())
            ids = sorted(tags)
            paths: dict[int, str] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                q = ",".join("?" * len(chunk))
                for pid, path in db.execute(f"SELECT id, path FROM photos WHERE id IN ({q})", chunk):
                    paths[int(pid)] = os.fsdecode(bytes(path))
    except sqlite3.Error as exc:
        raise TrainError(f"the catalog of {home} cannot be read: {exc}") from exc
    keep = [i for i in ids if i in paths]
    return LibraryData(
        home=home,
        ids=np.array(keep, dtype=np.int64),
        paths=[paths[i] for i in keep],
        tags=[tags[i] for i in keep],
        rejected=[rejected.get(i, set()) for i in keep],
        user_tagged_photos=n_tagged,
    )


class _catalog:
    """A read-only connection to the library's catalog (the app may be using it at the same time)."""

    def __init__(self, home: Path) -> None:
        self.path = home / "catalog.sqlite3"

    def __enter__(self) -> sqlite3.Connection:
        self.db = sqlite3.connect(f"{self.path.absolute().as_uri()}?mode=ro", uri=True, timeout=30.0)
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


def read_vectors(
    data: LibraryData,
    rows: np.ndarray,
    bundle: ModelBundle,
    *,
    background: int,
    seed: int,
    progress: Progress | None = None,
) -> np.ndarray:
    """Fill ``data.vectors`` for ``rows`` (stored ones, else decoded and embedded from the file) and the
    background sample; returns the rows that have a vector (unreadable photos are left out). Read-only."""
    progress = progress or (lambda phase, done, total: None)
    enc_id = bundle.encoder_id
    data.vectors = np.zeros((len(data.ids), bundle.dim), dtype=np.float32)
    have = np.zeros(len(data.ids), dtype=bool)
    row_of = {int(data.ids[r]): int(r) for r in rows}
    try:
        with _catalog(data.home) as db:
            for chunk_ids, vecs in _iter_vectors(db, enc_id, list(row_of), bundle.dim):
                for pid, v in zip(chunk_ids, vecs):
                    data.vectors[row_of[pid]] = v
                    have[row_of[pid]] = True
            missing = [r for r in rows if not have[r]]
            progress("reading", len(rows) - len(missing), len(rows))
            if missing:
                _embed_files(data, bundle, missing, have, len(rows), progress)
            # Background: photos the user has not tagged, with a stored vector of this encoder.
            all_ids = np.array(
                [r[0] for r in db.execute("SELECT photo_id FROM vectors WHERE encoder_id=?", (enc_id,))], dtype=np.int64
            )
            pool = np.setdiff1d(all_ids, data.ids)
            rng = np.random.default_rng([seed, 7])
            pick = np.sort(rng.choice(pool, size=min(background, len(pool)), replace=False)) if len(pool) else pool
            bg_ids: list[int] = []
            bg_vecs = [np.zeros((0, bundle.dim), np.float32)]
            for chunk_ids, vecs in _iter_vectors(db, enc_id, pick.tolist(), bundle.dim):
                bg_ids.extend(chunk_ids)
                bg_vecs.append(vecs)
    except sqlite3.Error as exc:
        raise TrainError(f"the catalog of {data.home} cannot be read: {exc}") from exc
    data.background_ids = np.array(bg_ids, dtype=np.int64)
    data.background = np.concatenate(bg_vecs).astype(np.float32)
    data.embedded_now = len(missing) - len(data.unreadable)
    progress("reading", len(rows), len(rows))
    return np.array([r for r in rows if have[r]], dtype=np.int64)


def _iter_vectors(db: sqlite3.Connection, enc_id: str, ids: list[int], dim: int):
    """(ids, vectors) in chunks; a damaged vector (wrong length, NaN) counts as none (as the catalog does)."""
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        got = [
            (int(pid), np.frombuffer(blob, dtype=np.float32))
            for pid, blob in db.execute(
                f"SELECT photo_id, vec FROM vectors WHERE encoder_id=? AND photo_id IN ({','.join('?' * len(part))})",
                (enc_id, *part),
            )
            if len(blob) == 4 * dim
        ]
        got = [(pid, v) for pid, v in got if np.isfinite(v).all()]
        if got:
            yield [pid for pid, _ in got], np.stack([v for _, v in got])


def _embed_files(
    data: LibraryData, bundle: ModelBundle, rows: list[int], have: np.ndarray, total: int, progress: Progress
) -> None:
    """Decode and embed photos without a stored vector for this encoder (nothing is written back)."""
    from attalos_desktop.core.encoder import ImageEncoder
    from attalos_desktop.core.imageio import ImageError, decode_for_model

    encoder = ImageEncoder(bundle, providers=["CPUExecutionProvider"], threads=max(1, min(4, os.cpu_count() or 1)))
    batch: list[tuple[int, np.ndarray]] = []
    done = total - len(rows)

    def flush() -> None:
        if batch:
            emb = encoder.embed(np.stack([t for _, t in batch]))
            for (r, _), e in zip(batch, emb):
                data.vectors[r] = e
                have[r] = True
            batch.clear()

    for r in rows:
        path = data.paths[r]
        try:
            batch.append((r, decode_for_model(path, bundle.preprocessing).tensor))
        except ImageError as exc:
            data.unreadable.append((path, exc.reason))
        except OSError as exc:
            data.unreadable.append((path, exc.strerror or str(exc)))
        if len(batch) >= EMBED_BATCH:
            flush()
        done += 1
        progress("reading", done, total)
    flush()


def split_words(data: LibraryData, *, min_photos: int, hold_out: float, seed: int) -> Split:
    """Trainable words (on >= min_photos photos) and a seeded hold-out of photos.

    Each trainable word gets about ``hold_out`` of its photos held out (at least one when it has
    two or more photos and ``hold_out`` > 0) and always keeps at least one training photo. A photo
    is held out whole, with all its words: evaluation never sees a photo training saw.
    Raises TrainError (the command's one-line message) when there is nothing to train.
    """
    counts: dict[str, int] = {}
    for ts in data.tags:
        for t in ts:
            counts[t] = counts.get(t, 0) + 1
    words = sorted((w for w, c in counts.items() if c >= min_photos), key=lambda w: (-counts[w], w))
    dropped = {w: c for w, c in counts.items() if c < min_photos}
    n_tagged = data.user_tagged_photos
    if not words:
        raise TrainError(
            f"the library has {n_tagged} user-tagged photo{'' if n_tagged == 1 else 's'} and no word on at least "
            f"{min_photos} of them; training needs a word tagged on at least {min_photos} photos "
            f"(tag more photos, then run again)"
        )
    wset = set(words)
    useful = [i for i in range(len(data.tags)) if (data.tags[i] & wset) or (data.rejected[i] & wset)]
    tagged = [i for i in useful if data.tags[i] & wset]
    quota = {w: min(counts[w] - 1, int(hold_out * counts[w] + 0.5)) if hold_out > 0 else 0 for w in words}
    taken = dict.fromkeys(words, 0)
    order = np.random.default_rng([seed, 3]).permutation(len(tagged))
    held: list[int] = []
    for j in order:
        i = tagged[int(j)]
        ws = data.tags[i] & wset
        if any(taken[w] < quota[w] for w in ws) and all(counts[w] - taken[w] >= 2 for w in ws):
            held.append(i)
            for w in ws:
                taken[w] += 1
    held_set = set(held)
    train = [i for i in useful if i not in held_set]
    return Split(
        words=words,
        counts={w: counts[w] for w in words},
        train=np.array(train, dtype=np.int64),
        held_out=np.array(sorted(held), dtype=np.int64),
        dropped_words=dropped,
    )
