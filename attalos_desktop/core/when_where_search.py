"""Search by when and where: the catalog's dates and places as filters beside the visual query
(``Library.find`` and ``Library.search`` come here; core/query_terms.py reads the query).

- a filter alone lists its photos newest first, straight from SQLite's (place, taken) and (taken)
  indexes: no vector is read;
- a filter with visual words ranks the filtered photos by them: up to EXACT_FILTER_MAX candidates are
  scored exactly (their vectors from the index), a wider filter asks HNSW for enough neighbours to hold
  ``limit`` of them and falls back to exact scoring when it does not;
- the Years and Places lists (the GUI's sidebar) are counts over the same columns.
"""

from __future__ import annotations

import functools
import gc
import math
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .gazetteer import COUNTRY_ALIASES, PlaceName, fold, world_place_names
from .library_types import QueryError, SearchHit
from .query_terms import UnderstoodQuery, understand
from .vector_index import VectorIndex

EXACT_FILTER_MAX = 20_000  # candidates scored exactly (~60 ms at most); a wider filter goes through HNSW first
FILTER_ONLY_SCORE = 1.0  # a filter-only answer has no relevance to show: every photo matches


@dataclass
class SearchAnswer:
    """Hits plus what the query was understood as, and why the answer is empty when it is."""

    hits: list[SearchHit]
    understood: UnderstoodQuery
    matching: int | None = None  # photos the date/place filter lets through (None: no filter)
    why_empty: str | None = None


@dataclass(frozen=True)
class PlaceCount:
    """A sidebar entry: a country with its photo count, and its cities (most photos first)."""

    place: PlaceName
    count: int
    cities: list["PlaceCount"] = field(default_factory=list)


@functools.lru_cache(maxsize=1 << 13)
def _fold(name: str) -> str:
    """``fold`` of the names a library has (a few hundred, each several times): a re-read after a catalog
    change spent two thirds of its ~10 ms at 100k photos folding the same names again."""
    return fold(name)


def library_places(db: sqlite3.Connection) -> dict[str, list[PlaceName]]:
    """Folded name -> places the library has photos from (city, region, country and its common names)."""
    out: dict[str, list[PlaceName]] = {}

    def put(key: str, p: PlaceName) -> None:
        if key and p not in out.setdefault(key, []):
            out[key].append(p)

    rows = db.execute(
        "SELECT DISTINCT place_city, place_region, place_country, place_cc FROM photos WHERE place_cc IS NOT NULL"
    )
    for city, region, country, cc in rows:
        country = country or cc
        if city:
            put(_fold(city), PlaceName("city", city, cc, country))
            if _fold(city).endswith(" city"):
                put(_fold(city)[: -len(" city")], PlaceName("city", city, cc, country))
        if region:
            put(_fold(region), PlaceName("region", region, cc, country))
        c = PlaceName("country", country, cc, country)
        for name in (country, *COUNTRY_ALIASES.get(cc, [])):
            put(_fold(name), c)
    return out


def _place_sql(p: PlaceName) -> tuple[str, list[object]]:
    if p.kind == "city":
        return "place_city = ? AND place_cc = ?", [p.name, p.country_code]
    if p.kind == "region":
        return "place_region = ? AND place_cc = ?", [p.name, p.country_code]
    return "place_cc = ?", [p.country_code]


def filter_sql(q: UnderstoodQuery) -> tuple[str, list[object]]:
    """The WHERE clause (without the keyword) of the query's dates and places; "" without a filter."""
    parts: list[str] = []
    args: list[object] = []
    if q.dates:
        parts.append("(" + " OR ".join("(taken >= ? AND taken < ?)" for _ in q.dates) + ")")
        args.extend(b for d in q.dates for b in d.bounds())
    if q.places:
        sql = [_place_sql(p) for p in q.places]
        parts.append("(" + " OR ".join(f"({w})" for w, _ in sql) + ")")
        args.extend(v for _, values in sql for v in values)
    return " AND ".join(parts), args


def _conjunctions(q: UnderstoodQuery) -> list[tuple[str, list[object]]]:
    """The filter as an OR of simple conditions, each date with each place: each one range of one index."""
    dates: list[tuple[str, list[object]]] = [("taken >= ? AND taken < ?", list(d.bounds())) for d in q.dates]
    places = [_place_sql(p) for p in q.places]
    return [
        (" AND ".join(w for w in (dw, pw) if w), [*da, *pa])
        for dw, da in dates or [("", [])]
        for pw, pa in places or [("", [])]
    ]


def count_matching(db: sqlite3.Connection, q: UnderstoodQuery) -> int:
    where, args = filter_sql(q)
    return int(db.execute(f"SELECT COUNT(*) FROM photos WHERE {where}", args).fetchone()[0])


def newest_first_sql(q: UnderstoodQuery, limit: int) -> tuple[str, list[object]]:
    """The SELECT (id, path) and parameters of ``newest_first``, which bench/when_where_bench.py explains.

    Several dates or places are read one condition at a time, each newest first along its own index and
    cut at ``limit``, then merged: as one OR, SQLite sorts every matching photo first ("new york", the
    state or its city, ~25 ms at 100k photos against ~0.1 ms)."""
    parts = _conjunctions(q)
    order = "ORDER BY taken DESC, id DESC LIMIT ?"
    if len(parts) == 1:
        where, args = parts[0]
        return f"SELECT id, path FROM photos WHERE {where} {order}", [*args, limit]
    each = " UNION ".join(f"SELECT * FROM (SELECT id, path, taken FROM photos WHERE {w} {order})" for w, _ in parts)
    return f"SELECT id, path FROM ({each}) {order}", [*(a for _, args in parts for a in (*args, limit)), limit]


