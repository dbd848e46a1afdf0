"""Personal suggestions: the user's own words, suggested from their nearest tagged photos, no training.

Once a word is on a few of the user's photos (``MIN_PHOTOS``), any other photo gets a score for it
from its neighbours in the library's embedding space, the way TagProp predicts a tag (Guillaumin et
al. 2009): the photo's ``NEIGHBOURS`` nearest *labelled* photos vote, each with a weight that falls
with its rank, and the score is the weighted share of them that carry the word,

    vote(word | x) = sum_j  pi_j * y_j,      pi_j ∝ exp(-rank_j / DECAY),  sum_j pi_j = 1.

Rank weights, rather than weights from the cosine itself, make it independent of how tightly a given
model packs its embeddings. A vote is not yet a probability. First, a word on n photos can at best
get the weight of the n nearest ranks, so the vote is divided by that ceiling. Then, as TagProp does
with its sigmoids, it is calibrated on the user's own photos: their leave-one-out votes against
whether they carry the word give one logistic curve shared by all words (too few photos carry any one
word to fit its own),

    p(word | x) = sigmoid(a * vote(word | x) / ceiling(n_word) + b),   p = 0 when no neighbour carries it,

fitted by Newton's method with a ridge toward ``CALIBRATION_PRIOR`` (what bench/personal_bench.py
fitted on real photos), so a library with two tagged photos gets the prior and a large one its own
fit. Background photos vote but do not calibrate: they are unlabelled, and many may show the word
(a user tags five of their three hundred photos of the dog). The result sits on the same 0..1 scale
as the model's ``sigmoid(v . f(x))``, so the two lists merge into one ranking.

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
from .tags import query_words

MIN_PHOTOS = 2  # a word is suggested once the user has put it on this many photos
# Chosen with bench/personal_bench.py on real photos (scenario seed 0; figures reported for seed 1):
# 20 neighbours / decay 8 / 512 background photos gave made-up-word mAP 0.092 against 0.077 with 10 / 4 / 256.
NEIGHBOURS = 20  # labelled photos that vote for each photo
DECAY = 8.0  # rank at which a neighbour's weight has fallen to 1/e of the nearest one's
BACKGROUND = 512  # untagged library photos used as background negatives
CALIBRATION_PRIOR = (11.4, -4.2)  # (a, b) fitted on the bench: 37% of the best possible vote is an even chance
CALIBRATION_RIDGE = 10.0  # pull toward the prior, in photos' worth of evidence


@dataclass
class PersonalVotes:
    """Labelled photos (unit vectors), which of the user's words each carries, and the vote weights."""

    ids: np.ndarray  # [M] int64 photo ids of the labelled photos (-1: not a library photo)
    units: np.ndarray  # [M, d] float32 unit vectors
    labels: np.ndarray  # [M, W] bool: photo j carries word w
    words: list[str]  # the words that are suggested (on >= MIN_PHOTOS photos)
    counts: np.ndarray  # [W] photos carrying each word
    calibration: tuple[float, float] = CALIBRATION_PRIOR  # (a, b) of sigmoid(a * vote + b)

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
        # The width comes from whichever array has one: a new library has no tagged photos and no
        # background yet, and must still answer (with no personal votes).
        d = next((a.shape[1] for a in (vectors, background) if a is not None and a.ndim == 2), 0)
        vecs = [np.asarray(vectors, dtype=np.float32).reshape(len(vectors), d)]
        id_parts = [np.asarray(ids, dtype=np.int64).reshape(-1)]
        if background is not None and len(background):
            vecs.append(np.asarray(background, dtype=np.float32).reshape(-1, d))
            bids = (
                np.asarray(background_ids, dtype=np.int64)
                if background_ids is not None
                else np.full(len(background), -1, dtype=np.int64)
            )
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
        pv = cls(all_ids, units.astype(np.float32), labels, words, counts)
        if words:
            # Leave-one-out votes of the user's photos (background photos are unlabelled, not negatives:
            # many may show the word, so they vote but do not calibrate).
            n = len(tag_sets)
            votes = pv._votes(pv.units[:n], pv.labels, exclude_rows=np.arange(n)) / pv._ceiling(pv.counts - 1)
            pv.calibration = fit_calibration(votes.ravel(), labels[:n].ravel())
        return pv

    @staticmethod
    def _ceiling(counts: np.ndarray) -> np.ndarray:
        """[W] the largest vote a word on ``counts`` labelled photos can get: all of them nearest."""
        w = np.exp(-np.arange(NEIGHBOURS, dtype=np.float64) / DECAY)
        cum = np.concatenate([[0.0], np.cumsum(w)]) / w.sum()
        return np.maximum(cum[np.clip(counts, 1, NEIGHBOURS)], 1e-6).astype(np.float32)

    @property
    def empty(self) -> bool:
        return not self.words

    def scores(
        self,
        raw: np.ndarray,
        exclude_ids: Sequence[int | None] | np.ndarray | None = None,
        words: Sequence[str] | None = None,
    ) -> np.ndarray:
        """[N, W] probabilities that each photo (raw vectors [N,d]) carries each word.

        ``exclude_ids[i]`` is photo i's own id (it must not vote for itself); ``words`` restricts the
        columns (default: all of ``self.words``, in that order). An unknown word scores 0.
        """
        raw = np.asarray(raw, dtype=np.float32)
        single = raw.ndim == 1
        q = unit(raw.reshape(1, -1) if single else raw)
        if words is None:
            lab = self.labels
        else:
            col = {w: i for i, w in enumerate(self.words)}
            lab = np.zeros((len(self.ids), len(words)), dtype=bool)
            for k, w in enumerate(words):
                if w in col:
                    lab[:, k] = self.labels[:, col[w]]
        own = None
        if exclude_ids is not None:
            own = np.asarray([-2 if i is None else i for i in exclude_ids], dtype=np.int64)
        counts = lab.sum(0)
        votes = self._votes(q, lab, exclude_ids=own) / self._ceiling(counts)
        a, b = self.calibration
        out = np.where(votes > 0, 1.0 / (1.0 + np.exp(-(a * votes + b))), 0.0).astype(np.float32)
        return out[0] if single else out

    def _votes(
        self,
        q: np.ndarray,
        lab: np.ndarray,
        exclude_ids: np.ndarray | None = None,
        exclude_rows: np.ndarray | None = None,
    ) -> np.ndarray:
        """[N, W] rank-weighted share of each unit query's nearest labelled photos that carry each word.

        A query's own photo never votes: given by id (``exclude_ids``) or by labelled row (``exclude_rows``).
        """
        out = np.zeros((len(q), lab.shape[1]), dtype=np.float32)
        if not len(self.ids) or not lab.shape[1] or not len(q) or not lab.any():
            return out
        weights = np.exp(-np.arange(NEIGHBOURS, dtype=np.float32) / DECAY)
        for start in range(0, len(q), 2048):
            sims = q[start : start + 2048] @ self.units.T  # [n, M]
            if exclude_ids is not None:
                own = exclude_ids[start : start + 2048]
                sims[own[:, None] == self.ids[None, :]] = -np.inf
            if exclude_rows is not None:
                rows = exclude_rows[start : start + 2048]
                sims[np.arange(len(rows)), rows] = -np.inf
            k = min(NEIGHBOURS, sims.shape[1])
            nn = np.argpartition(-sims, k - 1, axis=1)[:, :k] if k < sims.shape[1] else np.argsort(-sims, axis=1)
            order = np.argsort(-np.take_along_axis(sims, nn, axis=1), axis=1, kind="stable")
            nn = np.take_along_axis(nn, order, axis=1)[:, :k]
            w = np.broadcast_to(weights[:k], nn.shape).copy()
            w[~np.isfinite(np.take_along_axis(sims, nn, axis=1))] = 0.0  # an excluded photo does not vote
            w /= np.maximum(w.sum(1, keepdims=True), 1e-12)
            out[start : start + len(nn)] = np.einsum("nk,nkw->nw", w, lab[nn].astype(np.float32))
        return out

    def top(
        self, raw: np.ndarray, top: int, min_score: float = 0.0, exclude: Iterable[str] = (), self_id: int | None = None
    ) -> list[tuple[str, float]]:
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


