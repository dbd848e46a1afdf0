"""Positive and negative tag sampling (word2vec style), written for vocabularies of millions.

Negatives follow freq^power (0.75 by default). Drawing uses a cumulative table and binary search
(O(log V) per draw, no O(V) work per step), so a 6M-tag vocabulary costs what a 1k one does.
Two strategies:
- ``next-image`` (I): a photo's negatives come from the labels of the next photo in the batch
  (walking on while those are all its own tags); each of those labels is drawn with weight
  freq^(power-1), so that over the data the negatives follow freq^power.
- ``presampled`` (II): freq^power draws made ahead, independent of the batch (the trainer draws each
  photo's row of that pool from its keyed uniforms: ``sample_batch``).
A negative is never one of the photo's own tags: collisions are redrawn (rejection sampling, then an
exact draw without the own tags); only when every tag is the photo's own is the draw masked out.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

STRATEGIES = ("next-image", "presampled")
_REDRAWS = 20


class NegativeSampler:
    """Draws negatives from freq^power with binary search over a cumulative table."""

    def __init__(self, freq: np.ndarray, power: float) -> None:
        w = np.asarray(freq, dtype=np.float64) ** power
        if not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("tag frequencies must be positive")
        self.cdf = np.cumsum(w)
        self.cdf /= self.cdf[-1]
        self.freq = np.asarray(freq, dtype=np.float64)
        self.power = power

    def draw(self, rng: np.random.Generator, n: int | tuple[int, ...]) -> np.ndarray:
        u = rng.random(n)
        return np.minimum(np.searchsorted(self.cdf, u, side="right"), len(self.cdf) - 1).astype(np.int64)

    def inverse_cdf(self, u: np.ndarray) -> np.ndarray:
        """Tag ids for uniforms ``u`` (any shape): the draws ``draw`` makes, from given randomness."""
        return np.minimum(np.searchsorted(self.cdf, u, side="right"), len(self.cdf) - 1).astype(np.int64)

    def pool(self, rng: np.random.Generator, n_images: int, k: int) -> np.ndarray:
        """Strategy II: the epoch's pool, [n_images, k]."""
        return self.draw(rng, (n_images, k))


def sample_positives(rng: np.random.Generator, tags: Sequence[np.ndarray], p: int) -> np.ndarray:
    """[B, p] tag ids drawn uniformly (with replacement) from each photo's own tags."""
    out = np.empty((len(tags), p), dtype=np.int64)
    for i, t in enumerate(tags):
        out[i] = t[rng.integers(0, len(t), size=p)]
    return out


def _own_mask(neg: np.ndarray, tags: Sequence[np.ndarray]) -> np.ndarray:
    """[B, K] true where a draw is one of the photo's own tags (one vectorised comparison)."""
    if not len(tags):
        return np.zeros_like(neg, bool)
    pad = np.full((len(tags), max(1, max(len(t) for t in tags))), -1, dtype=np.int64)
    for i, t in enumerate(tags):
        pad[i, : len(t)] = t
    return (neg[:, :, None] == pad[:, None, :]).any(axis=2)


