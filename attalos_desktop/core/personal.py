"""Personal suggestions: the user's own words, suggested from their nearest tagged photos, no training.

Once a word is on a few of the user's photos (``MIN_PHOTOS``), any other photo gets a score for it
from its neighbours in the library's embedding space, the way TagProp predicts a tag (Guillaumin et
al. 2009): the photo's ``NEIGHBOURS`` nearest *labelled* photos vote, each with a weight that falls
with its rank, and the score is the weighted share of them that carry the word,

    vote(word | x) = sum_j  pi_j * y_j,      pi_j ∝ exp(-rank_j / DECAY),  sum_j pi_j = 1.

Rank weights, rather than weights from the cosine itself, make it independent of how tightly a given
model packs its embeddings. The vote estimates how likely the photo is to *have been tagged* with the
word, not to show it: a user tags a few of their photos of the dog, not all, so untagged look-alikes
dilute it. As in learning from positive and unlabelled data (Elkan & Noto 2008), dividing by the
chance that a photo of the word was tagged, estimated as the mean leave-one-out vote of the word's own
photos, turns it into the probability that the word applies,

    p(word | x) = min(1, vote(word | x) / c_word),   c_word = max(C_FLOOR, mean_j∈word vote(word | j)),

which sits on the same 0..1 scale as the model's ``sigmoid(v . f(x))``, so the two lists merge into
one ranking. ``C_FLOOR`` keeps a word seen on two photos from claiming every photo next to one of them.

Labelled photos are the user-tagged ones (a photo lacking a word is a weak negative for it; a photo
where the user *rejected* the word is an explicit one) plus a fixed sample of the library's other
photos as background negatives: without them, a user who has only ever tagged their dog "rex" would
see "rex" suggested for every photo. Words the model never saw (a pet's name, "grandma's house")
work exactly like known ones: nothing here looks at the word itself.

Rebuilding costs one pass over the tagged photos (not the library), so callers rebuild it after
every accept, reject or typed tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .encoder import unit

MIN_PHOTOS = 2  # a word is suggested once the user has put it on this many photos
# Chosen with bench/personal_bench.py on real photos (scenario seed 0; figures reported for seed 1):
# 20 neighbours / decay 8 / 512 background photos / floor 0.5 gave mAP 0.077 -> 0.092 over 10 / 4 / 256 / 0.35.
NEIGHBOURS = 20  # labelled photos that vote for each photo
DECAY = 8.0  # rank at which a neighbour's weight has fallen to 1/e of the nearest one's
BACKGROUND = 512  # untagged library photos used as background negatives
C_FLOOR = 0.5  # the smallest tagged share assumed (a vote of 0.5 or more already means "applies")


@dataclass
class PersonalVotes:
    """Labelled photos (unit vectors), which of the user's words each carries, and the vote weights."""

    ids: np.ndarray  # [M] int64 photo ids of the labelled photos (-1: not a library photo)
    units: np.ndarray  # [M, d] float32 unit vectors
    labels: np.ndarray  # [M, W] bool: photo j carries word w
    words: list[str]  # the words that are suggested (on >= MIN_PHOTOS photos)
    counts: np.ndarray  # [W] photos carrying each word
    tagged_share: np.ndarray  # [W] c_word: mean leave-one-out vote of the word's own photos (>= C_FLOOR)

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        vectors: np.ndarray,
        tags: Sequence[Iterable[str]],
        rejected: Sequence[Iterable[str]] | None = None,
        background: np.ndarray | None = None,
        background_ids: np.ndarray | None = None,
        min_photos: int = MIN_PHOTOS,
    ) -> "PersonalVotes":
        """From the user-tagged photos (raw vectors + their words) and background photos (no words).

        ``rejected`` is accepted for symmetry with the catalog: a photo whose only link to a word is a
        rejection already votes against it (it carries no such word), so nothing more is needed.
        """
        del rejected
        tag_sets = [set(t) for t in tags]
        count: dict[str, int] = {}
        for s in tag_sets:
            for t in s:
                count[t] = count.get(t, 0) + 1
        words = sorted(w for w, c in count.items() if c >= min_photos)
        col = {w: i for i, w in enumerate(words)}
        d = vectors.shape[1] if vectors.ndim == 2 and vectors.size else (
            background.shape[1] if background is not None and background.ndim == 2 and background.size else 0)
        vecs = [np.asarray(vectors, dtype=np.float32).reshape(-1, d)]
        id_parts = [np.asarray(ids, dtype=np.int64).reshape(-1)]
        if background is not None and len(background):
            vecs.append(np.asarray(background, dtype=np.float32).reshape(-1, d))
            bids = (np.asarray(background_ids, dtype=np.int64) if background_ids is not None
                    else np.full(len(background), -1, dtype=np.int64))
            id_parts.append(bids)
        units = unit(np.concatenate(vecs)) if d else np.zeros((0, 0), dtype=np.float32)
        all_ids = np.concatenate(id_parts)
        labels = np.zeros((len(all_ids), len(words)), dtype=bool)
        for j, s in enumerate(tag_sets):
            for t in s:
                c = col.get(t)
                if c is not None:
                    labels[j, c] = True
        counts = labels.sum(0).astype(np.int64)
        pv = cls(all_ids, units.astype(np.float32), labels, words, counts, np.ones(len(words), dtype=np.float32))
        if words:
            own = np.zeros(len(words), dtype=np.float64)
            # Leave-one-out votes of the labelled photos themselves (ids may be -1: exclude by row).
            votes = pv._votes(pv.units, pv.labels, exclude_rows=np.arange(len(all_ids)))
            own = (votes * labels).sum(0) / np.maximum(counts, 1)
            pv.tagged_share = np.maximum(own, C_FLOOR).astype(np.float32)
        return pv

    @property
    def empty(self) -> bool:
        return not self.words

    def scores(self, raw: np.ndarray, exclude_ids: Sequence[int | None] | np.ndarray | None = None,
               words: Sequence[str] | None = None) -> np.ndarray:
        """[N, W] probabilities that each photo (raw vectors [N,d]) carries each word.

        ``exclude_ids[i]`` is photo i's own id (it must not vote for itself); ``words`` restricts the
        columns (default: all of ``self.words``, in that order). An unknown word scores 0.
        """
        raw = np.asarray(raw, dtype=np.float32)
        single = raw.ndim == 1
        q = unit(raw.reshape(1, -1) if single else raw)
        if words is None:
            lab, share = self.labels, self.tagged_share
        else:
            col = {w: i for i, w in enumerate(self.words)}
            lab = np.zeros((len(self.ids), len(words)), dtype=bool)
            share = np.ones(len(words), dtype=np.float32)
            for k, w in enumerate(words):
                if w in col:
                    lab[:, k] = self.labels[:, col[w]]
                    share[k] = self.tagged_share[col[w]]
        own = None
        if exclude_ids is not None:
            own = np.asarray([-2 if i is None else i for i in exclude_ids], dtype=np.int64)
        out = np.minimum(self._votes(q, lab, exclude_ids=own) / share, 1.0)
        return out[0] if single else out

    def _votes(self, q: np.ndarray, lab: np.ndarray, exclude_ids: np.ndarray | None = None,
               exclude_rows: np.ndarray | None = None) -> np.ndarray:
        """[N, W] rank-weighted share of each unit query's nearest labelled photos that carry each word.

        A query's own photo never votes: given by id (``exclude_ids``) or by labelled row (``exclude_rows``).
        """
        out = np.zeros((len(q), lab.shape[1]), dtype=np.float32)
        if not len(self.ids) or not lab.shape[1] or not len(q) or not lab.any():
            return out
        weights = np.exp(-np.arange(NEIGHBOURS, dtype=np.float32) / DECAY)
        for start in range(0, len(q), 2048):
            sims = q[start:start + 2048] @ self.units.T  # [n, M]
            if exclude_ids is not None:
                own = exclude_ids[start:start + 2048]
                sims[own[:, None] == self.ids[None, :]] = -np.inf
            if exclude_rows is not None:
                rows = exclude_rows[start:start + 2048]
                sims[np.arange(len(rows)), rows] = -np.inf
            k = min(NEIGHBOURS, sims.shape[1])
            nn = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.argsort(-sims, axis=1)
            order = np.argsort(-np.take_along_axis(sims, nn, axis=1), axis=1, kind="stable")
            nn = np.take_along_axis(nn, order, axis=1)[:, :k]
            w = np.broadcast_to(weights[:k], nn.shape).copy()
            w[~np.isfinite(np.take_along_axis(sims, nn, axis=1))] = 0.0  # an excluded photo does not vote
            w /= np.maximum(w.sum(1, keepdims=True), 1e-12)
            out[start:start + len(nn)] = np.einsum("nk,nkw->nw", w, lab[nn].astype(np.float32))
        return out

    def top(self, raw: np.ndarray, top: int, min_score: float = 0.0, exclude: Iterable[str] = (),
            self_id: int | None = None) -> list[tuple[str, float]]:
        """Best-first (word, score) for one photo, skipping ``exclude`` and words scoring 0."""
        if self.empty:
            return []
        s = self.scores(raw, exclude_ids=[self_id])
        skip = set(exclude)
        order = np.argsort(-s, kind="stable")
        out: list[tuple[str, float]] = []
        for i in order:
            score = float(s[i])
            if score <= 0.0 or score < min_score or len(out) >= top:
                break
            if self.words[i] not in skip:
                out.append((self.words[i], score))
        return out


def merge_suggestions(model: Sequence[tuple[str, float]], personal: Sequence[tuple[str, float]],
                      top: int) -> list[tuple[str, float, str]]:
    """One ranking of (tag, score, source): a word both lists hold keeps its higher score."""
    best: dict[str, tuple[float, str]] = {}
    for source, items in (("model", model), ("personal", personal)):
        for tag, score in items:
            if tag not in best or score > best[tag][0]:
                best[tag] = (float(score), source)
    ranked = sorted(best.items(), key=lambda kv: -kv[1][0])
    return [(t, s, src) for t, (s, src) in ranked[:top]]


def background_sample(ids: np.ndarray, exclude: Iterable[int], n: int = BACKGROUND) -> np.ndarray:
    """Evenly spaced photo ids (stable from call to call, so suggestions do not flicker)."""
    ex = np.asarray(sorted(set(exclude)), dtype=np.int64)
    pool = np.setdiff1d(np.asarray(ids, dtype=np.int64), ex, assume_unique=False)
    if len(pool) <= n:
        return pool
    return pool[np.linspace(0, len(pool) - 1, n).round().astype(np.int64)]
