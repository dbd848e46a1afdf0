"""Walking library roots: every photo file once, safely, fast enough for no-op rescans of 100k files.

- Recursive, iterative (no recursion limit on deep trees), ``os.scandir`` so most type checks need
  no extra system call.
- Hidden files and folders (name starting with ".") and the library's own folder are skipped.
- Symlinks are followed, but every directory is entered at most once (keyed by device + inode), so a
  link loop terminates and a folder reachable by two routes is not counted twice; symlinks are followed
  after the real tree, so a photo reachable both ways keeps its real path; files are likewise
  de-duplicated by device + inode (a photo linked twice is one photo).
- Broken symlinks, symlink loops and unreadable folders are reported as problems with a reason, and so
  is a FIFO, socket or device with a photo's name (it is never opened: a FIFO would block the reader).
- XMP sidecars (``*.xmp``, any case; not through symlinks) are noted with their mtime on the way, so a
  rescan sees sidecar edits of other programs without a system call per photo (core/sidecars.py).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from typing import NamedTuple, Sequence

from .imageio import PHOTO_EXTS


class FileEntry(NamedTuple):
    """One photo file found (a tuple: 100k of them are built on every rescan)."""

    path: str  # as found (may go through a symlink); the catalog's key
    size: int
    mtime_ns: int
    root_id: int | None


@dataclass
class ScanResult:
    files: list[FileEntry] = field(default_factory=list)
    problems: list[tuple[str, int | None, str]] = field(default_factory=list)  # (path, root_id, reason)
    missing_roots: list[int] = field(default_factory=list)  # roots that are not there (unplugged drive?)
    sidecars: dict[str, int] = field(default_factory=dict)  # every *.xmp file found: path -> mtime_ns


def scan(roots: list[tuple[int | None, str]], skip_dirs: Sequence[str] = ()) -> ScanResult:
    """Walk the roots; ``skip_dirs`` (e.g. the library folder) are never entered."""
    result = ScanResult()
    files = result.files
    sidecars = result.sidecars
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    for d in skip_dirs:
        try:
            st = os.stat(d)
            seen_dirs.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    for root_id, root in roots:
        try:
            st = os.stat(root)
        except OSError:
            result.missing_roots.append(root_id)  # type: ignore[arg-type]
            continue
        if not stat.S_ISDIR(st.st_mode):
            result.missing_roots.append(root_id)  # type: ignore[arg-type]
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        stack = [root]
        links: list[tuple[str, bool]] = []  # symlinks, followed after the real tree (real paths win)
        while stack or links:
            if not stack:
                path, photo = links.pop(0)
                try:
                    st = os.stat(path)
                except OSError as exc:
                    if photo or exc.errno == errno.ELOOP:
                        reason = "symlink loop" if exc.errno == errno.ELOOP else "broken symlink"
                        result.problems.append((path, root_id, reason))
                    continue
                _visit(path, st, photo, root_id, stack, seen_dirs, seen_files, result)
                continue
            d = stack.pop()
            try:
                it = os.scandir(d)
            except OSError as exc:
                result.problems.append((d, root_id, f"folder cannot be read: {exc.strerror or exc}"))
                continue
            with it:
                for e in it:
                    name = e.name
                    if name[0] == ".":
                        continue
                    dot = name.rfind(".")
                    ext = name[dot:].lower() if dot > 0 else ""
                    photo = ext in PHOTO_EXTS
                    try:
                        if e.is_symlink():
                            links.append((e.path, photo))
                            continue
                        if photo and e.is_file(follow_symlinks=False):  # the common case, inlined
                            st = e.stat(follow_symlinks=False)
                            key = (st.st_dev, st.st_ino)
                            if key not in seen_files:
                                seen_files.add(key)
                                files.append(FileEntry(e.path, st.st_size, st.st_mtime_ns, root_id))
                            continue
                        if not e.is_dir(follow_symlinks=False):
                            if ext == ".xmp" and e.is_file(follow_symlinks=False):
                                sidecars[e.path] = e.stat(follow_symlinks=False).st_mtime_ns
                            elif photo:  # a FIFO, socket or device with a photo's name: never opened
                                result.problems.append((e.path, root_id, _not_regular(e.stat(follow_symlinks=False))))
                            continue
                        st = e.stat(follow_symlinks=False)
                    except OSError as exc:
                        if photo:
                            result.problems.append((e.path, root_id, f"cannot read file: {exc.strerror or exc}"))
                        continue
                    _visit(e.path, st, photo, root_id, stack, seen_dirs, seen_files, result)
    return result


def _visit(
    path: str,
    st: os.stat_result,
    photo: bool,
    root_id: int | None,
    stack: list[str],
    seen_dirs: set[tuple[int, int]],
    seen_files: set[tuple[int, int]],
    result: ScanResult,
) -> None:
    key = (st.st_dev, st.st_ino)
    if stat.S_ISDIR(st.st_mode):
        if key not in seen_dirs:
            seen_dirs.add(key)
            stack.append(path)
    elif photo and stat.S_ISREG(st.st_mode) and key not in seen_files:
        seen_files.add(key)
        result.files.append(FileEntry(path, st.st_size, st.st_mtime_ns, root_id))
    elif photo and not stat.S_ISREG(st.st_mode):
        result.problems.append((path, root_id, _not_regular(st)))


def _not_regular(st: os.stat_result) -> str:
    m = st.st_mode
    kind = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(m)
        else "a socket"
        if stat.S_ISSOCK(m)
        else "a device"
        if stat.S_ISCHR(m) or stat.S_ISBLK(m)
        else "not a file"
    )
    return f"not a regular file ({kind})"