def fix_collisions(
    rng: np.random.Generator, sampler: NegativeSampler, neg: np.ndarray, tags: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Redraw negatives that are the photo's own tags; returns (negatives, valid mask)."""
    bad = _own_mask(neg, tags)
    for _ in range(_REDRAWS):
        if not bad.any():
            break
        neg[bad] = sampler.draw(rng, int(bad.sum()))
        bad = _own_mask(neg, tags)
    # Photos whose own tags hold most of the mass: draw exactly from the distribution without them
    # (O(V), but only for these rare rows).
    for i in np.flatnonzero(bad.any(axis=1)):
        w = np.diff(sampler.cdf, prepend=0.0)
        w[tags[i]] = 0.0
        if w.sum() <= 0:
            continue  # every tag is the photo's own: stays masked
        cols = np.flatnonzero(bad[i])
        neg[i, cols] = rng.choice(len(w), size=len(cols), p=w / w.sum())
        bad[i, cols] = False
    return neg, ~bad


def next_image_negatives(
    rng: np.random.Generator, sampler: NegativeSampler, tags: Sequence[np.ndarray], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Strategy I: [B, k] negatives from the next photos' labels, weighted by freq^(power-1)."""
    b = len(tags)
    neg = np.zeros((b, k), dtype=np.int64)
    valid = np.zeros((b, k), dtype=bool)
    for i in range(b):
        cand = next_foreign_tags(tags, i)
        if cand is not None:
            w = sampler.freq[cand] ** (sampler.power - 1.0)
            neg[i] = cand[rng.choice(len(cand), size=k, p=w / w.sum())]
            valid[i] = True
        else:
            # No other photo in the batch offers a foreign tag: fall back to the distribution.
            neg[i] = sampler.draw(rng, k)
            neg[i : i + 1], valid[i : i + 1] = fix_collisions(rng, sampler, neg[i : i + 1], [tags[i]])
    return neg, valid


def next_foreign_tags(tags: Sequence[np.ndarray], i: int) -> np.ndarray | None:
    """Strategy I's candidates for photo i: the tags of the next photo (cyclically) that has any tag
    photo i lacks, less photo i's own; None when no other photo in the batch has one."""
    own = tags[i]
    for step in range(1, len(tags)):
        cand = tags[(i + step) % len(tags)]
        cand = np.unique(cand[~np.isin(cand, own)])
        if len(cand):
            return cand
    return None


def batch_negatives(
    strategy: str,
    rng: np.random.Generator,
    sampler: NegativeSampler,
    tags: Sequence[np.ndarray],
    k: int,
    pool_rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Negatives [B, k] and their validity mask for one batch."""
    if strategy == "next-image":
        return next_image_negatives(rng, sampler, tags, k)
    if strategy == "presampled":
        if pool_rows is None:
            raise ValueError("the presampled strategy needs the epoch's pool rows")
        return fix_collisions(rng, sampler, pool_rows.copy(), tags)
    raise ValueError(f"unknown negative strategy {strategy!r}")


# --- Keyed draws: the same photos get the same draws whatever the number of processes -------------
#
# Under data-parallel training the global batch is split between processes, each sampling for its own
# photos only. For a run on N processes to equal the run on one, photo j of a step's global batch must get
# the same draws wherever it is processed: its uniforms are row j of the step's [B, m] matrix, read
# from a PCG64 stream keyed by (seed, epoch, step) and advanced to row j (O(1), no draws wasted).


def step_uniforms(key: Sequence[int], first: int, n: int, m: int) -> np.ndarray:
    """Rows ``first .. first+n`` of the step's uniform matrix [B, m] (float64 in [0, 1))."""
    bg = np.random.PCG64(np.random.SeedSequence([int(x) for x in key]))
    bg.advance(int(first) * int(m))  # one 64-bit output per double
    return np.random.Generator(bg).random((n, m))


def _redraw_rng(key: Sequence[int], position: int) -> np.random.Generator:
    """The rare extra draws of one photo (collisions, fallbacks), keyed by its batch position."""
    return np.random.default_rng([int(x) for x in key] + [2, int(position)])


def sample_batch(
    strategy: str,
    key: Sequence[int],
    first: int,
    sampler: NegativeSampler,
    tags: Sequence[np.ndarray],
    p: int,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positives [B,p], negatives [B,k] and their validity for photos ``first ..`` of a step's global batch.

    ``presampled``: the negatives are freq^power draws (the pool of strategy II, drawn per photo);
    ``next-image``: from the labels of the next photos of this process's part of the batch.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown negative strategy {strategy!r}")
    b = len(tags)
    u = step_uniforms(key, first, b, p + k)
    lengths = np.array([len(t) for t in tags], dtype=np.int64)
    pad = np.zeros((b, max(1, int(lengths.max(initial=1)))), dtype=np.int64)
    for i, t in enumerate(tags):
        pad[i, : len(t)] = t
    pick = np.minimum((u[:, :p] * lengths[:, None]).astype(np.int64), lengths[:, None] - 1)
    pos = np.take_along_axis(pad, pick, axis=1)
    if strategy == "presampled":
        neg = sampler.inverse_cdf(u[:, p:])
        # A draw that is one of the photo's own tags is redrawn, in rounds keyed like the first draw.
        bad = _own_mask(neg, tags)
        for r in range(_REDRAWS):
            if not bad.any():
                break
            again = sampler.inverse_cdf(step_uniforms((*key, 1, r), first, b, k))
            neg[bad] = again[bad]
            bad = _own_mask(neg, tags)
        valid = np.ones((b, k), dtype=bool)
        for i in np.flatnonzero(bad.any(axis=1)):  # own tags hold most of the mass: the exact draw
            neg[i : i + 1], valid[i : i + 1] = fix_collisions(
                _redraw_rng(key, first + i), sampler, neg[i : i + 1], [tags[i]]
            )
        return pos, neg, valid
    neg = np.zeros((b, k), dtype=np.int64)
    valid = np.zeros((b, k), dtype=bool)
    for i in range(b):
        cand = next_foreign_tags(tags, i)
        if cand is not None:
            cdf = np.cumsum(sampler.freq[cand] ** (sampler.power - 1.0))
            pick = np.searchsorted(cdf / cdf[-1], u[i, p:], side="right")
            neg[i] = cand[np.minimum(pick, len(cand) - 1)]
            valid[i] = True
        else:
            rng = _redraw_rng(key, first + i)
            neg[i] = sampler.draw(rng, k)
            neg[i : i + 1], valid[i : i + 1] = fix_collisions(rng, sampler, neg[i : i + 1], [tags[i]])
    return pos, neg, valid
