"""Nearest-neighbour label transfer for the default model, chosen in numpy, deployed in ONNX.

The default model tags a photo with the words of the training photos that look most like it
(2PKNN, Verma & Jawahar 2012): for every word, the ``k1`` nearest training photos that carry the
word vote with a kernel ``exp(-(d - d_min) / tau)``. Taking neighbours *per word* is what lets a
rare word compete with "sky" and "water", which a plain k-nearest-neighbour vote drowns.

"Nearest" is a weighted sum of distances over several descriptors (JEC, TagProp): the CNN's
flip-averaged embedding and trunk features (compared by angle) and the hand-crafted colour, layout and texture
descriptors of :mod:`trainer.handcrafted`. Each descriptor is reduced by PCA (so the stored bank
fits the bundle) and its Euclidean distance is divided by its mean over training pairs, so that
the weights mean the same for every descriptor. The weights, ``k1`` and ``tau`` are chosen on
held-out training photos; :class:`Deployed` computes exactly the same votes inside the encoder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from .data import IMAGENET_MEAN, IMAGENET_STD
from .handcrafted import Handcrafted

FAR = 1e4  # distance of the padding slots of the per-word neighbour lists (their kernel is exp(-1e4/tau) = 0)


# ------------------------------------------------------------------------------------------- descriptors
@dataclass
class Projection:
    """Centre and PCA basis of one descriptor (``basis`` None: used as it is)."""

    mean: np.ndarray
    basis: np.ndarray | None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = x - self.mean
        return (z @ self.basis if self.basis is not None else z).astype(np.float32)


def fit_projection(x: np.ndarray, dim: int) -> Projection:
    """PCA to ``dim`` components (none when the descriptor is already that small)."""
    mean = x.mean(0).astype(np.float32)
    if x.shape[1] <= dim:
        return Projection(mean, None)
    z = (x - mean).astype(np.float64)
    _, vecs = np.linalg.eigh(z.T @ z)
    return Projection(mean, vecs[:, ::-1][:, :dim].astype(np.float32).copy())


def normalise(e: np.ndarray) -> np.ndarray:
    return (e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-6)).astype(np.float32)


def euclidean(q: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All pairwise Euclidean distances [Nq, Nb] through one matrix product (as the graph does)."""
    d2 = (q * q).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (q @ b.T)
    return np.sqrt(np.maximum(d2, 0.0))


# ------------------------------------------------------------------------------------------- the votes
@dataclass
class Neighbourhood:
    """Everything the per-word vote needs besides the bank: weights per descriptor, k1, tau."""

    weights: dict[str, float]
    scale: dict[str, float] = field(default_factory=dict)
    k1: int = 5
    tau: float = 0.2


def coefficients(weights: dict[str, float], scale: dict[str, float]) -> dict[str, float]:
    """What multiplies each descriptor's distance: its weight (weights summing to one) over its typical size."""
    total = sum(weights.values())
    return {n: w / (scale[n] * total) for n, w in weights.items() if w}


def combined_distance(q: dict[str, np.ndarray], b: dict[str, np.ndarray], nb: Neighbourhood) -> np.ndarray:
    """[Nq, Nb] weighted sum of the per-descriptor distances, each divided by its typical size."""
    return sum(c * euclidean(q[n], b[n]) for n, c in coefficients(nb.weights, nb.scale).items())


def word_lists(labels: np.ndarray, at_least: int = 1) -> np.ndarray:
    """[V, max count] bank indices of the photos carrying each word, padded with ``len(labels)``."""
    lists = [np.flatnonzero(labels[:, v]) for v in range(labels.shape[1])]
    width = max(at_least, max(len(x) for x in lists))
    out = np.full((labels.shape[1], width), len(labels), dtype=np.int64)
    for v, x in enumerate(lists):
        out[v, : len(x)] = x
    return out


