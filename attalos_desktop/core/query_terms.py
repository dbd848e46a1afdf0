"""One query, three kinds of words: what a search box's text means ("cat paris 2019").

Dates and places are read out of the query; the rest is the visual query. The grammar:

- a year: ``2019`` (1826 to next year); a month: ``june 2019``, ``jun 2019``, ``2019-06``, ``2019/06``; a day:
  ``2019-06-01``; a season of a year: ``summer 2019`` (meteorological, northern: June to August; winter
  2019 is December 2019 to February 2020);
- a range: ``2018-2020``, ``2018..2020``, ``2019-06-01..2019-08-31``, ``2019-06..2019-08``, or any two dates
  joined by ``to``, ``until``, ``-`` or ``..`` (``june 2019 to august 2019``); both ends included;
- a place: a city, region or country, in any case and without accents, of up to four words (``new york``,
  ``rio de janeiro``), and a country's common names (``usa``, ``uk``, ``holland``).

A word that is both a place and a thing ("china", "turkey", "nice") is a place only when the library has
photos there; ``notes`` says which reading was taken. Words that together name one thing (a tag of the
user's such as "new york trip", a word of the model's such as "drilling platform") stay together. A place
the library has no photos from is still a place (the answer is then empty, and says why) unless it is also
a thing. A date-shaped word that is no date ("2019-13-40") is ignored and noted. "in", "at", "from", "during" before a date or place are dropped.
Several dates (or several places) widen the filter; a date and a place narrow it.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Callable

from .gazetteer import PlaceName, fold

MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
SEASONS = {"spring": 3, "summer": 6, "autumn": 9, "fall": 9, "winter": 12}  # first month of three
CONNECTORS = {"in", "at", "from", "during", "near", "around"}
RANGE_WORDS = {"to", "until", "till", "-", "–", "—", ".."}
MAX_PLACE_WORDS = 4
# Places (cities of 100,000 people or more, regions) whose names are also everyday English words: with no
# photos there, the word is the word (the model's own vocabulary is asked too, for "turkey", "china",
# "buffalo"). The compass words and the like name first-level regions ("West", Cameroon; "Central", Ghana;
# "Bay", Somalia) and "X City" cities ("International City", Dubai): "north beach" is no place filter.
PLACE_NAMES_THAT_ARE_WORDS = frozenset(
    "nice reading mobile split orange surprise independence hollywood aurora sunrise paradise enterprise corona"
    " concord temple mesa eagle normal liberty pearl garland phoenix buffalo jersey chad jordan bath deal hope"
    " guinea chile cork sale mission victoria lincoln columbia spring salt lens man wells ely rugby derby"
    " sandy pueblo glendale fairfield lakewood arlington richmond charlotte florence valencia mercedes alexandria"
    " march may china turkey"
    " north south east west central centre eastern western northern southern bay delta plateau islands unity"
    " international universal vista male colon".split()
)
FIRST_PHOTO_YEAR = 1826

_DATE = re.compile(r"^(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?$")
_DATE_SHAPED = re.compile(r"^\d{4}[-/.]\d{1,2}([-/.]\d{1,2})?$")
_RANGE = re.compile(r"^(.+?)(?:\.\.|–|—|(?<=\d)-(?=\d{4}(?:$|[-/.])))(.+)$")


@dataclass(frozen=True)
class DateSpan:
    """Days ``start`` (included) to ``end`` (excluded), local time as the camera recorded it."""

    start: _dt.date
    end: _dt.date
    label: str

    @property
    def phrase(self) -> str:
        """ "in June 2019", "on 2019-06-01", "from 2018 to 2020": how a sentence names it."""
        if " to " in self.label:
            return f"from {self.label}"
        return f"on {self.label}" if self.end - self.start == _dt.timedelta(days=1) else f"in {self.label}"

    def bounds(self) -> tuple[str, str]:
        """ISO strings the catalog's ``taken`` compares with: start <= taken < end."""
        return self.start.isoformat(), self.end.isoformat()


@dataclass(frozen=True)
class QueryTerm:
    """A piece of the query: ``kind`` "words" (visual), "date", "place" or "ignored"."""

    kind: str
    text: str  # as typed: taking it out of the query removes this term
    label: str  # as shown: "cat", "Paris, France", "June 2019"
    date: DateSpan | None = None
    places: tuple[PlaceName, ...] = ()


