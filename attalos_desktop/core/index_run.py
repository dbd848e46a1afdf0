"""One index run: scan the roots, compare with the catalog, embed what is new or changed, commit photo
and vector together, keep the vector index in step (``Library.index`` takes the lock and delegates here).

- compare: unchanged files (size + mtime, vector from the current encoder) are skipped; a new path whose
  content fingerprint matches a photo that disappeared is a move (it keeps its id and tags); photos gone
  from a scanned root leave the catalog and the index;
- embed: core/pipeline.py decodes ahead in threads and embeds in batches; each batch is committed in one
  transaction (photo row, raw vector, keywords, stored suggestions) and then added to the index, which
  is saved every ``INDEX_SAVE_EVERY_S`` and at the end, so a killed run loses at most the batch in flight;
- sidecars other programs changed are taken in first (core/sidecar_sync.py).
"""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .bundle import ModelBundle
from .capture import capture_place, capture_time, place_pending
from .catalog import Catalog, PhotoInfo
from .encoder import ImageEncoder, top_tags
from .imageio import file_hash
from .metadata import read_exif
from .library_types import Failure, IndexProgress, IndexReport, PhotoRow, Root
from .pipeline import Done, Job, ThumbnailTarget, run_pipeline
from .scanner import scan
from .sidecar_sync import SidecarSync
from .vector_index import VectorIndex

SUGGESTIONS_STORED = 10
INDEX_SAVE_EVERY_S = 30.0
FILL_CHUNK = 500  # photos given their date and place per transaction
PROGRESS_EVERY_S = 0.25


class IndexRun:
    """The parts of the library one run works on, handed in by the facade that owns them.

    ``fresh_index`` loads the vector index anew (verified, reconciled with the catalog, repaired);
    ``needs_repair(encoder_id)`` tells cheaply whether the saved index disagrees with the catalog.
    """

    def __init__(
        self,
        catalog: Catalog,
        bundle: ModelBundle,
        encoder: ImageEncoder,
        sidecars: SidecarSync,
        home: Path,
        fresh_index: Callable[[], VectorIndex],
        needs_repair: Callable[[str], bool],
    ) -> None:
        self.catalog, self.bundle, self.encoder, self.sidecars = catalog, bundle, encoder, sidecars
        self.home, self.fresh_index, self.needs_repair = home, fresh_index, needs_repair

    def run(
        self,
        roots: Sequence[Root],
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
        emit("scanning", 0, 0, None)
        gc_on = gc.isenabled()
        gc.disable()  # the walk builds ~100k small objects per 100k photos and no cycles: skip GC passes
        try:
            found = scan([(r.id, r.path) for r in roots], skip_dirs=[str(self.home)])
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
        self.sidecars.rescan(found.sidecars, seen, records, moved_ids)
        # The vector index is loaded (and reconciled with the catalog, repairing what a killed run left
        # behind) only when there is work for it: a no-op rescan of 100k photos need not read it at all.
        vi: VectorIndex | None = None
        if removed or jobs or self.needs_repair(enc_id):
            vi = self.fresh_index()
            vi.remove(np.asarray(removed, dtype=np.int64))

        total = len(jobs)
        done = 0
        t_index = time.monotonic()
        last_save = t_index
        emit("indexing", 0, total, None)
        for ok, emb, failed in run_pipeline(
            jobs, self.encoder, workers=workers, batch_size=batch_size, cancel=cancel, thumbnails=thumbnails
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
        self._fill_when_where(emit, cancel)
        report.cancelled = bool(cancel is not None and cancel.is_set() and done < total)
        emit("saving", done, total, None)
        if vi is not None and (vi.dirty or vi.generation is None):
            vi.save()
        report.failed = len(report.failures)
        report.seconds = time.monotonic() - t0
        emit("done", done, total, None, force=True)
        return report

    def _commit_photo(self, d: Done, vec: np.ndarray, enc_id: str) -> PhotoRow:
        job, dec, md = d.job, d.decoded, d.meta
        assert dec is not None and md is not None
        taken, offset, source = capture_time(md, job.mtime_ns)
        place = capture_place(md.lat, md.lon)
        stored_source = None if place_pending(md.lat, md.lon, place) else source
        info = PhotoInfo(
            width=dec.width,
            height=dec.height,
            taken=taken,
            camera=md.camera,
            lens=md.lens,
            lat=md.lat,
            lon=md.lon,
            orientation=dec.orientation or md.orientation,
            format=dec.format,
            taken_offset=offset,
            taken_source=stored_source,
            place=place,
        )
        pid = self.catalog.upsert_photo(job.path, job.root_id, job.size, job.mtime_ns, d.hash, info)
        self.catalog.put_vector(pid, enc_id, vec)
        self.catalog.set_file_keywords(pid, d.keywords)
        if job.photo_id is None:  # a new photo's sidecar; known photos' were synced before decoding
            self.sidecars.new_photo(pid, job.path)
        self.catalog.set_suggested(pid, top_tags(self.bundle, vec, SUGGESTIONS_STORED))
        self.catalog.clear_failure(job.path)
        gps = (md.lat, md.lon) if md.lat is not None and md.lon is not None else None
        return PhotoRow(
            pid,
            job.path,
            job.root_id,
            dec.width,
            dec.height,
            taken,
            md.camera,
            md.lens,
            gps,
            job.size,
            job.mtime_ns / 1e9,
            source,
            place.label if place else None,
        )

    def _fill_when_where(self, emit: "_Progress", cancel: threading.Event | None) -> None:
        """Photos indexed before the catalog kept when and where get them from their EXIF header and GPS
        position (no photo is decoded); a photo whose file cannot be read keeps its file's time."""
        todo = self.catalog.photos_without_capture()
        for a in range(0, len(todo), FILL_CHUNK):
            if cancel is not None and cancel.is_set():
                return
            chunk = todo[a : a + FILL_CHUNK]
            updates = []
            for pid, path, mtime_ns in chunk:
                md = read_exif(path)
                taken, offset, source = capture_time(md, mtime_ns)
                place = capture_place(md.lat, md.lon)
                if place_pending(md.lat, md.lon, place):
                    continue  # no gazetteer this run (its one warning said why): the next rescan tries again
                updates.append((pid, taken, offset, source, place))
            with self.catalog.transaction():
                self.catalog.set_capture(updates)
            emit("places", a + len(chunk), len(todo), chunk[-1][1])

    def _commit_failure(self, d: Done, vi: VectorIndex) -> None:
        self.catalog.add_failure(d.job.path, d.job.root_id, d.error or "unknown error")
        if d.job.photo_id is not None:
            # It changed and no longer decodes: its old vector no longer describes it. The row stays
            # (with the old size/mtime, so the next run retries it) but it is not searchable.
            self.catalog.delete_vectors(d.job.photo_id)
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
