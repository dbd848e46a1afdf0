"""The query thread: typed requests answered in order by one long-lived Library.

A request is a small dataclass with a ``run(lib)`` method, executed on the query thread. Whoever
submits it hands over the reply handler (and optionally an error handler); both run on the GUI
thread. Errors travel as the exception object itself, so a handler tells them apart with
``isinstance`` (``QueryError`` is "no results", anything else is a failure)::

    client.submit(SearchRequest("dog", 200), on_reply=show_results, on_error=search_failed)

The bundle (text encoder, tag matrix) stays loaded between requests: typing in the search box costs
one text embedding and one ANN query, never a model load. A request class with ``supersedes =
True`` is worthless once a newer one of its class was submitted: a queued older one is skipped
without running and a late answer to it is dropped.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, Signal, Slot

Reply = Callable[[Any], None]
OnError = Callable[[BaseException, str], None]  # the exception, its formatted traceback


def describe(exc: BaseException) -> str:
    """One line for the user: ``Type: message``."""
    msg = str(exc).strip()
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def open_library(home: str | None, model: str | None = None):
    from attalos_desktop.core.library import Library

    return Library.open(home=home, model=model)


def _warnings(result: Any) -> list[str]:
    """The one-line warnings a tag write returned (older cores return None)."""
    if not result:
        return []
    if isinstance(result, str):
        return [result]
    return [str(x) for x in result if x]


# --------------------------------------------------------------------------------------------
# What the requests answer
# --------------------------------------------------------------------------------------------


@dataclass
class Detail:
    """Everything the detail panel shows for one photo."""

    photo: Any  # PhotoRow
    user_tags: list[str]
    suggestions: list[Any]  # TagScore


@dataclass
class Results:
    """Ranked photos: search or similar results (``rows[i]`` scored ``hits[i].score``).

    A search also carries what the core understood of its text (the chips under the search box), how many
    photos its date/place filter lets through (None without a filter) and why an empty answer is empty.
    """

    rows: list[Any]
    hits: list[Any]
    understood: Any = None  # UnderstoodQuery (searches only)
    matching: int | None = None
    why_empty: str | None = None

    @property
    def scores(self) -> list[float]:
        return [float(h.score) for h in self.hits]

    @property
    def ranked(self) -> bool:
        """False for a date/place filter without visual words: its photos are listed newest first, and the
        core's uniform score says nothing (the grid shows none)."""
        u = self.understood
        return u is None or not (u.filtered and not u.visual_text)


@dataclass
class TagWrite:
    """What a tag write did: the photos written, and one-line warnings (an unwritable sidecar)."""

    photo_ids: list[int]
    warnings: list[str]


@dataclass
class TrainingSummary:
    """The user's tags as training data: photos with at least one tag, photos per word, new words."""

    photos: int
    words: dict[str, int]  # word -> photos carrying it, most used first
    new_words: list[str]  # words the current model's tag layer does not have


@dataclass
class ModelList:
    models: list[dict]
    current: str
    provider: str


# --------------------------------------------------------------------------------------------
# Requests (``run`` executes on the query thread with that thread's Library)
# --------------------------------------------------------------------------------------------


