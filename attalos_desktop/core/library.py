"""The library facade: the one object the commands and the GUI use (see docs/core-api.md).

It owns the pieces of one library: the catalog (SQLite), the model bundle with its image and text
encoders, the vector index, the user's words as voters and the XMP sidecar sync; it decides which model
to use and keeps the vector index reconciled with the catalog before it answers anything. The work is
done in rooms a floor below, each handed the pieces it needs:

- index_run.py: one index run (scan, compare, embed, commit photo and vector together);
- search.py: free-text search and look-alikes from the vector index, scored;
- personal_search.py: searching with the user's own words;
- personal.py: the user's words suggested from their nearest tagged photos;
- integrity.py: backups, a damaged catalog restored, the vector index verified and rebuilt;
- catalog.py: every SQL statement; library_types.py: the rows, hits, reports and errors handed out.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import integrity, search as _search
from .bundle import BundleError, ModelBundle, default_bundle_path, find_bundles, load_bundle, resources_models_dir
from .catalog import CatalogError, _s
from .encoder import ImageEncoder, top_tags, unit
from .imageio import ImageError, decode_for_model
from .index_run import IndexRun
from .library_types import (
    Failure,
    IndexProgress,
    IndexReport,
    LibraryError,
    LibraryLocked,
    PhotoRow,
    QueryError,
    Root,
    SearchHit,
    TagScore,
)
from .library_types import photo_row as _row
from .lock import LibraryLock, LockHeld
from .paths import LibraryPaths, resolve_paths
from .personal import PersonalVotes, background_sample, merge_suggestions, user_words_in
from .personal_search import search_user_words
from .pipeline import ThumbnailTarget
from .sidecar_sync import SidecarSync
from .tags import normalize_tag
from .text_encoder import TextEncoder
from .query_terms import PLACE_NAMES_THAT_ARE_WORDS, UnderstoodQuery
from .vector_index import VectorIndex, catalog_vector_ids
from .when_where_search import PlaceCount, SearchAnswer, WhenWhere, photo_place, place_counts, year_counts

__all__ = [
    "Library",
    "LibraryError",
    "LibraryLocked",
    "QueryError",
    "ImageError",
    "BundleError",
    "Root",
    "PhotoRow",
    "TagScore",
    "SearchHit",
    "SearchAnswer",
    "UnderstoodQuery",
    "PlaceCount",
    "Failure",
    "IndexProgress",
    "IndexReport",
]

PHOTO_PAGE = 2000  # catalog rows read per query when listing photos


class Library:
    """A photo library on disk. Belongs to the thread that opened it (its SQLite connection does)."""

    def __init__(self, paths: LibraryPaths, model: str | os.PathLike[str] | None) -> None:
        self.paths = paths
        self._model_arg = Path(model).absolute() if model is not None else None
        try:
            paths.home.mkdir(parents=True, exist_ok=True)
            if not os.access(paths.home, os.W_OK):
                raise PermissionError(13, "Permission denied")
            self.catalog = integrity.open_catalog(paths)  # quick_check; a damaged one is restored
        except (OSError, CatalogError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise LibraryError(f"library folder {paths.home} cannot be used: {why}") from exc
        self._bundle: ModelBundle | None = None
        self._encoder: ImageEncoder | None = None
        self._text: TextEncoder | None = None
        self._vi: VectorIndex | None = None
        self._vi_data_version: int | None = None
        self._writer = False  # True while this object holds the indexer lock
        self._pv: PersonalVotes | None = None
        self._pv_key: tuple | None = None
        self._bg: tuple[tuple, np.ndarray, np.ndarray] | None = None  # (key, ids, raw vectors)
        # Called with IndexProgress("rebuilding", ...) while a damaged/missing vector index is rebuilt.
        self.progress: Callable[[IndexProgress], None] | None = None
        self._tags_edited = False
        self._sidecars = SidecarSync(self.catalog)
        self._when_where = WhenWhere(self.catalog.db, self.catalog.data_version, paths.cache)

    @classmethod
    def open(cls, home: str | os.PathLike[str] | None = None, model: str | os.PathLike[str] | None = None) -> "Library":
        """Open (creating if needed) the library at ``home`` (--library / $ATTALOS_HOME / user data dir)."""
        return cls(resolve_paths(home), model)

    def close(self) -> None:
        if getattr(self, "_tags_edited", False):
            self._backup(due_only=True)
        self.catalog.close()

    def _backup(self, due_only: bool) -> None:
        """A verified catalog backup in <home>/backups (due_only: only when the newest is a few minutes old)."""
        if not due_only or integrity.backup_due(self.paths.home):
            if integrity.backup_catalog(self.catalog, self.paths.home) is not None:
                self._tags_edited = False

    def _edited(self) -> None:
        """After a tag edit: a backup when the last one is older than integrity.BACKUP_EVERY_S."""
        self._tags_edited = True
        self._backup(due_only=True)

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- model -------------------------------------------------------------------------------------
    def _model_path(self) -> Path:
        if self._model_arg is not None:
            return self._model_arg
        remembered = self.catalog.get_meta("model_path")
        if remembered and Path(remembered).is_dir():
            return Path(remembered)
        return default_bundle_path()

    @property
    def bundle(self) -> ModelBundle:
        """The verified model bundle (loaded on first use; BundleError says why it cannot be)."""
        if self._bundle is None:
            self._bundle = load_bundle(self._model_path())
        return self._bundle

    @property
    def encoder(self) -> ImageEncoder:
        if self._encoder is None:
            self._encoder = ImageEncoder(self.bundle)
        return self._encoder

    @property
    def provider(self) -> str:
        return self.encoder.provider

    @property
    def text_encoder(self) -> TextEncoder:
        if self._text is None:
            self._text = TextEncoder(self.bundle)
        return self._text

    def available_models(self) -> list[dict[str, Any]]:
        """Bundles shipped in resources/models and installed under <home>/models, with summaries.

        The bundle in use comes first when it lives elsewhere (``--model DIR``, ATTALOS_DEFAULT_MODEL),
        so a models list always shows what the library runs on.
        """
        try:
            default = default_bundle_path().resolve()
        except BundleError:
            default = None
        found = find_bundles(resources_models_dir(), self.paths.models)
        if self._bundle is not None and self._bundle.path.resolve() not in {p.resolve() for p in found}:
            found.insert(0, self._bundle.path)
        out: list[dict[str, Any]] = []
        for p in found:
            try:
                s = load_bundle(p, verify_checksums=False).summary()
            except BundleError as exc:
                s = {"name": p.name, "path": str(p), "error": str(exc)}
            s["default"] = p.resolve() == default
            out.append(s)
        return out

    def set_model(self, bundle_dir: str | os.PathLike[str]) -> bool:
        """Use another bundle from now on; True when stored vectors must be re-embedded (next index())."""
        b = load_bundle(bundle_dir)
        self._model_arg = None
        self._bundle, self._encoder, self._text, self._vi = b, None, None, None
        self._pv = self._pv_key = self._bg = None
        self.catalog.set_meta("model_path", str(Path(bundle_dir).absolute()))
        return self.catalog.count_vectors(other_than=b.encoder_id) > 0

    # -- roots and photos --------------------------------------------------------------------------
    def roots(self) -> list[Root]:
        return [Root(*r) for r in self.catalog.roots()]

    def add_roots(self, paths: Iterable[str | os.PathLike[str]]) -> list[Root]:
        ids = []
        for p in paths:
            d = os.path.abspath(os.fspath(p))
            if not os.path.isdir(d):
                raise LibraryError(f"{d} is not a folder")
            if _inside(d, str(self.paths.home)):
                raise LibraryError(f"{d} is inside the library's own folder")
            ids.append(self.catalog.add_root(d))
        return [r for r in self.roots() if r.id in ids]

    def remove_root(self, root_id: int) -> None:
        removed = self.catalog.remove_root(root_id)
        if self._vi is not None:
            self._vi.remove(np.asarray(removed, dtype=np.int64))

    def photos(self, root_id: int | None = None) -> list[PhotoRow]:
        """All photos (of one root), by id. Read a page at a time: the catalog's raw rows of a 100k
        library never exist all at once next to the PhotoRows made from them."""
        where, args = ("WHERE id>?", []) if root_id is None else ("WHERE root_id=? AND id>?", [root_id])
        out: list[PhotoRow] = []
        memo: dict[Any, Any] = {}
        last = -1
        with self.catalog.read_snapshot():  # one read snapshot for all pages, as a single SELECT had
            while True:
                page = self.catalog.photo_rows(f"{where} ORDER BY id LIMIT {PHOTO_PAGE}", (*args, last))
                out.extend(_row(r, memo) for r in page)
                if len(page) < PHOTO_PAGE:
                    return out
                last = page[-1][0]

    def photo(self, photo_id: int) -> PhotoRow:
        rows = self.catalog.photo_rows("WHERE id=?", (photo_id,))
        if not rows:
            raise KeyError(photo_id)
        return _row(rows[0])

    def photo_by_path(self, path: str | os.PathLike[str]) -> PhotoRow | None:
        pid = self.catalog.photo_id_for_path(os.path.abspath(os.fspath(path)))
        return self.photo(pid) if pid is not None else None

    def failures(self) -> list[Failure]:
        return [Failure(p, r) for p, r in self.catalog.failures()]

    # -- tags --------------------------------------------------------------------------------------
    def user_tags(self, photo_id: int) -> list[str]:
        return self.catalog.user_tags(photo_id)

    def _vector(self, photo_id: int) -> np.ndarray | None:
        return self.catalog.vector(photo_id, self.bundle.encoder_id)

    def suggest_tags(self, photo_id: int, top: int = 10, min_score: float = 0.0) -> list[TagScore]:
        """Model and personal suggestions in one ranking, best first, without the photo's user tags
        and the tags the user rejected for it."""
        vec = self._vector(photo_id)
        if vec is None:
            return []
        exclude = set(self.catalog.user_tags(photo_id)) | self.catalog.rejected_tags(photo_id)
        return self._ranked(vec, top, min_score, exclude, photo_id)

    def place_tags(self, photo_id: int) -> list[TagScore]:
        """The photo's town and country as tags (source "place"), offered only when the user turned that
        on: none without a GPS position, nor the ones it carries or the user turned down."""
        exclude = set(self.catalog.user_tags(photo_id)) | self.catalog.rejected_tags(photo_id)
        tags = (normalize_tag(p) for p in photo_place(self.catalog.db, photo_id))
        return [TagScore(t, 1.0, "place") for t in dict.fromkeys(tags) if t and t not in exclude]

    def tag_file(self, path: str | os.PathLike[str], top: int = 10, min_score: float = 0.0) -> list[TagScore]:
        """Suggested tags (model and personal) for any photo file; ImageError (with .reason) when it
        cannot be read."""
        p = os.path.abspath(os.fspath(path))
        vec = self._file_vector(p)
        pid = self.catalog.photo_id_for_path(p)
        # A library photo is not offered the words it already carries or the ones the user turned down.
        exclude = set(self.catalog.user_tags(pid)) | self.catalog.rejected_tags(pid) if pid is not None else set()
        return self._ranked(vec, top, min_score, exclude, pid)

    def _ranked(
        self, vec: np.ndarray, top: int, min_score: float, exclude: set[str], photo_id: int | None
    ) -> list[TagScore]:
        model = top_tags(self.bundle, vec, top, min_score, exclude)
        personal = self.personal_votes().top(vec, top, min_score, exclude, self_id=photo_id)
        return [TagScore(t, s, src) for t, s, src in merge_suggestions(model, personal, top)]

    def personal_votes(self) -> PersonalVotes:
        """The user's words as voters (see core/personal.py), rebuilt whenever any tag changed.

        The key is this connection's change counter plus SQLite's data_version (other connections'
        commits), so an accept in the GUI or an ``attalos-tag --add`` elsewhere shows at the next call;
        a rebuild reads only the tagged photos and a fixed background sample, never the whole library.
        """
        enc = self.bundle.encoder_id
        db = self.catalog.db
        key = (enc, db.total_changes, self.catalog.data_version())
        if self._pv is not None and self._pv_key == key:
            return self._pv
        tagged = self.catalog.user_tag_map()
        for pid in self.catalog.rejected_map():
            tagged.setdefault(pid, set())
        ids: list[int] = []
        vecs: list[np.ndarray] = []
        for chunk_ids, chunk in self.catalog.iter_vectors(enc, sorted(tagged)):
            ids.extend(int(i) for i in chunk_ids)
            vecs.append(chunk)
        raw = np.concatenate(vecs) if vecs else np.zeros((0, self.bundle.dim), dtype=np.float32)
        bg_ids, bg = self._background(enc, set(tagged))
        self._pv = PersonalVotes.build(
            np.asarray(ids, dtype=np.int64), raw, [tagged[i] for i in ids], background=bg, background_ids=bg_ids
        )
        self._pv_key = key
        return self._pv

    def _background(self, enc: str, tagged: set[int]) -> tuple[np.ndarray, np.ndarray]:
        """A fixed, evenly spread sample of the library less its tagged photos (resampled when the
        library grows or shrinks, so it stays put while the user tags)."""
        key = (enc, self.catalog.count_vectors(enc))
        if self._bg is None or self._bg[0] != key:
            ids = background_sample(catalog_vector_ids(self.catalog, enc), ())
            got_ids, got = [], []
            for chunk_ids, chunk in self.catalog.iter_vectors(enc, ids.tolist()):
                got_ids.append(chunk_ids)
                got.append(chunk)
            self._bg = (
                key,
                np.concatenate(got_ids) if got_ids else np.zeros(0, dtype=np.int64),
                np.concatenate(got) if got else np.zeros((0, self.bundle.dim), dtype=np.float32),
            )
        keep = ~np.isin(self._bg[1], np.fromiter(tagged, dtype=np.int64, count=len(tagged)))
        return self._bg[1][keep], self._bg[2][keep]

    def _file_vector(self, path: str | os.PathLike[str]) -> np.ndarray:
        p = os.path.abspath(os.fspath(path))
        pid = self.catalog.photo_id_for_path(p)
        if pid is not None:
            rec = self.catalog.file_state(pid)
            try:
                st = os.stat(p)
                if rec and (st.st_size, st.st_mtime_ns) == rec:
                    vec = self._vector(pid)
                    if vec is not None:
                        return vec
            except OSError:
                pass
        dec = decode_for_model(p, self.bundle.preprocessing)
        return self.encoder.embed(dec.tensor[None])[0]

    def _norm_tags(self, tags: Iterable[str]) -> list[str]:
        return [t for t in (normalize_tag(x) for x in tags) if t]

    def accept_tags(self, photo_id: int, tags: Iterable[str]) -> list[str]:
        """Make tags the photo's user tags (and no longer rejected); written to its XMP sidecars too.

        Returns one-line warnings for sidecars that could not be written (empty when all went well);
        the catalog holds the tags either way.
        """
        tags = self._norm_tags(tags)
        self._sidecars.before_write(photo_id)
        with self.catalog.transaction():
            self.catalog.add_user_tags(photo_id, tags)
            self.catalog.unreject_tags(photo_id, tags)
        self._edited()
        return self._sidecars.write(photo_id, tags, ())

    def reject_tags(self, photo_id: int, tags: Iterable[str]) -> list[str]:
        """Never suggest these for the photo again (catalog only: sidecars hold no rejections)."""
        self.catalog.reject_tags(photo_id, self._norm_tags(tags))
        self._edited()
        return []

    def remove_user_tags(self, photo_id: int, tags: Iterable[str]) -> list[str]:
        """Take tags off the photo, in the catalog and its XMP sidecars; warnings as accept_tags."""
        tags = self._norm_tags(tags)
        self._sidecars.before_write(photo_id)
        self.catalog.remove_user_tags(photo_id, tags)
        self._edited()
        return self._sidecars.write(photo_id, (), tags)

    def sidecars_enabled(self) -> bool:
        """Whether tag edits are written to XMP sidecars (the library's setting; on by default)."""
        return self._sidecars.enabled

    def set_sidecars_enabled(self, on: bool) -> None:
        self.catalog.set_write_sidecars(bool(on))

    def completion_words(self) -> list[str]:
        return sorted(set(self.bundle.tags) | set(self.catalog.all_user_tags()))

    def edit_tags(
        self, paths: Sequence[str | os.PathLike[str]], add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> tuple[list[PhotoRow], list[str]]:
        """Add and remove user tags on library photos given by path: what the review dialog does.

        Everything is checked before anything is written: a tag that normalises to nothing or a photo
        outside the library raises LibraryError and changes nothing. Returns the photos and the
        one-line warnings of the sidecar writes (the catalog holds the tags either way).
        """
        add, remove = list(add), list(remove)
        for raw in (*add, *remove):
            if not normalize_tag(raw):
                raise LibraryError(f"the tag {raw!r} has no letters or digits after normalising")
        rows: list[PhotoRow] = []
        for p in paths:
            row = self.photo_by_path(p)
            if row is None:
                raise LibraryError(
                    f"{os.path.abspath(os.fspath(p))} is not in the library "
                    "(add its folder with attalos-index FOLDER first)"
                )
            rows.append(row)
        warnings: list[str] = []
        for row in rows:
            if add:
                warnings.extend(self.accept_tags(row.id, add) or [])
            if remove:
                warnings.extend(self.remove_user_tags(row.id, remove) or [])
        return rows, warnings

    # -- vector index ------------------------------------------------------------------------------
    def _index(self) -> VectorIndex:
        """The vector index, reloaded when a newer one was saved and reconciled when the catalog moved."""
        b = self.bundle
        dv = self.catalog.data_version()
        vi = self._vi
        if vi is not None and not self._writer:
            if (
                VectorIndex.saved_generation(self.paths.index_dir) not in (None, vi.generation)
                or vi.encoder_id != b.encoder_id
            ):
                vi = None
        if vi is None:
            # verified before voyager reads it; rebuilt from the catalog (with progress, told once) on any doubt
            vi = integrity.load_index(self.catalog, self.paths.index_dir, b.dim, b.encoder_id, self._rebuild_progress)
            if vi.dirty:
                self._save_repaired(vi)
            self._vi, self._vi_data_version = vi, dv
        elif dv != self._vi_data_version and not self._writer:
            integrity.reconcile(self.catalog, vi)
            self._vi_data_version = dv
        return vi

    def _rebuild_progress(self, done: int, total: int) -> None:
        if self.progress is not None and total >= 1000:
            self.progress(IndexProgress("rebuilding", done, total, 0.0, None, None))

    def _index_needs_repair(self, enc_id: str) -> bool:
        return integrity.index_needs_repair(self.catalog, self.paths.index_dir, self.bundle.dim, enc_id)

    def _save_repaired(self, vi: VectorIndex) -> None:
        integrity.save_repaired(vi, self.paths.lock, self._writer)

    # -- search (search.py, personal_search.py) -----------------------------------------------------
    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """Photos for a query of visual words, dates and places (``find`` without the explanation)."""
        return self.find(text, limit).hits

    def understand(self, text: str) -> UnderstoodQuery:
        """The query's dates, places and visual words (core/query_terms.py)."""
        user_words: set[str] | None = None

        def is_thing(word: str) -> bool:
            """A word the model sees or the user tags with ("turkey", "charlotte") as well as a place name."""
            nonlocal user_words
            if word in PLACE_NAMES_THAT_ARE_WORDS or self.bundle.tag_index(word) is not None:
                return True
            if user_words is None:  # read once per query, and only when a word needs it
                user_words = set(self.catalog.all_user_tags())
            return word in user_words

        return self._when_where.understand(text, is_thing)

    def find(self, text: str, limit: int = 50, listing_limit: int | None = None) -> SearchAnswer:
        """Photos for free text (any words; unknown ones through the bundle's OOV mapping) whose dates and
        places filter (core/when_where_search.py), with what was understood and why an answer is empty.
        A date or place alone lists up to ``listing_limit`` photos (default ``limit``): the window lets a
        whole year be browsed, while a ranking stays cut at ``limit``.

        Visual words that are or contain the user's own words rank the photos carrying them first, then
        the photos those words would be suggested for (see core/personal_search.py).
        """
        return self._when_where.find(
            self.understand(text),
            listing_limit or limit,
            lambda words, ids: self._visual(words, limit, ids),
            _s,
        )

    def years(self) -> list[tuple[int, int]]:
        """(year, photos), newest first: the sidebar's Years."""
        return year_counts(self.catalog.db)

    def places(self) -> list[PlaceCount]:
        """Countries and their cities with photo counts: the sidebar's Places."""
        return place_counts(self.catalog.db)

    def _visual(self, text: str, limit: int, candidates: np.ndarray | None) -> list[SearchHit]:
        mine, rest = self._user_words_in(text)
        if mine:
            return search_user_words(
                mine,
                rest,
                limit,
                vi=self._index(),
                catalog=self.catalog,
                bundle=self.bundle,
                text_encoder=self.text_encoder,
                votes=self.personal_votes,
                within=candidates,
            )
        return _search.search_text(
            text,
            limit,
            text_encoder=self.text_encoder,
            catalog=self.catalog,
            index=self._index,
            typical_norm=lambda: _search.typical_norm(self._background(self.bundle.encoder_id, set())[1]),
            candidates=candidates,
        )

    def _user_words_in(self, text: str) -> tuple[list[str], str]:
        return user_words_in(text, self.catalog.all_user_tags())

    def similar(
        self, photo_id: int | None = None, path: str | os.PathLike[str] | None = None, limit: int = 50
    ) -> list[SearchHit]:
        """Look-alikes of a library photo (by id or path) or of any photo file (by path)."""
        if photo_id is None and path is None:
            raise ValueError("similar() needs photo_id or path")
        if photo_id is not None:
            vec = self._vector(photo_id)
            if vec is None:
                raise QueryError(f"photo {photo_id} has no vector for the current model (run attalos-index)")
        else:
            p = os.path.abspath(os.fspath(path))  # type: ignore[arg-type]
            photo_id = self.catalog.photo_id_for_path(p)
            vec = self._file_vector(p)
        return _search.nearest(self._index(), self.catalog, unit(vec), limit, exclude=photo_id)

    # -- indexing ----------------------------------------------------------------------------------
    def index(
        self,
        paths: Sequence[str | os.PathLike[str]] | None = None,
        *,
        workers: int | None = None,
        progress: Callable[[IndexProgress], None] | None = None,
        cancel: threading.Event | None = None,
        on_photo: Callable[[PhotoRow], None] | None = None,
        batch_size: int = 32,
        thumbnails: ThumbnailTarget | None = None,
    ) -> IndexReport:
        """Scan roots and bring catalog + index up to date; see docs/core-api.md. ``thumbnails``: also
        leave each decoded photo's thumbnail in that cache (the window's grid then only reads files)."""
        lock = LibraryLock(self.paths.lock)
        try:
            lock.acquire()
        except LockHeld as exc:
            raise LibraryLocked(str(exc)) from None
        except OSError as exc:
            raise LibraryError(f"library folder {self.paths.home} cannot be used: {exc.strerror or exc}") from exc
        self._writer = True
        self.progress = progress
        try:
            report = self._index_locked(paths, workers, progress, cancel, on_photo, batch_size, thumbnails)
            if (
                report.new
                or report.changed
                or report.moved
                or report.removed
                or self._tags_edited
                or not integrity.list_backups(self.paths.home)
            ):
                self._backup(due_only=False)  # after each run that changed something
            return report
        finally:
            self._writer = False
            lock.release()

    def _index_locked(
        self,
        paths: Sequence[str | os.PathLike[str]] | None,
        workers: int | None,
        progress: Callable[[IndexProgress], None] | None,
        cancel: threading.Event | None,
        on_photo: Callable[[PhotoRow], None] | None,
        batch_size: int,
        thumbnails: ThumbnailTarget | None = None,
    ) -> IndexReport:
        bundle, encoder = self.bundle, self.encoder
        roots = self.add_roots(paths) if paths else self.roots()
        if self._model_arg is not None:
            self.catalog.set_meta("model_path", str(self._model_arg))
        run = IndexRun(
            self.catalog, bundle, encoder, self._sidecars, self.paths.home, self._fresh_index, self._index_needs_repair
        )
        report = run.run(roots, workers, progress, cancel, on_photo, batch_size, thumbnails)
        self._vi_data_version = self.catalog.data_version()
        return report

    def _fresh_index(self) -> VectorIndex:
        """The vector index loaded anew (verified, reconciled with the catalog), for an index run."""
        self._vi = None
        return self._index()


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)
    except ValueError:
        return False
