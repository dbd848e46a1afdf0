"""Search and ranking: free text and look-alikes answered from the vector index (``Library.search`` and
``Library.similar`` delegate here; a query with the user's own words goes to personal_search.py).

The index, catalog and text encoder are handed in by the facade, which owns them (core/library.py loads
the index verified and reconciled with the catalog, core/integrity.py rebuilds it on any doubt).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .catalog import Catalog
from .library_types import QueryError, SearchHit
from .text_encoder import TextEncoder
from .vector_index import VectorIndex
from .when_where_search import ranked_within


def nearest(
    vi: VectorIndex,
    catalog: Catalog,
    query: np.ndarray,
    limit: int,
    exclude: int | None = None,
    candidates: np.ndarray | None = None,
) -> list[SearchHit]:
    """The ``limit`` photos nearest to ``query`` (cosine, best first), without ``exclude``; only among
    ``candidates`` (ids a date or place filter let through) when given."""
    if vi.count == 0:
        raise QueryError("the library has no indexed photos yet (run attalos-index first)")
    k = limit + (1 if exclude is not None else 0)
    ids, scores = vi.search(query, k) if candidates is None else ranked_within(vi, query, candidates, k)
    paths = catalog.paths_for_ids(ids.tolist())
    hits = [
        SearchHit(int(i), paths[int(i)], float(s)) for i, s in zip(ids, scores) if int(i) in paths and int(i) != exclude
    ]
    return hits[:limit]


def search_text(
    text: str,
    limit: int,
    *,
    text_encoder: TextEncoder,
    catalog: Catalog,
    index: Callable[[], VectorIndex],
    typical_norm: Callable[[], float],
    candidates: np.ndarray | None = None,
) -> list[SearchHit]:
    """Photos nearest to free text (any words; unknown words through the bundle's OOV mapping), scored
    as a relevance in 0..1. ``index`` and ``typical_norm`` are asked for only once the text has a word."""
    pieces = text_encoder.pieces(text)
    q = text_encoder.encode(text)
    if q is None or not pieces:
        raise QueryError(f"the query {text!r} has no usable word")
    hits = nearest(index(), catalog, q, limit, candidates=candidates)
    # Relevance in 0..1 with the ranking unchanged: sigmoid(cosine * |word vector| * |photo vector|),
    # the photo's length taken as the library's typical one. For one word and a model whose embeddings
    # have a constant length (the default's) it is exactly the probability its tag suggestion shows.
    scale = float(np.mean([np.linalg.norm(p.vector) for p in pieces])) * typical_norm()
    return [SearchHit(h.photo_id, h.path, sigmoid(h.score * scale)) for h in hits]


def typical_norm(raw: np.ndarray) -> float:
    """Median length of raw photo vectors (the library's background sample: no extra read)."""
    return float(np.median(np.linalg.norm(raw, axis=1))) if len(raw) else 1.0


def sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0))))