@dataclass
class UnderstoodQuery:
    terms: list[QueryTerm] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # readings taken ("turkey" the place) and words ignored

    @property
    def visual_text(self) -> str:
        return " ".join(t.text for t in self.terms if t.kind == "words")

    @property
    def dates(self) -> list[DateSpan]:
        return [t.date for t in self.terms if t.kind == "date" and t.date is not None]

    @property
    def places(self) -> list[PlaceName]:
        return [p for t in self.terms if t.kind == "place" for p in t.places]

    @property
    def filtered(self) -> bool:
        return any(t.kind in ("date", "place") for t in self.terms)

    def where_and_when(self) -> str:
        """ "from Paris, France in 2019" (empty without a filter)."""
        places = " or ".join(t.label for t in self.terms if t.kind == "place")
        dates = " or ".join(t.date.phrase for t in self.terms if t.kind == "date" and t.date is not None)
        return " ".join(p for p in (f"from {places}" if places else "", dates) if p)

    def describe(self) -> str:
        """What was understood, in words: 'photos of "cat" from Paris, France in 2019'."""
        what = self.visual_text
        head = f'photos of "{what}"' if what else "photos"
        where_when = self.where_and_when()
        text = f"{head} {where_when}".strip() if where_when else head
        return text + "".join(f"; {n}" for n in self.notes)

    def why_empty(self) -> str:
        """ "no photos from Paris, France in 2021"."""
        return f"no photos {self.where_and_when()}".strip()

    def without(self, index: int) -> str:
        """The query's text with term ``index`` taken out (a GUI chip's remove button)."""
        return " ".join(t.text for i, t in enumerate(self.terms) if i != index and t.kind != "ignored")


def understand(
    text: str,
    *,
    library_places: dict[str, list[PlaceName]],
    world_places: Callable[[], dict[str, list[PlaceName]]],
    is_thing: Callable[[str], bool],
    today: _dt.date | None = None,
) -> UnderstoodQuery:
    """Split ``text`` into visual words, dates and places.

    ``library_places``: folded name -> places the library has photos from; ``world_places`` (asked only
    for a word that might be a place the library lacks) the same for the whole gazetteer; ``is_thing``:
    whether a folded word is also a thing the model can see (its vocabulary, common words).
    """
    today = today or _dt.date.today()
    tokens = text.split()
    out = UnderstoodQuery()
    words: list[str] = []
    connector: str | None = None

    def flush_words() -> None:
        nonlocal connector
        if connector is not None:
            words.append(connector)
            connector = None
        if words:
            out.terms.append(QueryTerm("words", " ".join(words), " ".join(words)))
            words.clear()

    def add_filter(term: QueryTerm) -> None:
        nonlocal connector
        connector = None  # "in" before a date or place is part of it
        flush_words()
        out.terms.append(term)

    i = 0
    while i < len(tokens):
        got = _date_at(tokens, i, today)
        if got is not None:
            span, n = got
            if span is None:
                flush_words()
                bad = " ".join(tokens[i : i + n])
                out.terms.append(QueryTerm("ignored", bad, bad))
                out.notes.append(f'ignored "{bad}": not a date')
            else:
                add_filter(QueryTerm("date", " ".join(tokens[i : i + n]), span.label, date=span))
            i += n
            continue
        phrase = _phrase_at(tokens, i, is_thing)
        if phrase:  # "new york trip", a tag of the user's, or a word of the model's like "drilling platform"
            if connector is not None:
                words.append(connector)
                connector = None
            words.extend(tokens[i : i + phrase])
            i += phrase
            continue
        place = _place_at(tokens, i, library_places, world_places, is_thing, out.notes)
        if place is not None:
            places, n = place
            text = " ".join(tokens[i : i + n])
            before = out.terms[-1] if out.terms and connector is None and not words else None
            if before is not None and before.kind == "place":  # "sydney australia": Sydney in Australia
                inner = _within(before.places, places) or _within(places, before.places)
                if inner:
                    out.terms[-1] = QueryTerm("place", f"{before.text} {text}", _label(inner), places=tuple(inner))
                    i += n
                    continue
            add_filter(QueryTerm("place", text, _label(places), places=tuple(places)))
            i += n
            continue
        tok = tokens[i]
        if fold(tok) in CONNECTORS and connector is None:
            connector = tok
        else:
            if connector is not None:
                words.append(connector)
                connector = None
            words.append(tok)
        i += 1
    flush_words()
    return out


# -- dates ------------------------------------------------------------------------------------------------
def _date_at(tokens: list[str], i: int, today: _dt.date) -> tuple[DateSpan | None, int] | None:
    """(span, tokens used) for a date or range starting at ``i``; (None, n) for a date-shaped non-date."""
    tok = tokens[i].strip(",;")
    m = _RANGE.match(tok)
    if m and _DATE.match(m.group(1)) and _DATE.match(m.group(2)):
        a, b = _one_date(m.group(1), today), _one_date(m.group(2), today)
        return (_join(a, b), 1) if a and b else (None, 1)
    first = _single_at(tokens, i, today)
    if first is None:
        return None
    span, n = first
    if span is not None and i + n + 1 < len(tokens) and tokens[i + n].lower() in RANGE_WORDS:
        second = _single_at(tokens, i + n + 1, today)
        if second is not None and second[0] is not None:
            return _join(span, second[0]), n + 1 + second[1]
    return span, n


