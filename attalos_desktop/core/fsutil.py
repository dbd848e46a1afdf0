"""Writing a file so that a reader or a crash only ever sees the old or the new content, never half."""

from __future__ import annotations

import os
import tempfile
from typing import IO, Callable


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[IO[bytes]], object],
    *,
    durable: bool = False,
    mode: int | None = None,
) -> None:
    """Write through a temp file in the same folder, then rename it over ``path``.

    ``durable``: fsync the file and its folder first (precious data such as sidecars; a derived file
    such as a thumbnail can be made again and skips it). ``mode``: permissions to give the new file.
    A failure removes the temp file and re-raises.
    """
    target = os.fspath(path)
    folder = os.path.dirname(target) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(target) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable:
        try:
            dfd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)
