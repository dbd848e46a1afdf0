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
- Camera speed: a camera JPEG carries a small preview in its EXIF (IFD1, typically 160x120). When that
  preview is at least the model's input size and agrees with the photo (same aspect, or the camera's
  black letterbox bars around the same aspect; the photo's EXIF orientation applied to it; the photo's
  JPEG data complete), the model input is made from it and the 12-MP photo is never decoded. Otherwise
  draft decoding as above (the preview's checks: core/exif_preview.py). ``ATTALOS_EMBEDDED_PREVIEWS=0``
  turns the preview path off.
- HEIC/HEIF (pillow-heif; libheif applies the irot/imir orientation itself) and camera RAW (rawpy: the
  embedded preview, turned by the raw's orientation) come with the ``formats`` extra; without it such
  a file is recorded with the reason and the install command (``FORMATS_HINT``).
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
from .exif_preview import embedded_preview

MAX_PIXELS = 250_000_000  # declared size above this is refused, also if Pillow's own guard is off
MAX_DECODE_MB = 256  # default memory ceiling for one decoded photo (peak use is about twice this)
ENV_MAX_DECODE_MB = "ATTALOS_MAX_DECODE_MB"
_BYTES_PER_PIXEL = {
    "1": 1,
    "L": 1,
    "P": 1,
    "LA": 2,
    "PA": 2,
    "La": 2,
    "RGB": 3,
    "YCbCr": 3,
    "LAB": 3,
    "HSV": 3,
    "RGBA": 4,
    "RGBa": 4,
    "RGBX": 4,
    "CMYK": 4,
    "I": 4,
    "F": 4,
    "I;16": 2,
    "I;16L": 2,
    "I;16B": 2,
    "I;16N": 2,
}

PILLOW_EXTS = {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
HEIF_EXTS = {".heic", ".heif", ".hif"}
RAW_EXTS = {
    ".dng",
    ".cr2",
    ".cr3",
    ".nef",
    ".nrw",
    ".arw",
    ".srf",
    ".sr2",
    ".orf",
    ".rw2",
    ".raf",
    ".pef",
    ".srw",
    ".raw",
    ".rwl",
    ".3fr",
    ".erf",
    ".kdc",
    ".mrw",
    ".x3f",
}
PHOTO_EXTS = PILLOW_EXTS | HEIF_EXTS | RAW_EXTS
ALLOWED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "TIFF", "BMP", "GIF", "HEIF", "AVIF"}

FORMATS_HINT = "pip install 'attalos-desktop[formats]'"
ENV_PREVIEWS = "ATTALOS_EMBEDDED_PREVIEWS"
rawpy: Any = None


def load_heif() -> bool:
    """Import pillow-heif (the ``formats`` extra) and register its opener; False when unavailable."""
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
        return True
    except Exception:  # noqa: BLE001 - any import problem means "not available"
        return False


def load_raw() -> bool:
    """Import rawpy (the ``formats`` extra); False when unavailable."""
    global rawpy
    try:
        import rawpy as _rawpy
    except Exception:  # noqa: BLE001
        return False
    rawpy = _rawpy
    return True


HAVE_HEIF = load_heif()
HAVE_RAW = load_raw()


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
    from_preview: bool = False  # made from the photo's embedded EXIF preview, not from its own pixels
    # The upright RGB photo fitted in thumbnail_size x thumbnail_size, made from the pixels already
    # decoded for the model (decode_for_model's thumbnail_size; None when those were too small for it).
    thumbnail: Image.Image | None = None


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
        kind = (
            "a FIFO (named pipe)"
            if stat.S_ISFIFO(st.st_mode)
            else "a socket"
            if stat.S_ISSOCK(st.st_mode)
            else "a device"
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "not a file"
        )
        raise ImageError(f"not a regular file ({kind})")
    return st


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open (not decode) a photo with the right opener; raises ImageError with the reason."""
    p = os.fspath(path)
    ext = os.path.splitext(p)[1].lower()
    ensure_regular_file(p)
    if ext in HEIF_EXTS and not HAVE_HEIF:
        raise ImageError(f"unsupported format: HEIC/HEIF needs the formats extra (pillow-heif): {FORMATS_HINT}")
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


_FLIP_TO_EXIF = {0: 1, 3: 3, 5: 8, 6: 6}  # LibRaw's sizes.flip -> EXIF orientation


def _open_raw(path: str) -> Image.Image:
    """The camera's embedded preview of a RAW file, carrying the raw's orientation as EXIF 0x0112.

    The preview is stored as the sensor sees it (like the raw data), so the raw's orientation applies
    to it, unless its own shape says it is already turned (its aspect matches the turned raw); an
    orientation the preview JPEG itself carries wins when the raw has none.
    """
    if not HAVE_RAW:
        raise ImageError(f"unsupported format: camera RAW needs the formats extra (rawpy): {FORMATS_HINT}")
    try:
        with rawpy.imread(path) as raw:
            thumb = raw.extract_thumb()
            flip = int(raw.sizes.flip)
            raw_w, raw_h = int(raw.sizes.width), int(raw.sizes.height)
    except Exception as exc:  # noqa: BLE001 - rawpy raises its own hierarchy
        raise ImageError(f"RAW file has no readable preview: {exc}") from exc
    im: Image.Image
    try:
        if thumb.format.name == "JPEG":
            im = Image.open(io.BytesIO(thumb.data))
        else:
            im = Image.fromarray(thumb.data)
    except Exception as exc:  # noqa: BLE001
        raise ImageError(f"RAW file has no readable preview: {exc}") from exc
    im.format = "JPEG" if im.format is None else im.format
    orientation = _FLIP_TO_EXIF.get(flip, 1)
    exif = im.getexif()
    own = exif.get(0x0112)
    if orientation == 1 and own is not None and own in range(2, 9):
        orientation = int(own)  # the raw says nothing; the preview's own EXIF does
    if orientation in (5, 6, 7, 8) and raw_w > 0 and raw_h > 0:
        pw, ph = im.size
        if (pw >= ph) != (raw_w >= raw_h):  # the preview was already turned upright
            orientation = 1
            raw_w, raw_h = raw_h, raw_w
    exif[0x0112] = orientation
    im.info["attalos_raw"] = True
    if raw_w > 0 and raw_h > 0:
        im.info["attalos_raw_size"] = (raw_w, raw_h)  # the photo's own size, stored like the preview
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


def previews_enabled() -> bool:
    """Whether indexing may use embedded EXIF previews (env ``ATTALOS_EMBEDDED_PREVIEWS=0`` turns it off)."""
    return os.environ.get(ENV_PREVIEWS, "1").strip().lower() not in ("0", "false", "no", "off")


def decode_for_model(
    path: str | os.PathLike[str],
    pre: Preprocessing,
    inspect: Callable[[Image.Image], Any] | None = None,
    *,
    preview: bool | None = None,
    thumbnail_size: int | None = None,
) -> Decoded:
    """Decode, orient, crop and normalise one photo into the encoder's input.

    ``inspect(image)`` runs on the opened, not yet decoded image (its EXIF/XMP/IPTC are there), so
    metadata costs no second open of the file. ``preview`` (default: ``previews_enabled()``) allows
    the embedded EXIF preview of a JPEG to stand in for its pixels when it is big enough and agrees.
    ``thumbnail_size``: also fit the decoded pixels into a thumbnail of that size (``Decoded.thumbnail``)
    when they are big enough for it, so that an indexer fills the thumbnail cache without a second decode.
    """
    im = orig = open_image(path)
    thumb: Image.Image | None = None
    try:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageError(f"invalid image size {w}x{h}")
        if w * h > MAX_PIXELS:
            raise ImageError(f"image too large ({w}x{h} pixels declared; limit {MAX_PIXELS // 1_000_000} MP)")
        fmt = str(im.format)
        orientation = orientation_of(im)
        extra = inspect(im) if inspect is not None else None
        disp_w, disp_h = im.info.get("attalos_raw_size") or (w, h)
        if orientation in (5, 6, 7, 8):
            disp_w, disp_h = disp_h, disp_w
        if fmt in ("JPEG", "MPO"):
            # Decode at the smallest DCT scale that still covers the resize target on both sides.
            im.draft("RGB", (pre.resize, pre.resize))
        check_decode_memory(im)
        if (
            fmt in ("JPEG", "MPO")
            and "attalos_raw" not in im.info
            and (previews_enabled() if preview is None else preview)
        ):
            thumb = embedded_preview(orig, (w, h), min_side=pre.smallest_preview)
            if thumb is not None:
                rgb = _to_rgb(apply_orientation(thumb, orientation))
                return Decoded(
                    _crop_normalise(rgb, pre),
                    disp_w,
                    disp_h,
                    orientation,
                    fmt,
                    extra,
                    True,
                    _fit_thumbnail(rgb, thumbnail_size, (disp_w, disp_h)),
                )
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
        return Decoded(
            tensor,
            disp_w,
            disp_h,
            orientation,
            fmt,
            extra,
            thumbnail=_fit_thumbnail(rgb, thumbnail_size, (disp_w, disp_h)),
        )
    finally:
        if thumb is not None:
            thumb.close()
        if im is not orig:
            im.close()
        orig.close()


def _fit_thumbnail(rgb: Image.Image, size: int | None, shown: tuple[int, int]) -> Image.Image | None:
    """``rgb`` fitted in size x size (a new image), or None when it is smaller than that box although the
    photo as shown is not (a draft decode or preview too small: the thumbnail cache decodes it itself)."""
    if not size:
        return None
    w, h = rgb.size
    if max(w, h) < min(size, max(shown)):
        return None
    if max(w, h) <= size:
        return rgb.copy()
    scale = size / max(w, h)
    box = (max(1, round(w * scale)), max(1, round(h * scale)))
    return rgb.resize(box, thumbnail_resample(size), reducing_gap=2.0)


def thumbnail_resample(size: int) -> Image.Resampling:
    """The filter thumbnails are made with: Lanczos keeps small ones sharp, bilinear is cheaper for large ones."""
    return Image.Resampling.LANCZOS if size <= 128 else Image.Resampling.BILINEAR


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def apply_orientation(im: Image.Image, orientation: int | None) -> Image.Image:
    """``im`` turned upright by an EXIF orientation (the photo's, applied to pixels without their own EXIF)."""
    method = _TRANSPOSE.get(orientation or 1)
    return im.transpose(method) if method is not None else im


def check_decode_memory(im: Image.Image) -> None:
    """Refuse an opened image whose decoded buffer (at the size it will be decoded, after any draft)
    would exceed the memory ceiling."""
    w, h = im.size
    need = w * h * _BYTES_PER_PIXEL.get(im.mode, 4)
    limit = max_decode_bytes()
    if need > limit:
        raise ImageError(
            f"image too large to decode within the memory ceiling ({w}x{h} {im.mode} needs "
            f"{need >> 20} MB, ceiling {limit >> 20} MB; set {ENV_MAX_DECODE_MB} to raise it)"
        )


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
    arr: np.ndarray = np.asarray(out, dtype=np.float32) * (1.0 / 255.0)
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
        arr: np.ndarray = np.asarray(im, dtype=np.float32) / 255.0
        arr = (arr - np.asarray(pre.mean, dtype=np.float32)) / np.asarray(pre.std, dtype=np.float32)
        return np.ascontiguousarray(arr.transpose(2, 0, 1))