def _single_at(tokens: list[str], i: int, today: _dt.date) -> tuple[DateSpan | None, int] | None:
    tok = tokens[i].strip(",;").lower()
    if (tok in MONTHS or tok in SEASONS) and i + 1 < len(tokens):
        year = _year(tokens[i + 1].strip(",;"), today)
        if year is not None:
            if tok in MONTHS:
                start = _dt.date(year, MONTHS[tok], 1)
                return DateSpan(start, _next_month(start), start.strftime("%B %Y")), 2
            start = _dt.date(year, SEASONS[tok], 1)
            end = _next_month(_next_month(_next_month(start)))
            return DateSpan(start, end, f"{tok} {year}"), 2
    if _DATE.match(tok) or _DATE_SHAPED.match(tok):
        span = _one_date(tok, today)
        if span is not None:
            return span, 1
        return (None, 1) if _DATE_SHAPED.match(tok) else None
    return None


def _year(tok: str, today: _dt.date) -> int | None:
    if len(tok) == 4 and tok.isdigit() and FIRST_PHOTO_YEAR <= int(tok) <= today.year + 1:
        return int(tok)
    return None


def _one_date(tok: str, today: _dt.date) -> DateSpan | None:
    m = _DATE.match(tok)
    if not m:
        return None
    year = _year(m.group(1), today)
    if year is None:
        return None
    try:
        if m.group(3):
            day = _dt.date(year, int(m.group(2)), int(m.group(3)))
            return DateSpan(day, day + _dt.timedelta(days=1), day.isoformat())
        if m.group(2):
            start = _dt.date(year, int(m.group(2)), 1)
            return DateSpan(start, _next_month(start), start.strftime("%B %Y"))
    except ValueError:
        return None
    return DateSpan(_dt.date(year, 1, 1), _dt.date(year + 1, 1, 1), str(year))


def _next_month(d: _dt.date) -> _dt.date:
    return _dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)


def _join(a: DateSpan, b: DateSpan) -> DateSpan | None:
    if b.end <= a.start:
        a, b = b, a
    return DateSpan(a.start, b.end, f"{a.label} to {b.label}")


# -- places -----------------------------------------------------------------------------------------------
_KIND_ORDER = {"country": 0, "region": 1, "city": 2}


def _label(places: list[PlaceName] | tuple[PlaceName, ...]) -> str:
    """One name for a term's places: "New York, United States" for the state and its city; the bare name
    when it names places in several countries ("London")."""
    if len({p.country_code for p in places}) > 1:
        return places[0].name
    return sorted(places, key=lambda p: _KIND_ORDER[p.kind])[0].label


def _within(
    inner: tuple[PlaceName, ...] | list[PlaceName], outer: tuple[PlaceName, ...] | list[PlaceName]
) -> list[PlaceName]:
    """The places of ``inner`` that lie in one of ``outer``'s countries (``outer`` naming countries only)."""
    if not outer or any(p.kind != "country" for p in outer):
        return []
    codes = {p.country_code for p in outer}
    return [p for p in inner if p.kind != "country" and p.country_code in codes]


def _phrase_at(tokens: list[str], i: int, is_thing: Callable[[str], bool]) -> int:
    """How many tokens from ``i`` (two to four) name one thing, which no place name may split; 0 for none."""
    for n in range(min(MAX_PLACE_WORDS, len(tokens) - i), 1, -1):
        key = fold(" ".join(tokens[i : i + n]))
        if " " in key and is_thing(key):
            return n
    return 0


def _place_at(
    tokens: list[str],
    i: int,
    library: dict[str, list[PlaceName]],
    world: Callable[[], dict[str, list[PlaceName]]],
    is_thing: Callable[[str], bool],
    notes: list[str],
) -> tuple[list[PlaceName], int] | None:
    """The longest run of words from ``i`` that names a place, and how many tokens it took."""
    for n in range(min(MAX_PLACE_WORDS, len(tokens) - i), 0, -1):
        raw = tokens[i : i + n]
        if any(any(c.isdigit() for c in t) for t in raw):
            continue
        key = fold(" ".join(raw))
        if not key or key in CONNECTORS:
            continue
        if key in library:
            thing = n == 1 and is_thing(key)
            if thing:
                notes.append(f'read "{" ".join(raw)}" as the place {library[key][0].label}, not the thing')
            return library[key], n
        if n == 1 and is_thing(key):
            if key in world():
                notes.append(f'read "{" ".join(raw)}" as a thing: no photos from {world()[key][0].label}')
            continue
        if len(key) > 2 or n > 1 or key == "uk":
            places = world().get(key)
            if places:
                return places, n
    return None
