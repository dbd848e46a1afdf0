"""Photo decoding for the encoder: fast, safe, and with a reason for every refusal.

Why it is written this way:
- JPEG draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale straight away, so a 12-MP photo costs
  a fraction of a full decode; the encoder only needs a few hundred pixels a side.
- The declared pixel count is checked before any pixel is decoded (decompression bombs).
- EXIF orientation is applied before embedding: a sideways photo must not embed as a sideways scene.
- Only the centre crop the encoder sees is resampled (``resize(box=...)``), never the whole photo.
- Every failure becomes an ``ImageError`` with a short human reason, which the indexer records.
- Only regular files are opened: a FIFO, socket or device named ``x.jpg`` is refused from its ``stat``
  (opening a FIFO would block forever).
- A memory ceiling for decoding (``MAX_DECODE_BYTES``, env ``ATTALOS_MAX_DECODE_MB``): the decoded
  buffer a photo would need, after the reduced decoding its format allows (JPEG draft: 1/2..1/8
  scale), must fit, else the photo is refused with its reason. It sits below Pillow's own bomb limit,
  so the app, not Pillow's default, decides what a photo may cost.
HEIC/HEIF (pillow-heif) and camera RAW (rawpy, embedded preview) are used when installed.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
import warnings
from dataclasses import dataclass
from typing import Any, Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .bundle import Preprocessing

MAX_PIXELS = 250_000_000  # declared size above this is refused, also if Pillow's own guard is off
MAX_DECODE_MB = 256  # default memory ceiling for one decoded photo (peak use is about twice this)
ENV_MAX_DECODE_MB = "ATTALOS_MAX_DECODE_MB"
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "La": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3,
                    "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4, "I": 4, "F": 4, "I;16": 2, "I;16L": 2,
                    "I;16B": 2, "I;16N": 2}

PILLOW_EXTS = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
HEIF_EXTS = {".heic", ".heif", ".hif"}
RAW_EXTS = {".dng", ".cr2", ".cr3", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".orf", ".rw2", ".raf", ".pef",
            ".srw", ".raw", ".rwl", ".3fr", ".erf", ".kdc", ".mrw", ".x3f"}
PHOTO_EXTS = PILLOW_EXTS | HEIF_EXTS | RAW_EXTS
ALLOWED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF", "AVIF"}

try:  # optional extra: attalos-desktop[formats]
    import pillow_heif  # type: ignore[import-not-found]

    pillow_heif.register_heif_opener()
    HAVE_HEIF = True
except Exception:  # noqa: BLE001 - any import problem means "not available"
    HAVE_HEIF = False

try:
    import rawpy  # type: ignore[import-not-found]

    HAVE_RAW = True
except Exception:  # noqa: BLE001
    HAVE_RAW = False


class ImageError(Exception):
    """A file that cannot be used as a photo; ``reason`` is the short text recorded in the catalog."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Decoded:
    """What the encoder input came from: the photo's own size and orientation, and its format."""

    tensor: np.ndarray  # float32 [3, S, S], normalised
    width: int  # as displayed (after orientation)
    height: int
    orientation: int | None
    format: str
    extra: Any = None  # what the caller's inspect(image) returned (metadata read from the open image)


def is_photo_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in PHOTO_EXTS


def _reason_for_oserror(exc: OSError) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "file not found (moved or deleted before it could be read)"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno == errno.EISDIR:
        return "is a directory"
    return f"cannot read file: {exc.strerror or exc}"


def max_decode_bytes() -> int:
    """The decoding memory ceiling in bytes (``ATTALOS_MAX_DECODE_MB`` overrides ``MAX_DECODE_MB``)."""
    try:
        mb = float(os.environ.get(ENV_MAX_DECODE_MB, "") or MAX_DECODE_MB)
    except ValueError:
        mb = MAX_DECODE_MB
    return int(max(mb, 1.0) * (1 << 20))