def word_groups(
    labels: np.ndarray, k1: int, widths: tuple[int, ...] = (32, 128, 512)
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The words split by how many photos carry them, each group with its own padded lists.

    One list matrix padded to the commonest word's count would make the graph gather V x max
    distances per photo; grouping cuts that several-fold and changes no vote.
    """
    counts = labels.sum(0)
    groups, lo = [], -1
    for hi in (*widths, int(counts.max(initial=0))):
        ids = np.flatnonzero((counts > lo) & (counts <= hi)) if hi > lo else np.zeros(0, np.int64)
        lo = max(lo, hi)
        if len(ids):
            groups.append((ids, word_lists(labels[:, ids], k1)))
    return groups


def per_word_votes(dist: np.ndarray, labels: np.ndarray, k1: int, tau: float) -> np.ndarray:
    """2PKNN votes [Nq, V]: kernel sum over each word's k1 nearest photos, normalised over the words."""
    dmin = dist.min(1, keepdims=True)
    out = np.zeros((dist.shape[0], labels.shape[1]), dtype=np.float32)
    for v in range(labels.shape[1]):
        idx = np.flatnonzero(labels[:, v])
        k = min(k1, len(idx))
        if k == 0:
            continue
        near = np.partition(dist[:, idx], k - 1, axis=1)[:, :k]
        out[:, v] = np.exp(-(near - dmin) / tau).sum(1)
    return out / np.maximum(out.sum(1, keepdims=True), 1e-12)


def choose_neighbourhood(
    q: dict[str, np.ndarray],
    b: dict[str, np.ndarray],
    labels: np.ndarray,
    score: Callable[[np.ndarray], float],
    log: Callable[[str], None],
    rounds: int = 2,
) -> tuple[Neighbourhood, float, dict[str, float]]:
    """Coordinate search for the descriptor weights, then k1 and tau, maximising ``score(votes)``.

    The distances of each descriptor are computed once; every trial only re-weights them.
    Returns the neighbourhood, its score and the scores of the milestones (each descriptor alone,
    equal weights, each round) for the model card.
    """
    names = list(q)
    single = {n: euclidean(q[n], b[n]) for n in names}
    scale = {n: float(single[n].mean()) or 1.0 for n in names}
    nb = Neighbourhood({n: 1.0 for n in names}, scale)

    def trial(weights: dict[str, float], k1: int, tau: float) -> float:
        if not any(weights.values()):
            return -1.0
        d = sum(c * single[n] for n, c in coefficients(weights, scale).items())
        return score(per_word_votes(d, labels, k1, tau))

    def tune_kernel(best: float) -> float:
        for k1 in (2, 3, 5, 8):
            for tau in (0.05, 0.1, 0.2, 0.4):
                s = trial(nb.weights, k1, tau)
                if s > best:
                    best, nb.k1, nb.tau = s, k1, tau
        return best

    record: dict[str, float] = {}
    for n in names:
        record[f"{n} alone"] = trial({n: 1.0}, nb.k1, nb.tau)
        log(f"  label transfer on {n} alone: {record[n + ' alone']:.3f}")
    best = tune_kernel(trial(nb.weights, nb.k1, nb.tau))
    record["all, equal weights"] = best
    log(f"  all descriptors, equal weights: {best:.3f} (k1={nb.k1}, tau={nb.tau})")
    for r in range(rounds):
        for n in names:
            for m in (0.0, 0.5, 2.0):
                w = dict(nb.weights)
                w[n] = w[n] * m
                s = trial(w, nb.k1, nb.tau)
                if s > best:
                    best, nb.weights = s, w
        best = tune_kernel(best)
        record[f"all, weights searched (round {r + 1})"] = best
        log(
            f"  round {r + 1}: {best:.3f} (k1={nb.k1}, tau={nb.tau}) weights "
            + ", ".join(f"{n} {w:g}" for n, w in nb.weights.items())
        )
    nb.weights = {n: w for n, w in nb.weights.items() if w}
    return nb, best, record


# -------------------------------------------------------------------------------------------- the graph
class Deployed(nn.Module):
    """What the bundle's encoder.onnx computes: ``[f(x), per-word label-transfer votes, 1, pad]``.

    ``tower`` is a :class:`trainer.model.Tower` (trunk, then a linear projection into the word space).
    ``f(x)`` is its embedding averaged with the mirror image's, rescaled to the fixed length
    ``f_scale``; the votes are those of :func:`per_word_votes` over the stored bank (PCA-reduced
    descriptors of the training photos, float16) and their word lists; ``pad = sqrt(1 - |votes|^2)``.
    So every embedding has the same length, ``sqrt(f_scale^2 + 2)``: the app searches by cosine, and
    at constant length cosine ranks photos exactly as the tag scores ``tag_vector . e(x)`` do (the
    tag vectors carry the per-tag bias on the constant and 0 on the pad) instead of favouring photos
    whose embedding happens to be short.
    """

    def __init__(
        self,
        tower: nn.Module,
        nb: Neighbourhood,
        projections: dict[str, Projection],
        bank: dict[str, np.ndarray],
        labels: np.ndarray,
        group_widths: tuple[int, ...] = (32, 128, 512),
        f_scale: float = 1.0,
        flip: bool = True,
    ) -> None:
        super().__init__()
        self.tower = tower
        self.hand = Handcrafted(norm=getattr(tower, "input_norm", (IMAGENET_MEAN, IMAGENET_STD)))
        coef = coefficients(nb.weights, nb.scale)
        self.names = list(coef)
        self.coef = [coef[n] for n in self.names]
        for i, n in enumerate(self.names):
            p = projections[n]
            self.register_buffer(f"mean{i}", torch.from_numpy(p.mean))
            if p.basis is not None:
                self.register_buffer(f"basis{i}", torch.from_numpy(p.basis.astype(np.float16)))
            b16 = bank[n].astype(np.float16)
            self.register_buffer(f"bank{i}", torch.from_numpy(b16))
            self.register_buffer(f"norm{i}", torch.from_numpy((b16.astype(np.float32) ** 2).sum(1)))
        self.projected = [projections[n].basis is not None for n in self.names]
        if len(labels) >= 2**15:
            raise ValueError("the label-transfer bank holds at most 32767 photos (int16 lists)")
        groups = word_groups(labels, nb.k1, group_widths)
        for g, (_, lists) in enumerate(groups):
            self.register_buffer(f"lists{g}", torch.from_numpy(lists.astype(np.int16)))
        order = np.concatenate([ids for ids, _ in groups])
        self.register_buffer("unpermute", torch.from_numpy(np.argsort(order)))
        self.n_groups = len(groups)
        self.k1, self.tau = nb.k1, nb.tau
        self.f_scale = f_scale
        self.flip = flip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        t = self.tower.trunk(images)
        if self.flip:  # test-time flip: the mean of the photo's and its mirror image's trunk features
            t = (t + self.tower.trunk(images.flip(3))) * 0.5
        f = self.tower.proj(t)  # = the mean of the two embeddings: the projection is linear
        feats = self.hand(images)
        feats["trunk"] = t / t.norm(dim=1, keepdim=True).clamp_min(1e-6)
        feats["cnn"] = f / f.norm(dim=1, keepdim=True).clamp_min(1e-6)
        dist = torch.zeros(images.shape[0], self.bank0.shape[0])
        for i, n in enumerate(self.names):
            z = feats[n] - getattr(self, f"mean{i}")
            if self.projected[i]:
                z = z @ getattr(self, f"basis{i}").float()
            bank = getattr(self, f"bank{i}").float()
            d2 = (z * z).sum(1, keepdim=True) + getattr(self, f"norm{i}") - 2.0 * (z @ bank.t())
            dist = dist + self.coef[i] * d2.clamp_min(0.0).sqrt()
        padded = torch.cat([dist, torch.full_like(dist[:, :1], FAR)], dim=1)
        dmin = dist.min(dim=1, keepdim=True).values.unsqueeze(2)
        parts = []
        for g in range(self.n_groups):
            per_word = padded[:, getattr(self, f"lists{g}").long()]  # [B, words of the group, their max count]
            near = per_word.topk(self.k1, dim=2, largest=False).values
            parts.append(torch.exp(-(near - dmin) / self.tau).sum(2))
        s = torch.cat(parts, dim=1)[:, self.unpermute]
        votes = s / s.sum(1, keepdim=True).clamp_min(1e-12)
        pad = (1.0 - (votes * votes).sum(1, keepdim=True)).clamp_min(0.0).sqrt()
        return torch.cat([self.f_scale * feats["cnn"], votes, torch.ones_like(f[:, :1]), pad], dim=1)


# ------------------------------------------------------------------------------------ per-word sigmoids
def fit_word_sigmoids(
    s: np.ndarray, y: np.ndarray, a0: float, c0: float, rho: float, iters: int = 25
) -> tuple[np.ndarray, np.ndarray]:
    """One logistic ``sigmoid(a_w * s + c_w)`` per word (TagProp's sigma-ML), shrunk towards (a0, c0).

    A word's raw score is not comparable with another's: a rare word's votes are small even when
    it is right. Fitting a slope and offset per word on scores of photos that were not in the bank
    (leave-one-out, or held out) can make the top five across words fairer; the ridge ``rho`` keeps words with few photos close to
    the shared calibration. Newton steps on all words at once (two parameters each).
    """
    s = s.astype(np.float64)
    y = y.astype(np.float64)
    v = s.shape[1]
    a = np.full(v, a0)
    c = np.full(v, c0)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(a * s + c, -40, 40)))
        w = p * (1 - p)
        r = p - y
        ga = (r * s).sum(0) + rho * (a - a0)
        gc = r.sum(0) + rho * (c - c0)
        haa = (w * s * s).sum(0) + rho
        hac = (w * s).sum(0)
        hcc = w.sum(0) + rho
        det = haa * hcc - hac * hac
        da = (hcc * ga - hac * gc) / det
        dc = (haa * gc - hac * ga) / det
        step = np.maximum(1.0, np.maximum(np.abs(da) / max(abs(a0), 1e-3), np.abs(dc) / 4.0))  # damped
        a -= da / step
        c -= dc / step
    return a.astype(np.float32), c.astype(np.float32)