@dataclass
class Request:
    supersedes: ClassVar[bool] = False
    title: ClassVar[str] = "Query failed"  # what a failure is called when nobody handles it
    reopens: ClassVar[bool] = False  # the service reopens its Library after this request

    on_reply: Reply | None = field(default=None, init=False, repr=False, compare=False)
    on_error: OnError | None = field(default=None, init=False, repr=False, compare=False)
    seq: int = field(default=0, init=False, compare=False)

    def run(self, lib: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def _rows_for(lib: Any, hits: list[Any]) -> Results:
    rows, kept = [], []
    for h in hits:
        try:
            rows.append(lib.photo(h.photo_id))
        except (KeyError, LookupError):
            continue  # removed by an indexer since the vector index was saved
        kept.append(h)
    return Results(rows, kept)


@dataclass
class Overview:
    """What the sidebar shows: the roots with their photo counts, how many files failed, and the years
    and places (countries with their cities) the photos were taken in, with their counts."""

    roots: list[Any]
    failures: int
    years: list[tuple[int, int]] = field(default_factory=list)
    places: list[Any] = field(default_factory=list)  # PlaceCount


@dataclass
class OverviewRequest(Request):
    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Could not read the library"

    def run(self, lib: Any) -> Overview:
        return Overview(list(lib.roots()), len(lib.failures()), list(lib.years()), list(lib.places()))


@dataclass
class PhotosRequest(Request):
    """The photos of one root (None: all), in catalog order."""

    root_id: Any = None
    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Could not list photos"

    def run(self, lib: Any) -> list[Any]:
        return lib.photos(root_id=self.root_id)


@dataclass
class SearchRequest(Request):
    """Free text of visual words, dates and places; answered with what the core understood of it.

    A date/place filter without visual words lists its photos newest first: there is no ranking to cut,
    so up to ``filter_limit`` of them come back (a sidebar year is worth browsing whole), not ``limit``.
    """

    text: str = ""
    limit: int = 200
    filter_limit: int = 5000
    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Search failed"

    def run(self, lib: Any) -> Results:
        answer = lib.find(self.text, limit=self.limit, listing_limit=max(self.limit, self.filter_limit))
        res = _rows_for(lib, answer.hits)
        res.understood, res.matching, res.why_empty = answer.understood, answer.matching, answer.why_empty
        return res


@dataclass
class PlaceQueryRequest(Request):
    """The search text that names one place of the sidebar's Places, checked against the core's reading.

    A city is asked for with its country ("paris france": the core reads both as Paris in France, and
    the country tells apart two towns of one name); whichever text the core reads back as exactly this
    place wins, else one that at least includes it, else the first.
    """

    place: Any = None  # PlaceName
    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Could not read the place"

    def run(self, lib: Any) -> str:
        p = self.place
        candidates = [p.name] if p.kind == "country" else [f"{p.name} {p.country}", p.name]
        fallback: str | None = None
        for text in candidates:
            terms = lib.understand(text).terms
            if len(terms) != 1 or terms[0].kind != "place":
                continue
            if list(terms[0].places) == [p]:
                return text
            if fallback is None and p in terms[0].places:
                fallback = text
        return fallback or candidates[0]


@dataclass
class SimilarRequest(Request):
    photo_id: int = 0
    limit: int = 100
    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Find similar failed"

    def run(self, lib: Any) -> Results:
        return _rows_for(lib, lib.similar(photo_id=self.photo_id, limit=self.limit))


def _detail(lib: Any, pid: int, top: int, min_score: float, places: bool = False) -> Detail:
    """A photo's detail; with ``places`` (the user's opt-in) its town and country lead the suggestions."""
    suggested = lib.suggest_tags(pid, top=top, min_score=min_score)
    if places:
        place = lib.place_tags(pid)
        taken = {t.tag for t in place}
        suggested = place + [s for s in suggested if s.tag not in taken]
    return Detail(lib.photo(pid), lib.user_tags(pid), suggested)


@dataclass
class DetailRequest(Request):
    """One photo's metadata, user tags and suggestions (arrowing through photos supersedes)."""

    photo_id: int = 0
    top: int = 10
    min_score: float = 0.0
    places: bool = False  # offer the photo's town and country as tags (Settings)
    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Could not read the photo"

    def run(self, lib: Any) -> Detail:
        return _detail(lib, self.photo_id, self.top, self.min_score, self.places)


@dataclass
class SuggestRequest(Request):
    """Details of several photos, for one review dialog (each dialog has its own request)."""

    photo_ids: list[int] = field(default_factory=list)
    top: int = 10
    min_score: float = 0.0
    places: bool = False  # offer each photo's town and country as tags (Settings)
    title: ClassVar[str] = "Could not suggest tags"

    def run(self, lib: Any) -> dict[int, Detail]:
        return {pid: _detail(lib, pid, self.top, self.min_score, self.places) for pid in self.photo_ids}


@dataclass
class ReviewRequest(Request):
    """Save review decisions: [(photo id, accepted tags, rejected tags)]."""

    decisions: list[tuple[int, list[str], list[str]]] = field(default_factory=list)
    title: ClassVar[str] = "Could not save tags"

    def run(self, lib: Any) -> TagWrite:
        done: list[int] = []
        warnings: list[str] = []
        for pid, accepted, rejected in self.decisions:
            if accepted:
                warnings += _warnings(lib.accept_tags(pid, accepted))
            if rejected:
                warnings += _warnings(lib.reject_tags(pid, rejected))
            done.append(pid)
        return TagWrite(done, warnings)


@dataclass
class RemoveTagsRequest(Request):
    photo_id: int = 0
    tags: list[str] = field(default_factory=list)
    title: ClassVar[str] = "Could not remove the tag"

    def run(self, lib: Any) -> TagWrite:
        return TagWrite([self.photo_id], _warnings(lib.remove_user_tags(self.photo_id, self.tags)))


@dataclass
class GetSidecarsRequest(Request):
    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Could not read the sidecar setting"

    def run(self, lib: Any) -> bool:
        return bool(lib.sidecars_enabled())


@dataclass
class SetSidecarsRequest(Request):
    on: bool = True
    title: ClassVar[str] = "Could not change the sidecar setting"

    def run(self, lib: Any) -> bool:
        lib.set_sidecars_enabled(bool(self.on))
        return bool(lib.sidecars_enabled())


@dataclass
class TrainingSummaryRequest(Request):
    """How many photos carry the user's own tags, and each word's photo count (Train on my tags)."""

    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Could not read your tags"

    def run(self, lib: Any) -> TrainingSummary:
        counts: dict[str, int] = {}
        photos = 0
        for row in lib.photos():
            tags = lib.user_tags(row.id)
            if tags:
                photos += 1
                for t in tags:
                    counts[t] = counts.get(t, 0) + 1
        known = set(lib.bundle.tags)
        ranked = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        return TrainingSummary(photos, ranked, sorted(set(counts) - known))


@dataclass
class FailuresRequest(Request):
    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Could not list the problems"

    def run(self, lib: Any) -> list[Any]:
        return lib.failures()


@dataclass
class CompletionRequest(Request):
    """Words to complete typed tags with: the vocabulary and the user's own words."""

    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Could not read the vocabulary"

    def run(self, lib: Any) -> list[str]:
        return list(lib.completion_words())


@dataclass
class ModelsRequest(Request):
    supersedes: ClassVar[bool] = True
    title: ClassVar[str] = "Could not list models"

    def run(self, lib: Any) -> ModelList:
        bundle = lib.bundle  # loaded first, so available_models() lists it even from elsewhere
        return ModelList(lib.available_models(), str(bundle.path), lib.provider)


@dataclass
class SetModelRequest(Request):
    """Switch the library's model; answers whether the photos need re-embedding."""

    path: str = ""
    title: ClassVar[str] = "Could not switch model"
    reopens: ClassVar[bool] = True  # this thread's Library then reads with the new model

    def run(self, lib: Any) -> bool:
        return bool(lib.set_model(self.path))


@dataclass
class RemoveRootRequest(Request):
    root_id: Any = None
    title: ClassVar[str] = "Could not remove the folder"

    def run(self, lib: Any) -> Any:
        lib.remove_root(self.root_id)
        return self.root_id


# --------------------------------------------------------------------------------------------
# The thread and its GUI-side handle
# --------------------------------------------------------------------------------------------


class QueryService(QObject):
    """Lives on its own QThread and runs requests in order with its own Library."""

    done = Signal(object, object)  # request, result
    failed = Signal(object, object, str)  # request (None: opening the library), exception, traceback
    _incoming = Signal(object)

    def __init__(self, home: str | None) -> None:
        super().__init__()
        self.home = home
        self.lib = None
        # Newest seq per superseding class (written by the GUI thread, read here; single dict item
        # assignments are atomic under the GIL).
        self.latest: dict[type, int] = {}
        self._incoming.connect(self._handle)

    def submit(self, req: Request) -> None:
        """Thread-safe: queue a request (called from the GUI thread)."""
        self._incoming.emit(req)

    @Slot()
    def start(self) -> None:
        try:
            self.lib = open_library(self.home)
        except BaseException as exc:  # noqa: BLE001 - reported, never lost
            self.failed.emit(None, exc, traceback.format_exc())

    @Slot()
    def stop(self) -> None:
        if self.lib is not None:
            try:
                self.lib.close()
            except Exception:  # noqa: BLE001
                pass
            self.lib = None

    @Slot(object)
    def _handle(self, req: Request) -> None:
        if req.supersedes and req.seq < self.latest.get(type(req), 0):
            return  # superseded while queued (typing in the search box, arrowing through photos)
        try:
            if self.lib is None:
                self.lib = open_library(self.home)
            result = req.run(self.lib)
            if req.reopens:
                self.stop()
                self.lib = open_library(self.home)
        except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread as it is
            self.failed.emit(req, exc, traceback.format_exc())
            return
        self.done.emit(req, result)


class QueryClient(QObject):
    """GUI-side handle of the query thread: ``submit`` a request; its handlers run on this thread.

    ``failed`` reports what no handler took: a request submitted without ``on_error`` (with its
    class's title) and a library that cannot be opened.
    """

    failed = Signal(str, object, str)  # title, exception, traceback

    def __init__(self, home: str | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._next = 0
        self._pending: set[int] = set()
        self._latest: dict[type, int] = {}
        self.closed = False
        self.thread = QThread()
        self.thread.setObjectName("attalos-query")
        self.service = QueryService(home)
        self.service.moveToThread(self.thread)
        self.thread.started.connect(self.service.start)
        self.service.done.connect(self._on_done)
        self.service.failed.connect(self._on_failed)
        self.thread.start()

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def submit(self, req: Request, on_reply: Reply | None = None, on_error: OnError | None = None) -> Request:
        self._next += 1
        req.seq = self._next
        req.on_reply, req.on_error = on_reply, on_error
        self._pending.add(req.seq)
        if req.supersedes:
            old = self._latest.get(type(req))
            if old is not None:
                self._pending.discard(old)  # skipped by the service: never answers
            self._latest[type(req)] = req.seq
            self.service.latest[type(req)] = req.seq
        self.service.submit(req)
        return req

    def _current(self, req: Request) -> bool:
        self._pending.discard(req.seq)
        if self.closed:
            return False
        return not req.supersedes or self._latest.get(type(req)) == req.seq

    @Slot(object, object)
    def _on_done(self, req: Request, result: object) -> None:
        if self._current(req) and req.on_reply is not None:
            req.on_reply(result)

    @Slot(object, object, str)
    def _on_failed(self, req: Request | None, exc: BaseException, tb: str) -> None:
        if req is None:
            if not self.closed:
                self.failed.emit("Could not open the library", exc, tb)
            return
        if not self._current(req):
            return
        if req.on_error is not None:
            req.on_error(exc, tb)
        else:
            self.failed.emit(req.title, exc, tb)

    def shutdown(self) -> None:
        self.closed = True
        if not self.thread.isRunning():
            return
        # stop() must run on the service thread (the Library's SQLite connection lives there).
        QMetaObject.invokeMethod(self.service, "stop", Qt.ConnectionType.BlockingQueuedConnection)
        self.thread.quit()
        self.thread.wait(10000)