def ensure_regular_file(path: str | os.PathLike[str]) -> os.stat_result:
    """stat() the path (following links) and refuse anything but a regular file, without opening it."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ImageError(_reason_for_oserror(exc)) from exc
    if not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise ImageError("is a directory")
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a file")
        raise ImageError(f"not a regular file ({kind})")
    return st


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open (not decode) a photo with the right opener; raises ImageError with the reason."""
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    ensure_regular_file(p)
    if ext in HEIF_EXTS and not HAVE_HEIF:
        raise ImageError("unsupported format: HEIC/HEIF needs the optional pillow-heif package")
    if ext in RAW_EXTS:
        return _open_raw(p)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # never blocks, even if swapped for a FIFO
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ImageError("not a regular file")
            head = fh.read(16)
    except OSError as exc:
        raise ImageError(_reason_for_oserror(exc)) from exc
    if not head:
        raise ImageError("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(p)
    except UnidentifiedImageError as exc:
        raise ImageError("not an image (unrecognised content)") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image too large ({exc})") from exc
    except OSError as exc:
        raise ImageError(_reason_for_oserror(exc) if exc.errno else f"cannot open image: {exc}") from exc
    except (ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise ImageError(f"cannot open image: {exc}") from exc
    if im.format not in ALLOWED_FORMATS:
        im.close()
        raise ImageError(f"unsupported format: {im.format}")
    return im


def _open_raw(path: str) -> Image.Image:
    if not HAVE_RAW:
        raise ImageError("unsupported format: camera RAW needs the optional rawpy package")
    try:
        with rawpy.imread(path) as raw:  # type: ignore[name-defined]
            thumb = raw.extract_thumb()
    except Exception as exc:  # noqa: BLE001 - rawpy raises its own hierarchy
        raise ImageError(f"RAW file has no readable preview: {exc}") from exc
    if thumb.format.name == "JPEG":  # type: ignore[attr-defined]
        im = Image.open(io.BytesIO(thumb.data))
    else:
        im = Image.fromarray(thumb.data)
    im.format = "JPEG" if im.format is None else im.format
    return im


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any mode to 8-bit RGB: 16-bit greys scaled (not clipped), transparency over white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr = np.clip(arr * (255.0 / hi), 0, 255).astype(np.uint8)
        return Image.fromarray(arr, "L").convert("RGB")
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        arr = (arr - lo) / (hi - lo + 1e-12) * 255.0
        return Image.fromarray(np.nan_to_num(arr).astype(np.uint8), "L").convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    if im.mode != "RGB":
        return im.convert("RGB")
    return im


def orientation_of(im: Image.Image) -> int | None:
    try:
        value = im.getexif().get(0x0112)
        value = int(value) if value is not None else None
    except Exception:  # noqa: BLE001 - garbage EXIF must not stop decoding
        return None
    return value if value in range(1, 9) else None


def decode_for_model(
    path: str | os.PathLike[str], pre: Preprocessing, inspect: Callable[[Image.Image], Any] | None = None
) -> Decoded:
    """Decode, orient, crop and normalise one photo into the encoder's input.

    ``inspect(image)`` runs on the opened, not yet decoded image (its EXIF/XMP/IPTC are there), so
    metadata costs no second open of the file.
    """
    im = orig = open_image(path)
    try:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageError(f"invalid image size {w}x{h}")
        if w * h > MAX_PIXELS:
            raise ImageError(f"image too large ({w}x{h} pixels declared; limit {MAX_PIXELS // 1_000_000} MP)")
        fmt = str(im.format)
        orientation = orientation_of(im)
        extra = inspect(im) if inspect is not None else None
        if fmt in ("JPEG", "MPO"):
            # Decode at the smallest DCT scale that still covers the resize target on both sides.
            im.draft("RGB", (pre.resize, pre.resize))
        check_decode_memory(im)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im.load()
        except Image.DecompressionBombError as exc:
            raise ImageError(f"image too large: {exc}") from exc
        except (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error) as exc:
            raise ImageError(_decode_reason(exc)) from exc
        if orientation and orientation != 1:
            try:
                im = ImageOps.exif_transpose(im)
            except Exception:  # noqa: BLE001 - keep the unrotated pixels rather than lose the photo
                pass
        rgb = _to_rgb(im)
        tensor = _crop_normalise(rgb, pre)
        disp_w, disp_h = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        return Decoded(tensor, disp_w, disp_h, orientation, fmt, extra)
    finally:
        if im is not orig:
            im.close()
        orig.close()


def check_decode_memory(im: Image.Image) -> None:
    """Refuse an opened image whose decoded buffer (at the size it will be decoded, after any draft)
    would exceed the memory ceiling."""
    w, h = im.size
    need = w * h * _BYTES_PER_PIXEL.get(im.mode, 4)
    limit = max_decode_bytes()
    if need > limit:
        raise ImageError(f"image too large to decode within the memory ceiling ({w}x{h} {im.mode} needs "
                         f"{need >> 20} MB, ceiling {limit >> 20} MB; set {ENV_MAX_DECODE_MB} to raise it)")


def _decode_reason(exc: BaseException) -> str:
    text = str(exc)
    if "truncated" in text.lower() or isinstance(exc, EOFError):
        return f"truncated or corrupt image data ({text})" if text else "truncated or corrupt image data"
    if isinstance(exc, OSError) and exc.errno is not None:
        return _reason_for_oserror(exc)
    return f"corrupt image data: {text}" if text else "corrupt image data"


def _crop_normalise(im: Image.Image, pre: Preprocessing) -> np.ndarray:
    """Shorter side -> pre.resize, centre crop pre.input_size, resampled in one step from the source box."""
    w, h = im.size
    scale = pre.resize / min(w, h)
    side = pre.input_size / scale  # crop side in source pixels
    left = (w - side) / 2.0
    top = (h - side) / 2.0
    box = (max(left, 0.0), max(top, 0.0), min(left + side, w), min(top + side, h))
    out = im.resize((pre.input_size, pre.input_size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    arr = np.asarray(out, dtype=np.float32) * (1.0 / 255.0)
    arr = (arr - np.asarray(pre.mean, dtype=np.float32)) / np.asarray(pre.std, dtype=np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def file_hash(path: str | os.PathLike[str], size: int | None = None) -> str:
    """Quick content identity for move detection: size + first 256 KiB + last 64 KiB (blake2b).

    Reading whole 20 MB photos only to notice a rename would make rescans I/O bound; photos differ in
    their headers (EXIF timestamps) and tails, so this is a safe and cheap fingerprint.
    """
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    with open(path, "rb") as fh:
        if size is None:
            size = os.fstat(fh.fileno()).st_size
        h.update(str(size).encode())
        h.update(fh.read(256 * 1024))
        if size > 320 * 1024:
            fh.seek(size - 64 * 1024)
            h.update(fh.read(64 * 1024))
    return h.hexdigest()


def naive_decode(path: Path, pre: Preprocessing) -> np.ndarray:
    """Full-size decode + whole-image resize + crop: the baseline the benchmark compares against."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im.convert("RGB"))
        w, h = im.size
        s = pre.resize / min(w, h)
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BILINEAR)
        w, h = im.size
        left, top = (w - pre.input_size) // 2, (h - pre.input_size) // 2
        im = im.crop((left, top, left + pre.input_size, top + pre.input_size))
        arr = np.asarray(im, dtype=np.float32) / 255.0
        arr = (arr - np.asarray(pre.mean, dtype=np.float32)) / np.asarray(pre.std, dtype=np.float32)
        return np.ascontiguousarray(arr.transpose(2, 0, 1))