def newest_first(
    db: sqlite3.Connection, q: UnderstoodQuery, limit: int, paths: Callable[[bytes], str]
) -> list[SearchHit]:
    """The filter's photos, newest first (undated ones last).

    The collector is paused meanwhile: the window lists up to 5,000 photos, and the hits (small objects, no
    cycles) would set off collection passes over the whole process's heap (p99 35 ms instead of ~12 ms)."""
    sql, params = newest_first_sql(q, limit)
    gc_on = gc.isenabled()
    gc.disable()
    try:
        return [SearchHit(int(pid), paths(p), FILTER_ONLY_SCORE) for pid, p in db.execute(sql, params)]
    finally:
        if gc_on:
            gc.enable()


def matching_ids(db: sqlite3.Connection, q: UnderstoodQuery) -> np.ndarray:
    """The filter's photo ids, sorted. Read as one comma-separated string: a row per id costs ~0.2 us of
    Python each (14 ms for a country of 58k photos), the string ~4 ms."""
    where, args = filter_sql(q)
    text = db.execute(f"SELECT group_concat(id) FROM photos WHERE {where}", args).fetchone()[0]
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.fromstring(text, dtype=np.int64, sep=","))


def ranked_within(
    vi: VectorIndex, query: np.ndarray, candidates: np.ndarray, limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``limit`` candidates nearest to ``query`` (ids, cosines), best first."""
    if len(candidates) <= EXACT_FILTER_MAX or vi.count == 0:
        return vi.score_ids(query, candidates, limit)
    share = len(candidates) / max(vi.count, 1)
    k = min(vi.count, max(limit * 4, int(math.ceil(limit / share * 2))))
    ids, scores = vi.search(query, k)
    keep = np.isin(ids, candidates, assume_unique=True)
    if int(keep.sum()) >= min(limit, len(candidates)):
        return ids[keep][:limit], scores[keep][:limit]
    return vi.score_ids(query, candidates, limit)


def photo_place(db: sqlite3.Connection, photo_id: int) -> list[str]:
    """The photo's town and country ("Paris", "France"): what "Suggest the place as a tag" offers."""
    row = db.execute("SELECT place_city, place_country FROM photos WHERE id=?", (photo_id,)).fetchone()
    return [p for p in (row or ()) if p]


def year_counts(db: sqlite3.Connection) -> list[tuple[int, int]]:
    """(year, photos) for every year with photos, newest first (unknown dates are left out)."""
    rows = db.execute(
        "SELECT CAST(substr(taken, 1, 4) AS INTEGER) AS y, COUNT(*) FROM photos WHERE taken IS NOT NULL"
        " GROUP BY y ORDER BY y DESC"
    )
    return [(int(y), int(n)) for y, n in rows if y]


def place_counts(db: sqlite3.Connection) -> list[PlaceCount]:
    """Countries by photo count, each with its cities by photo count."""
    countries: dict[str, tuple[str, int, list[PlaceCount]]] = {}
    rows = db.execute(
        "SELECT place_cc, place_country, place_city, COUNT(*) FROM photos WHERE place_cc IS NOT NULL"
        " GROUP BY place_cc, place_city"
    )
    for cc, country, city, n in rows:
        name = country or cc
        _, total, cities = countries.get(cc, (name, 0, []))
        if city:
            cities.append(PlaceCount(PlaceName("city", city, cc, name), int(n)))
        countries[cc] = (name, total + int(n), cities)
    out = [
        PlaceCount(PlaceName("country", name, cc, name), total, sorted(cities, key=lambda c: (-c.count, c.place.name)))
        for cc, (name, total, cities) in countries.items()
    ]
    return sorted(out, key=lambda c: (-c.count, c.place.name))


class WhenWhere:
    """The library's dates and places as a query sees them; the places it has are re-read only when the
    catalog changed (this connection's change counter plus SQLite's data_version for other writers)."""

    def __init__(self, db: sqlite3.Connection, data_version: Callable[[], int], cache_dir: Path | None) -> None:
        self.db, self.data_version, self.cache_dir = db, data_version, cache_dir
        self._places: tuple[tuple[int, int], dict[str, list[PlaceName]]] | None = None

    def library_places(self) -> dict[str, list[PlaceName]]:
        key = (self.db.total_changes, self.data_version())
        if self._places is None or self._places[0] != key:
            self._places = (key, library_places(self.db))
        return self._places[1]

    def understand(self, text: str, is_thing: Callable[[str], bool]) -> UnderstoodQuery:
        return understand(
            text,
            library_places=self.library_places(),
            world_places=lambda: world_place_names(self.cache_dir),
            is_thing=is_thing,
        )

    def find(
        self,
        q: UnderstoodQuery,
        listing_limit: int,
        visual: Callable[[str, np.ndarray | None], list[SearchHit]],
        paths: Callable[[bytes], str],
    ) -> SearchAnswer:
        """The answer to an understood query: a filter alone lists up to ``listing_limit`` photos newest
        first; ``visual(words, candidates)`` ranks photos by visual words (its own limit)."""
        if not q.filtered:
            if not q.visual_text:
                why = "; ".join(q.notes) or "no words"
                raise QueryError(f"nothing to search for ({why})")
            return SearchAnswer(visual(q.visual_text, None), q)
        n = count_matching(self.db, q)
        if n == 0:
            return SearchAnswer([], q, 0, q.why_empty())
        if not q.visual_text:
            return SearchAnswer(newest_first(self.db, q, listing_limit, paths), q, n)
        return SearchAnswer(visual(q.visual_text, matching_ids(self.db, q)), q, n)
