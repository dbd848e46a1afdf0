"""What the app needs to place any word in the joint space: sub-word buckets and the text map.

- Sub-word buckets: one vector per hashed character n-gram, fitted by ridge least squares so
  that the mean of a word's bucket vectors approximates its pretrained vector (conjugate
  gradients on the normal equations; the system is sparse, so no dense B x B matrix is built).
- Text map: an affine map pretrained -> joint space. When the tag layer is frozen it is the map
  used to initialise the tags (identity, or the fixed projection when dims differ). When the tag
  layer was optimised it is fitted over the tags (the words both spaces know), as a ridge
  regression that shrinks toward that initial map: with few tags an unregularised fit would fling
  every unseen word anywhere.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from attalos_desktop.core.subwords import ngram_buckets


def _sparse_rows(
    words: Sequence[str], n_min: int, n_max: int, buckets: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, cols, vals = [], [], []
    for i, w in enumerate(words):
        ids = ngram_buckets(w, n_min, n_max, buckets)
        rows.append(np.full(len(ids), i, dtype=np.int64))
        cols.append(ids)
        vals.append(np.full(len(ids), 1.0 / len(ids), dtype=np.float64))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def fit_ngram_vectors(
    words: Sequence[str],
    vectors: np.ndarray,
    *,
    n_min: int,
    n_max: int,
    buckets: int,
    ridge: float = 1e-3,
    iterations: int = 150,
) -> np.ndarray:
    """Bucket table [buckets, p] minimising sum_w |mean(N[g(w)]) - v_w|^2 + ridge |N|^2.

    Conjugate gradients on the normal equations with a sparse [W, B] averaging matrix (torch).
    """
    import torch

    p = vectors.shape[1]
    if len(words) == 0:
        return np.zeros((buckets, p), dtype=np.float32)
    r, c, v = _sparse_rows(words, n_min, n_max, buckets)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR is beta": the two products used here are stable
        a = (
            torch.sparse_coo_tensor(np.stack([r, c]), v, (len(words), buckets), check_invariants=True)
            .coalesce()
            .to_sparse_csr()
        )
        at = (
            torch.sparse_coo_tensor(np.stack([c, r]), v, (buckets, len(words)), check_invariants=True)
            .coalesce()
            .to_sparse_csr()
        )
    target = torch.as_tensor(vectors, dtype=torch.float64)

    def normal(x: torch.Tensor) -> torch.Tensor:
        return at @ (a @ x) + ridge * x

    x = torch.zeros((buckets, p), dtype=torch.float64)
    res = at @ target
    d = res.clone()
    rs = (res * res).sum(dim=0)
    rs0 = rs.clone()
    for _ in range(iterations):
        q = normal(d)
        alpha = rs / (d * q).sum(dim=0).clamp_min(1e-30)
        x += d * alpha
        res -= q * alpha
        rs_new = (res * res).sum(dim=0)
        if bool((rs_new <= 1e-12 * rs0).all()):
            break
        d = res + d * (rs_new / rs.clamp_min(1e-30))
        rs = rs_new
    return x.numpy().astype(np.float32)


def compose(ngram_vectors: np.ndarray, word: str, n_min: int, n_max: int) -> np.ndarray:
    """A word's pretrained-space vector from its sub-word buckets (what the app does)."""
    ids = ngram_buckets(word, n_min, n_max, ngram_vectors.shape[0])
    return ngram_vectors[ids].astype(np.float32).mean(axis=0)


def base_map(p: int, d: int, seed: int = 0) -> np.ndarray:
    """The fixed pretrained -> joint map used to initialise tags: identity, or a random isometry-like
    projection (scaled Gaussian) when the joint dimension differs from the pretrained one."""
    if p == d:
        return np.eye(p, dtype=np.float32)
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(max(p, d), min(p, d))))
    m = q[:p, :d] if p >= d else q[:d, :p].T
    return (m * np.sqrt(max(p, d) / min(p, d)) if p > d else m).astype(np.float32)


def fit_text_map(pretrained: np.ndarray, learned: np.ndarray, prior: np.ndarray, ridge: float = 1.0) -> np.ndarray:
    """Affine map [p+1, d] (last row bias) with [P 1] M ~ learned, shrunk toward ``prior`` [p, d]."""
    n, p = pretrained.shape
    x = np.hstack([pretrained.astype(np.float64), np.ones((n, 1))])
    m0 = np.vstack([prior.astype(np.float64), np.zeros((1, prior.shape[1]))])
    resid = learned.astype(np.float64) - x @ m0
    reg = ridge * np.eye(p + 1)
    reg[-1, -1] = 1e-6  # the bias is not shrunk
    delta = np.linalg.solve(x.T @ x + reg, x.T @ resid)
    return (m0 + delta).astype(np.float32)


def identity_map(prior: np.ndarray) -> np.ndarray:
    """The frozen-layer text map: the initial projection with zero bias."""
    return np.vstack([prior, np.zeros((1, prior.shape[1]), dtype=np.float32)]).astype(np.float32)
