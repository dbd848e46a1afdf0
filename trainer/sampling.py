"""Positive and negative tag sampling (word2vec style), written for vocabularies of millions.

Negatives follow freq^power (0.75 by default). Drawing uses a cumulative table and binary search
(O(log V) per draw, no O(V) work per step), so a 6M-tag vocabulary costs what a 1k one does.
Two strategies:
- ``next-image`` (I): a photo's negatives come from the labels of the next photo in the batch
  (walking on while those are all its own tags); each of those labels is drawn with weight
  freq^(power-1), so that over the data the negatives follow freq^power.
- ``presampled`` (II): a pool of freq^power draws made once per epoch, consumed in order.
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
    return np.stack([np.isin(neg[i], tags[i]) for i in range(len(tags))]) if len(tags) else np.zeros_like(neg, bool)


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
        own = tags[i]
        for step in range(1, b):
            cand = tags[(i + step) % b]
            cand = np.unique(cand[~np.isin(cand, own)])
            if len(cand):
                w = sampler.freq[cand] ** (sampler.power - 1.0)
                neg[i] = cand[rng.choice(len(cand), size=k, p=w / w.sum())]
                valid[i] = True
                break
        else:
            # No other photo in the batch offers a foreign tag: fall back to the distribution.
            neg[i] = sampler.draw(rng, k)
            neg[i : i + 1], valid[i : i + 1] = fix_collisions(rng, sampler, neg[i : i + 1], [own])
    return neg, valid


def batch_negatives(
    strategy: str, rng: np.random.Generator, sampler: NegativeSampler, tags: Sequence[np.ndarray], k: int,
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
