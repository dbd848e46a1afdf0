"""Searching with the user's own words: a query that is or contains words the user put on photos
(``Library.search`` sends it here; core/personal.py finds the words and votes for them).

Photos carrying all of those words come first, then the others by the probability the words apply: per
word the personal vote (or the model's own tag score when the word is in its vocabulary and that is
higher; 1 for a photo that carries it), multiplied over the words and by the geometric mean of the model's
scores for the query's other words.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .bundle import ModelBundle
from .catalog import Catalog
from .encoder import unit
from .library_types import QueryError, SearchHit
from .personal import PersonalVotes
from .text_encoder import TextEncoder
from .vector_index import VectorIndex
from .when_where_search import EXACT_FILTER_MAX

PERSONAL_SEARCH_FLOOR = 0.01  # below this probability a photo is not an answer to a search for a user word
MAX_SEEDS = 64  # tagged photos whose neighbours become candidates
SEED_NEIGHBOURS = 32  # (at least) neighbours of each


def search_user_words(
    mine: list[str],
    rest: str,
    limit: int,
    *,
    vi: VectorIndex,
    catalog: Catalog,
    bundle: ModelBundle,
    text_encoder: TextEncoder,
    votes: Callable[[], PersonalVotes],
    within: np.ndarray | None = None,
) -> list[SearchHit]:
    """The ranked answer to a query made of the user's words ``mine`` and the other text ``rest``; only
    photos of ``within`` (ids a date or place filter let through) when given: a filter of up to
    EXACT_FILTER_MAX photos has every one of them scored, a wider one the usual candidates inside it."""
    if vi.count == 0:
        raise QueryError("the library has no indexed photos yet (run attalos-index first)")
    b, enc, pv = bundle, bundle.encoder_id, votes()
    pieces = [p.vector for p in text_encoder.pieces(rest)] if rest.strip() else []
    carrying_all = set(catalog.photos_with_tags(mine))
    carrying = {w: set(catalog.photos_with_tags([w])) for w in mine}
    allowed = None if within is None else set(int(i) for i in within)
    if allowed is not None and len(allowed) <= EXACT_FILTER_MAX:
        candidates = set(allowed)
    else:
        candidates = set(carrying_all)
        seeds = sorted(set().union(*carrying.values()))
        if len(seeds) > MAX_SEEDS:
            seeds = [seeds[int(i)] for i in np.linspace(0, len(seeds) - 1, MAX_SEEDS).round()]
        k = max(limit, SEED_NEIGHBOURS)
        for _, vecs in catalog.iter_vectors(enc, seeds):
            for v in vecs:
                candidates.update(int(i) for i in vi.search(v, k)[0])
        if pieces:
            q = unit(np.mean([unit(v) for v in pieces], axis=0))
            candidates.update(int(i) for i in vi.search(q, max(limit * 4, 200))[0])
        if allowed is not None:
            candidates &= allowed
    ranked: list[tuple[bool, float, int]] = []
    for ids, raw in catalog.iter_vectors(enc, sorted(candidates)):
        score = np.ones(len(ids), dtype=np.float64)
        personal = pv.scores(raw, exclude_ids=ids, words=mine)
        for c, w in enumerate(mine):
            p = personal[:, c].astype(np.float64)
            t = b.tag_index(w)
            if t is not None:
                p = np.maximum(p, 1.0 / (1.0 + np.exp(-np.clip(raw @ b.tag_vectors[t], -60, 60))))
            has = np.fromiter((int(i) in carrying[w] for i in ids), dtype=bool, count=len(ids))
            score *= np.where(has, 1.0, p)
        if pieces:
            logits = np.stack([raw @ v for v in pieces], axis=1)
            rel = 1.0 / (1.0 + np.exp(-np.clip(logits, -60, 60)))
            score *= np.exp(np.log(np.maximum(rel, 1e-12)).mean(axis=1))
        ranked.extend((int(i) in carrying_all, float(sc), int(i)) for i, sc in zip(ids, score))
    ranked = [r for r in ranked if r[0] or r[1] >= PERSONAL_SEARCH_FLOOR]
    ranked.sort(key=lambda r: (not r[0], -r[1], r[2]))
    ranked = ranked[:limit]
    paths = catalog.paths_for_ids([r[2] for r in ranked])
    return [SearchHit(pid, paths[pid], round(sc, 6)) for _, sc, pid in ranked if pid in paths]
