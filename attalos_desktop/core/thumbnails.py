"""Thumbnail disk cache (no Qt): small JPEGs made once per photo version, reused across runs.

A thumbnail's file name is a hash of the photo's absolute path, the requested size and the photo's
mtime and byte size, so an edited photo gets a fresh thumbnail and an unchanged one is never decoded
again. A camera JPEG whose embedded EXIF preview is at least the requested size and agrees with the
photo (core/exif_preview.py: ``embedded_preview``) is made from that preview without decoding the photo
(the grid's default 160 px fits the usual 160x120 preview); other JPEGs are decoded in draft mode (the
decoder scales by 1/2..1/8 for free). Photos are opened as the indexer opens them (HEIC and RAW
previews with the ``formats`` extra), EXIF orientation is applied, and files are written atomically
so a killed process never leaves a half thumbnail.

An indexer that decodes a photo anyway hands the fitted pixels to ``store`` (the GUI's index job does,
in its own process), so the window mostly only reads small files. Callers in a GUI run ``get`` in
worker threads; it is thread-safe (distinct temp names, atomic rename) and never touches the originals.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from PIL import Image, ImageOps

from .exif_preview import embedded_preview
from .fsutil import atomic_write
from .imageio import (
    ImageError,
    apply_orientation,
    check_decode_memory,
    ensure_regular_file,
    open_image,
    orientation_of,
    previews_enabled,
    thumbnail_resample,
)

CACHE_ENV = "ATTALOS_CACHE_DIR"
APP_NAME = "attalos-desktop"
# Decompression-bomb guard: refuse to decode images above this many pixels for a thumbnail.
MAX_PIXELS = 200_000_000


class ThumbnailError(Exception):
    """A thumbnail could not be made; the message says why (missing, corrupt, not an image...)."""


def default_cache_dir() -> Path:
    """The user cache dir (platformdirs), or $ATTALOS_CACHE_DIR when set (tests, portable installs)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME))


def library_cache_root(home: str | os.PathLike[str] | None) -> Path:
    """Where a library's thumbnails live: $ATTALOS_CACHE_DIR, else the library's cache dir by the
    core's rule (inside an explicit library). The window and ``attalos-index --thumbnails`` share it."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    from .paths import resolve_paths

    return resolve_paths(home).cache


class ThumbnailCache:
    """Thumbnails of ``size`` pixels (longest side) stored under ``<root>/thumbnails/<size>/``."""

    def __init__(self, root: str | os.PathLike[str] | None = None, quality: int = 85) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.dir = self.root / "thumbnails"
        self.quality = quality
        self._made = 0
        self._lock = threading.Lock()

    @property
    def made(self) -> int:
        """How many thumbnails this object decoded and wrote (cache misses)."""
        return self._made

    def key(self, path: str | os.PathLike[str], size: int) -> str | None:
        """Cache key of a photo version, or None when the file cannot be stat'ed."""
        p = os.path.abspath(os.fspath(path))
        try:
            st = os.stat(p)
        except OSError:
            return None
        raw = f"{p}\0{int(size)}\0{st.st_mtime_ns}\0{st.st_size}".encode("utf-8", "surrogatepass")
        return hashlib.sha1(raw).hexdigest()

    def cached_path(self, path: str | os.PathLike[str], size: int) -> Path | None:
        """Where the thumbnail of this photo version lives (whether or not it exists yet)."""
        key = self.key(path, size)
        if key is None:
            return None
        return self.dir / str(int(size)) / key[:2] / f"{key}.jpg"

    def lookup(self, path: str | os.PathLike[str], size: int) -> Path | None:
        """The cached thumbnail if it already exists; never decodes."""
        out = self.cached_path(path, size)
        return out if out is not None and out.is_file() else None

    def get(self, path: str | os.PathLike[str], size: int) -> Path:
        """Return the thumbnail file for ``path``, making it on a cache miss. Raises ThumbnailError."""
        out = self.cached_path(path, size)
        if out is None:
            raise ThumbnailError(f"cannot read {path}: file is missing or unreadable")
        if out.is_file():
            return out
        self._write(out, render_thumbnail(path, size))
        return out

    def store(self, path: str | os.PathLike[str], size: int, image: Image.Image) -> bool:
        """Keep ``image`` (the photo's upright pixels already fitted in size x size, e.g. by the indexer,
        which decoded them anyway) as this photo version's thumbnail unless one exists. False when the
        file cannot be stat'ed; OSError when the cache cannot be written."""
        out = self.cached_path(path, size)
        if out is None:
            return False
        if not out.is_file():
            self._write(out, image)
        return True

    def _write(self, out: Path, img: Image.Image) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, lambda fh: img.save(fh, "JPEG", quality=self.quality, optimize=False))
        with self._lock:
            self._made += 1

    def clear(self) -> None:
        """Delete every cached thumbnail."""
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)


def render_thumbnail(path: str | os.PathLike[str], size: int, *, preview: bool | None = None) -> Image.Image:
    """Decode ``path`` (its embedded preview when big enough, else draft mode for JPEG), apply EXIF
    orientation and fit it in size x size (RGB). ``preview`` defaults to ``previews_enabled()``."""
    size = int(size)
    if size <= 0:
        raise ValueError("thumbnail size must be positive")
    try:
        ensure_regular_file(path)  # a FIFO named x.jpg must not block the GUI
    except ImageError as exc:
        raise ThumbnailError(f"{path}: {exc.reason}") from exc
    try:
        try:
            opened = open_image(path)
        except ImageError as exc:
            if "not found" in exc.reason or "permission" in exc.reason:
                raise ThumbnailError(f"{path}: {exc.reason}") from exc
            raise ThumbnailError(f"{path}: cannot decode image ({exc.reason})") from exc
        with opened as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ThumbnailError(f"{path}: image too large ({w}x{h})")
            jpeg = im.format in ("JPEG", "MPO")
            if jpeg:
                # draft() lets libjpeg scale while decoding; ask for at least the final size.
                im.draft("RGB", (size, size))
            try:
                check_decode_memory(im)
            except ImageError as exc:
                raise ThumbnailError(f"{path}: {exc.reason}") from exc
            use = jpeg and "attalos_raw" not in im.info and (previews_enabled() if preview is None else preview)
            pv = embedded_preview(im, (w, h), min_long=size) if use else None
            if pv is not None:
                im = apply_orientation(pv, orientation_of(im))
            else:
                im = ImageOps.exif_transpose(im)
            if im.mode not in ("RGB", "L"):
                if "A" in im.getbands() or im.mode == "P":
                    im = im.convert("RGBA")
                    bg = Image.new("RGB", im.size, (255, 255, 255))
                    bg.paste(im, mask=im.getchannel("A"))
                    im = bg
                else:
                    im = im.convert("RGB")
            elif im.mode == "L":
                im = im.convert("RGB")
            im.thumbnail((size, size), thumbnail_resample(size))
            im.load()
            return im
    except ThumbnailError:
        raise
    except FileNotFoundError as exc:
        raise ThumbnailError(f"{path}: file not found") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ThumbnailError(f"{path}: cannot decode image ({exc})") from exc
