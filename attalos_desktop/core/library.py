"""The library facade: the one object the commands and the GUI use (see docs/core-api.md).

It ties the pieces together: catalog (SQLite), scanner, decode/embed pipeline, vector index, the
model bundle and its text encoder. It owns the rules that span them: which model to use, what counts
as new/changed/moved/removed, that a photo and its vector are committed together, and that the
vector index is reconciled with the catalog before it answers anything.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .bundle import BundleError, ModelBundle, default_bundle_path, find_bundles, load_bundle, resources_models_dir
from .catalog import CatalogError, PhotoInfo
from .encoder import ImageEncoder, top_tags, unit
from .imageio import ImageError, decode_for_model, file_hash
from .lock import LibraryLock, LockHeld
from .paths import LibraryPaths, resolve_paths
from .personal import PersonalVotes, background_sample, merge_suggestions, user_words_in
from .pipeline import Done, Job, ThumbnailTarget, run_pipeline
from .scanner import scan
from .sidecar_sync import SidecarSync
from .tags import normalize_tag
from .text_encoder import TextEncoder
from .vector_index import VectorIndex, catalog_vector_ids, verify_saved
from . import integrity

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
    "Failure",
    "IndexProgress",
    "IndexReport",
]

SUGGESTIONS_STORED = 10
PERSONAL_SEARCH_FLOOR = 0.01  # below this probability a photo is not an answer to a search for a user word
INDEX_SAVE_EVERY_S = 30.0
PROGRESS_EVERY_S = 0.25


class LibraryError(RuntimeError):
    """A fatal problem with the library itself (folder not writable, catalog unreadable, bad path)."""


class LibraryLocked(LibraryError):
    """Another process is indexing this library."""


class QueryError(LibraryError):
    """A search that cannot be answered: empty library, or no usable word in the text."""


@dataclass(frozen=True)
class Root:
    id: int
    path: str
    photo_count: int


@dataclass(frozen=True, slots=True)  # slots: a 100k-photo grid holds one per photo
class PhotoRow:
    id: int
    path: str
    root_id: int | None
    width: int | None
    height: int | None
    taken: str | None
    camera: str | None
    lens: str | None
    gps: tuple[float, float] | None
    size_bytes: int
    mtime: float


@dataclass(frozen=True)
class TagScore:
    tag: str
    score: float
    source: str = "model"  # "model": the bundle's tag layer; "personal": votes of the user's tagged photos


@dataclass(frozen=True)
class SearchHit:
    photo_id: int | None  # None for a photo outside the library (never returned by search today)
    path: str
    score: float


@dataclass(frozen=True)
class Failure:
    path: str
    reason: str


@dataclass(frozen=True)
class IndexProgress:
    phase: str  # "scanning", "comparing", "indexing", "saving", "done"
    done: int
    total: int
    rate: float  # photos per second in this phase
    eta_s: float | None
    current: str | None  # path being worked on


@dataclass
class IndexReport:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    model: str = ""
    provider: str = ""
    cancelled: bool = False

    def to_json(self) -> dict[str, Any]:
        """Exactly the object `attalos-index --json` prints (the issue's shape)."""
        d = asdict(self)
        del d["cancelled"]
        d["failures"] = [{"path": f.path, "reason": f.reason} for f in self.failures]
        d["seconds"] = round(self.seconds, 3)
        return d


PHOTO_PAGE = 2000  # catalog rows read per query when listing photos


def _row(r: tuple, memo: dict[Any, Any] | None = None) -> PhotoRow:
    """A PhotoRow from a catalog row; ``memo`` shares the objects of values that repeat from photo to
    photo (root, sizes, camera, lens), so a long listing holds one copy of each instead of one per row."""
    pid, path, root_id, w, h, taken, camera, lens, lat, lon, size, mtime_ns = r
    if memo is not None:  # keyed with the type: 1 and 1.0 are equal but not the same value to show
        root_id, w, h, camera, lens = (memo.setdefault((type(v), v), v) for v in (root_id, w, h, camera, lens))
    gps = (lat, lon) if lat is not None and lon is not None else None
    return PhotoRow(pid, path, root_id, w, h, taken, camera, lens, gps, size, mtime_ns / 1e9)


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
        db = self.catalog.db
        own = not db.in_transaction
        if own:
            db.execute("BEGIN")  # one read snapshot for all pages, as a single SELECT had
        try:
            while True:
                page = self.catalog.photo_rows(f"{where} ORDER BY id LIMIT {PHOTO_PAGE}", (*args, last))
                out.extend(_row(r, memo) for r in page)
                if len(page) < PHOTO_PAGE:
                    return out
                last = page[-1][0]
        finally:
            if own and db.in_transaction:
                db.execute("COMMIT")

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
        key = (enc, db.total_changes, db.execute("PRAGMA data_version").fetchone()[0])
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
            rec = self.catalog.db.execute("SELECT size, mtime_ns FROM photos WHERE id=?", (pid,)).fetchone()
            try:
                st = os.stat(p)
                if rec and (st.st_size, st.st_mtime_ns) == tuple(rec):
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
        dv = self.catalog.db.execute("PRAGMA data_version").fetchone()[0]
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
        """Cheap check (no index load) that the saved index matches the catalog's current vectors."""
        meta = VectorIndex.saved_meta(self.paths.index_dir)
        n = self.catalog.count_vectors(enc_id)
        if meta is None:
            return n > 0
        if meta.get("encoder_id") != enc_id or meta.get("dim") != self.bundle.dim or meta.get("count") != n:
            return True
        # the files themselves (checksums, structure; no voyager load): a rescan must repair a damaged index
        return verify_saved(self.paths.index_dir, self.bundle.dim, enc_id) is not None

    def _save_repaired(self, vi: VectorIndex) -> None:
        """Persist a rebuilt/repaired index so the next opener need not redo it; only the lock holder writes."""
        if self._writer:
            vi.save()
            return
        lock = LibraryLock(self.paths.lock)
        try:
            lock.acquire()
        except (LockHeld, OSError):
            return  # an indexer is running: it saves its own, reconciled, index
        try:
            vi.save()
        except OSError:
            pass  # a read-only library still answers from memory
        finally:
            lock.release()

    # -- search ------------------------------------------------------------------------------------
    def _hits(self, query: np.ndarray, limit: int, exclude: int | None = None) -> list[SearchHit]:
        vi = self._index()
        if vi.count == 0:
            raise QueryError("the library has no indexed photos yet (run attalos-index first)")
        ids, scores = vi.search(query, limit + (1 if exclude is not None else 0))
        paths = self.catalog.paths_for_ids(ids.tolist())
        hits = [
            SearchHit(int(i), paths[int(i)], float(s))
            for i, s in zip(ids, scores)
            if int(i) in paths and int(i) != exclude
        ]
        return hits[:limit]

    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """Photos nearest to free text (any words; unknown words through the bundle's OOV mapping).

        A query that is or contains the user's own words ranks the photos carrying them first, then
        the photos those words would be suggested for (see ``_search_user_words``).
        """
        mine, rest = self._user_words_in(text)
        if mine:
            return self._search_user_words(mine, rest, limit)
        pieces = self.text_encoder.pieces(text)
        q = self.text_encoder.encode(text)
        if q is None or not pieces:
            raise QueryError(f"the query {text!r} has no usable word")
        hits = self._hits(q, limit)
        # Relevance in 0..1 with the ranking unchanged: sigmoid(cosine * |word vector| * |photo vector|),
        # the photo's length taken as the library's typical one. For one word and a model whose embeddings
        # have a constant length (the default's) it is exactly the probability its tag suggestion shows.
        scale = float(np.mean([np.linalg.norm(p.vector) for p in pieces])) * self._typical_norm()
        return [SearchHit(h.photo_id, h.path, _sigmoid(h.score * scale)) for h in hits]

    def _typical_norm(self) -> float:
        """Median length of the library's raw photo vectors (from the background sample: no extra read)."""
        _, raw = self._background(self.bundle.encoder_id, set())
        return float(np.median(np.linalg.norm(raw, axis=1))) if len(raw) else 1.0

    def _user_words_in(self, text: str) -> tuple[list[str], str]:
        return user_words_in(text, self.catalog.all_user_tags())

    def _search_user_words(self, mine: list[str], rest: str, limit: int) -> list[SearchHit]:
        """Photos carrying all of ``mine`` first, then the others by the probability the words apply.

        That probability is, per word, the personal vote (or the model's own tag score when the word
        is in its vocabulary and that is higher; 1 for a photo that carries it), multiplied over the
        words and by the geometric mean of the model's scores for the query's other words.
        """
        vi = self._index()
        if vi.count == 0:
            raise QueryError("the library has no indexed photos yet (run attalos-index first)")
        b, enc, pv = self.bundle, self.bundle.encoder_id, self.personal_votes()
        pieces = [p.vector for p in self.text_encoder.pieces(rest)] if rest.strip() else []
        carrying_all = set(self.catalog.photos_with_tags(mine))
        carrying = {w: set(self.catalog.photos_with_tags([w])) for w in mine}
        candidates = set(carrying_all)
        seeds = sorted(set().union(*carrying.values()))
        if len(seeds) > 64:
            seeds = [seeds[int(i)] for i in np.linspace(0, len(seeds) - 1, 64).round()]
        k = max(limit, 32)
        for _, vecs in self.catalog.iter_vectors(enc, seeds):
            for v in vecs:
                candidates.update(int(i) for i in vi.search(v, k)[0])
        if pieces:
            q = unit(np.mean([unit(v) for v in pieces], axis=0))
            candidates.update(int(i) for i in vi.search(q, max(limit * 4, 200))[0])
        ranked: list[tuple[bool, float, int]] = []
        for ids, raw in self.catalog.iter_vectors(enc, sorted(candidates)):
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
        paths = self.catalog.paths_for_ids([r[2] for r in ranked])
        return [SearchHit(pid, paths[pid], round(sc, 6)) for _, sc, pid in ranked if pid in paths]

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
        return self._hits(unit(vec), limit, exclude=photo_id)

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
        t0 = time.monotonic()
        bundle, encoder = self.bundle, self.encoder
        enc_id = bundle.encoder_id
        report = IndexReport(model=bundle.name, provider=encoder.provider)
        emit = _Progress(progress)
        if paths:
            roots = self.add_roots(paths)
        else:
            roots = self.roots()
        if self._model_arg is not None:
            self.catalog.set_meta("model_path", str(self._model_arg))

        emit("scanning", 0, 0, None)
        gc_on = gc.isenabled()
        gc.disable()  # the walk builds ~100k small objects per 100k photos and no cycles: skip GC passes
        try:
            found = scan([(r.id, r.path) for r in roots], skip_dirs=[str(self.paths.home)])
            emit("comparing", 0, len(found.files), None)
            records = self.catalog.records(enc_id)
        finally:
            if gc_on:
                gc.enable()
        scope = {r.id for r in roots} - set(found.missing_roots)
        seen = {f.path for f in found.files}
        jobs: list[Job] = []
        candidates = []
        for f in sorted(found.files, key=lambda f: f.path):
            rec = records.get(f.path)
            if rec is None:
                candidates.append(f)
            elif rec.size == f.size and rec.mtime_ns == f.mtime_ns and rec.current:
                report.unchanged += 1
            else:
                jobs.append(Job(f.path, f.size, f.mtime_ns, f.root_id, rec.id, "changed"))
        gone = [rec for p, rec in records.items() if rec.root_id in scope and p not in seen]

        with self.catalog.transaction():
            # Moves: a new path whose content fingerprint matches a photo that disappeared.
            by_key: dict[tuple[int, str], list] = {}
            for rec in gone:
                if rec.hash:
                    by_key.setdefault((rec.size, rec.hash), []).append(rec)
            moved_ids: set[int] = set()
            gone_sizes = {k[0] for k in by_key}
            for f in candidates:
                h = None
                if f.size in gone_sizes:
                    try:
                        h = file_hash(f.path, f.size)
                    except OSError:
                        h = None
                    match = by_key.get((f.size, h)) if h else None
                    if match:
                        rec = match.pop()
                        self.catalog.move_photo(rec.id, f.path, f.root_id, f.size, f.mtime_ns)
                        moved_ids.add(rec.id)
                        report.moved += 1
                        if not rec.current:
                            jobs.append(Job(f.path, f.size, f.mtime_ns, f.root_id, rec.id, "changed", h))
                        continue
                jobs.append(Job(f.path, f.size, f.mtime_ns, f.root_id, None, "new", h))
            removed = [rec.id for rec in gone if rec.id not in moved_ids]
            self.catalog.delete_photos(removed)
            report.removed = len(removed)
            self.catalog.clear_failures(sorted(scope))
            for root in roots:
                if root.id in found.missing_roots:
                    found.problems.append(
                        (root.path, root.id, "folder not found (its photos are kept until it is back)")
                    )
            for path, root_id, reason in found.problems:
                self.catalog.add_failure(path, root_id, reason)
                report.failures.append(Failure(path, reason))
        self._sidecars.rescan(found.sidecars, seen, records, moved_ids)
        # The vector index is loaded (and reconciled with the catalog, repairing what a killed run left
        # behind) only when there is work for it: a no-op rescan of 100k photos need not read it at all.
        vi: VectorIndex | None = None
        if removed or jobs or self._index_needs_repair(enc_id):
            self._vi = None
            vi = self._index()
            vi.remove(np.asarray(removed, dtype=np.int64))

        total = len(jobs)
        done = 0
        t_index = time.monotonic()
        last_save = t_index
        emit("indexing", 0, total, None)
        for ok, emb, failed in run_pipeline(
            jobs, encoder, workers=workers, batch_size=batch_size, cancel=cancel, thumbnails=thumbnails
        ):
            rows: list[PhotoRow] = []
            with self.catalog.transaction():
                for d, vec in zip(ok, emb):
                    rows.append(self._commit_photo(d, vec, enc_id))
                for d in failed:
                    self._commit_failure(d, vi)  # type: ignore[arg-type]
                    report.failures.append(Failure(d.job.path, d.error or "unknown error"))
            vi.add(np.asarray([r.id for r in rows], dtype=np.int64), emb)  # type: ignore[union-attr]
            for d in ok:
                if d.job.kind == "new":
                    report.new += 1
                else:
                    report.changed += 1
            done += len(ok) + len(failed)
            if on_photo is not None:
                for r in rows:
                    on_photo(r)
            emit("indexing", done, total, (ok or failed)[-1].job.path if (ok or failed) else None, t_index)
            if time.monotonic() - last_save > INDEX_SAVE_EVERY_S:
                vi.save()  # type: ignore[union-attr]
                last_save = time.monotonic()
        report.cancelled = bool(cancel is not None and cancel.is_set() and done < total)
        emit("saving", done, total, None)
        if vi is not None and (vi.dirty or vi.generation is None):
            vi.save()
        self._vi_data_version = self.catalog.db.execute("PRAGMA data_version").fetchone()[0]
        report.failed = len(report.failures)
        report.seconds = time.monotonic() - t0
        emit("done", done, total, None, force=True)
        return report

    def _commit_photo(self, d: Done, vec: np.ndarray, enc_id: str) -> PhotoRow:
        job, dec, md = d.job, d.decoded, d.meta
        assert dec is not None and md is not None
        info = PhotoInfo(
            width=dec.width,
            height=dec.height,
            taken=md.taken,
            camera=md.camera,
            lens=md.lens,
            lat=md.lat,
            lon=md.lon,
            orientation=dec.orientation or md.orientation,
            format=dec.format,
        )
        pid = self.catalog.upsert_photo(job.path, job.root_id, job.size, job.mtime_ns, d.hash, info)
        self.catalog.put_vector(pid, enc_id, vec)
        self.catalog.set_file_keywords(pid, d.keywords)
        if job.photo_id is None:  # a new photo's sidecar; known photos' were synced before decoding
            self._sidecars.new_photo(pid, job.path)
        self.catalog.set_suggested(pid, top_tags(self.bundle, vec, SUGGESTIONS_STORED))
        self.catalog.db.execute("DELETE FROM failures WHERE path=?", (os.fsencode(job.path),))
        gps = (md.lat, md.lon) if md.lat is not None and md.lon is not None else None
        return PhotoRow(
            pid,
            job.path,
            job.root_id,
            dec.width,
            dec.height,
            md.taken,
            md.camera,
            md.lens,
            gps,
            job.size,
            job.mtime_ns / 1e9,
        )

    def _commit_failure(self, d: Done, vi: VectorIndex) -> None:
        self.catalog.add_failure(d.job.path, d.job.root_id, d.error or "unknown error")
        if d.job.photo_id is not None:
            # It changed and no longer decodes: its old vector no longer describes it. The row stays
            # (with the old size/mtime, so the next run retries it) but it is not searchable.
            self.catalog.db.execute("DELETE FROM vectors WHERE photo_id=?", (d.job.photo_id,))
            vi.remove(np.asarray([d.job.photo_id], dtype=np.int64))


class _Progress:
    """Throttles progress callbacks to a few per second and computes rate and ETA."""

    def __init__(self, cb: Callable[[IndexProgress], None] | None) -> None:
        self.cb = cb
        self.last = 0.0
        self.phase = ""

    def __call__(
        self, phase: str, done: int, total: int, current: str | None, t_start: float | None = None, force: bool = False
    ) -> None:
        if self.cb is None:
            return
        now = time.monotonic()
        if phase == self.phase and not force and now - self.last < PROGRESS_EVERY_S and done < total:
            return
        self.phase, self.last = phase, now
        rate = done / max(now - t_start, 1e-6) if t_start is not None and done else 0.0
        eta = (total - done) / rate if rate > 0 else None
        self.cb(IndexProgress(phase, done, total, rate, eta, current))


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0))))


def _inside(path: str, folder: str) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), os.path.realpath(folder)]) == os.path.realpath(folder)
    except ValueError:
        return False
