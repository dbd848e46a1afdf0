"""Keeping the catalog and the photos' XMP sidecars in agreement (the library's side of core/sidecars.py).

The catalog is the user's tags; sidecars are where other programs (digiKam, Lightroom, darktable) read
and edit them. Two directions:

- our edits go out: after a tag edit is committed to the catalog it is merged into the sidecar(s), and
  the sidecar's new (path, mtime, keywords) is recorded, so our own write is never mistaken for an edit;
- their edits come in: when a sidecar's (path, mtime) differs from the recorded one, its keywords are
  compared with the last-seen set: keywords it gained become tags (source 'file'), keywords it lost
  leave the photo. A sidecar that went away only drops the record (a lost file must not cost the
  user's words); one that does not parse changes nothing and is retried on the next rescan.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from .catalog import Catalog
from .sidecars import SidecarError, newest_sidecar, read_keywords, sidecars_by_photo, write_keywords

State = tuple[str, int]  # (sidecar path, mtime_ns)


class SidecarSync:
    """The sidecar bookkeeping of one library's catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._scan: dict[str, State] = {}  # photo path -> its sidecar, from the last rescan's walk

    @property
    def enabled(self) -> bool:
        return self.catalog.write_sidecars()

    def before_write(self, photo_id: int) -> None:
        """Take in another program's sidecar edit first, so recording our write does not swallow it."""
        if not self.enabled:
            return
        path = self.catalog.paths_for_ids([photo_id]).get(photo_id)
        if path is not None:
            with self.catalog.transaction():
                self.sync_photo(photo_id, newest_sidecar(path))

    def write(self, photo_id: int, add: Sequence[str], remove: Sequence[str]) -> list[str]:
        """Write a tag edit (already committed to the catalog) to the photo's sidecars; one-line warnings."""
        if not (add or remove) or not self.enabled:
            return []
        path = self.catalog.paths_for_ids([photo_id]).get(photo_id)
        if path is None:
            return []
        warnings: list[str] = []
        try:
            write_keywords(path, add, remove)
        except SidecarError as exc:
            warnings.append(str(exc))
        state = newest_sidecar(path)
        if state is not None:
            try:
                kws = read_keywords(state[0])
            except SidecarError:
                return warnings  # a damaged sidecar is left alone; its record too
            self.catalog.set_sidecar(photo_id, state[0], state[1], kws)  # our own write: not an outside edit
        return warnings

    def sync_photo(
        self, photo_id: int, state: State | None, rec: tuple[str, int, list[str]] | None | bool = False
    ) -> None:
        """Bring the photo's tags in line with its sidecar when that changed since last seen.

        ``rec`` is the recorded state when the caller has it (None: nothing recorded); by default it is
        read. Call inside a transaction.
        """
        if rec is False:
            rec = self.catalog.sidecar_record(photo_id)
        if state is None:
            if rec is not None:
                self.catalog.forget_sidecar(photo_id)
            return
        if rec is not None and (rec[0], rec[1]) == tuple(state):  # type: ignore[index]
            return
        try:
            kws = read_keywords(state[0])
        except SidecarError:
            return
        last = set(rec[2]) if rec else set()  # type: ignore[index]
        now = set(kws)
        self.catalog.add_user_tags(photo_id, [k for k in kws if k not in last], source="file")
        self.catalog.remove_user_tags(photo_id, sorted(last - now))
        self.catalog.set_sidecar(photo_id, state[0], state[1], kws)

    def rescan(self, sidecars: Mapping[str, int], seen: set[str], records: Mapping, moved_ids: set[int]) -> None:
        """Rescan: take in sidecars edited, created or deleted by other programs, without decoding.

        Only modification times from the walk are compared; a sidecar is read only when its path or
        mtime differs from the recorded one. Photos not yet in the catalog are synced when they are
        committed (``new_photo``).
        """
        self._scan = state_of = sidecars_by_photo(seen, dict(sidecars))
        recorded = self.catalog.sidecar_states()
        if not state_of and not recorded:
            return
        with self.catalog.transaction():
            with_state: set[int] = set()
            for path, state in state_of.items():
                rec = records.get(path)
                pid = rec.id if rec is not None else (self.catalog.photo_id_for_path(path) if moved_ids else None)
                if pid is None:
                    continue
                with_state.add(pid)
                if recorded.get(pid) != state:
                    self.sync_photo(pid, state)
            stale = [pid for pid in recorded if pid not in with_state]
            if stale:  # sidecars gone from photos this walk saw (photos outside it are left alone)
                found_ids = {rec.id for p, rec in records.items() if p in seen} | moved_ids
                for pid in stale:
                    if pid in found_ids:
                        self.catalog.forget_sidecar(pid)

    def new_photo(self, photo_id: int, path: str) -> None:
        """A photo committed for the first time: take in the sidecar the walk found for it."""
        state = self._scan.get(path)
        if state is not None:
            self.sync_photo(photo_id, state, rec=None)