def fit_calibration(
    votes: np.ndarray,
    carries: np.ndarray,
    prior: tuple[float, float] = CALIBRATION_PRIOR,
    ridge: float = CALIBRATION_RIDGE,
) -> tuple[float, float]:
    """(a, b) of the logistic curve p = sigmoid(a * vote + b) that best explains ``carries``.

    Newton's method on the log-loss plus ``ridge`` * |(a, b) - prior|^2 / 2: strictly convex, so it
    converges in a few steps, and with little evidence the answer stays near the prior.
    """
    v = np.asarray(votes, dtype=np.float64)
    y = np.asarray(carries, dtype=np.float64)
    p0 = np.asarray(prior, dtype=np.float64)
    theta = p0.copy()
    for _ in range(50):
        z = 1.0 / (1.0 + np.exp(-np.clip(theta[0] * v + theta[1], -60, 60)))
        r = z - y
        grad = np.array([(r * v).sum(), r.sum()]) + ridge * (theta - p0)
        w = z * (1.0 - z)
        hess = np.array([[(w * v * v).sum(), (w * v).sum()], [(w * v).sum(), w.sum()]]) + ridge * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-9:
            break
    return float(theta[0]), float(theta[1])


def merge_suggestions(
    model: Sequence[tuple[str, float]], personal: Sequence[tuple[str, float]], top: int
) -> list[tuple[str, float, str]]:
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


def user_words_in(text: str, user_tags: Iterable[str]) -> tuple[list[str], str]:
    """The user's tags found in a query (phrases, longest first), and the rest of its words.

    "Rex on grandma's house" with user tags {"rex", "grandma's house"} gives
    (["rex", "grandma's house"], "on"): spelled and split as every tag and query is (core/tags.py).
    """
    words = query_words(text)
    phrases: dict[tuple[str, ...], str] = {}
    for tag in user_tags:
        key = tuple(query_words(tag))
        if key:
            phrases.setdefault(key, tag)
    if not words or not phrases:
        return [], text
    longest = max(len(k) for k in phrases)
    mine: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            found = phrases.get(tuple(words[i : i + n]))
            if found is not None:
                if found not in mine:
                    mine.append(found)
                i += n
                break
        else:
            rest.append(words[i])
            i += 1
    return mine, " ".join(rest)
