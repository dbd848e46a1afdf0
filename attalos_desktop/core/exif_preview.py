"""A camera JPEG's embedded EXIF preview (IFD1, typically 160x120), checked to stand in for the photo.

Split from core/imageio.py (which uses it in ``decode_for_model``) and used by core/thumbnails.py: the
preview is taken only when it is big enough, has the photo's aspect (directly or inside the camera's black
letterbox/pillarbox bars) and the photo's own JPEG data is complete, so a truncated file still reaches the
full decoder and its reason. No dependency on the rest of the app.
"""

from __future__ import annotations

import io
import os
import struct
import warnings

import numpy as np
from PIL import Image

PREVIEW_MIN_FILE = 128 * 1024  # below this a draft decode is as cheap as reading a preview
PREVIEW_TAIL = 32 * 1024  # the photo's end-of-image marker is looked for here (after it, trailers of some cameras)
PREVIEW_ASPECT_TOL = 0.02  # relative difference of width/height between preview and photo
PREVIEW_BAR_MAX = 0.25  # letterbox/pillarbox bars may take at most this share of each side
PREVIEW_BAR_DARK = 40  # bars must be black: no grey level above this (JPEG ringing included)


def _exif_thumbnail_bytes(exif: bytes) -> bytes | None:
    """The JPEG in IFD1 (JPEGInterchangeFormat/Length) of a raw APP1 EXIF block, or None."""
    if exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    if len(exif) < 8 or exif[:2] not in (b"II", b"MM"):
        return None
    e = "<" if exif[:2] == b"II" else ">"
    try:
        (ifd0,) = struct.unpack_from(e + "I", exif, 4)
        (n0,) = struct.unpack_from(e + "H", exif, ifd0)
        (ifd1,) = struct.unpack_from(e + "I", exif, ifd0 + 2 + 12 * n0)
        if ifd1 <= 8 or ifd1 >= len(exif):
            return None
        (n1,) = struct.unpack_from(e + "H", exif, ifd1)
        if n1 > 200:
            return None
        tags: dict[int, int] = {}
        for i in range(n1):
            tag, typ, _count = struct.unpack_from(e + "HHI", exif, ifd1 + 2 + 12 * i)
            if typ == 3:
                (val,) = struct.unpack_from(e + "H", exif, ifd1 + 2 + 12 * i + 8)
            elif typ == 4:
                (val,) = struct.unpack_from(e + "I", exif, ifd1 + 2 + 12 * i + 8)
            else:
                continue
            tags[tag] = val
    except struct.error:
        return None
    if tags.get(0x0103, 6) not in (6, 7):  # compression: (old-style) JPEG
        return None
    off, length = tags.get(0x0201), tags.get(0x0202)
    if not off or not length or off + length > len(exif) or length < 128:
        return None
    data = exif[off : off + length]
    return data if data[:2] == b"\xff\xd8" else None


def _jpeg_complete(im: Image.Image) -> bool:
    """The photo's JPEG data reaches its end-of-image marker (a truncated file must not pass as whole
    through its preview: it goes to the full decoder, which gives the reason). Entropy-coded data never
    holds FF D9, and the APP1 preview (< 64 KiB, at the start) is outside the tail read here."""
    fp = getattr(im, "fp", None)
    if fp is None:
        return False
    try:
        pos = fp.tell()
        try:
            size = fp.seek(0, os.SEEK_END)
            if size < PREVIEW_MIN_FILE:
                return False
            fp.seek(size - PREVIEW_TAIL)
            tail = fp.read(PREVIEW_TAIL)
        finally:
            fp.seek(pos)
    except (OSError, ValueError):
        return False
    return b"\xff\xd9" in tail


def embedded_preview(
    im: Image.Image, size: tuple[int, int], min_side: int = 0, min_long: int = 0
) -> Image.Image | None:
    """The photo's embedded EXIF preview, loaded and cut to the photo's picture, when it can stand in
    for the photo: at least ``min_side`` pixels on its shorter side and ``min_long`` on its longer, the
    photo's aspect (directly, or inside black letterbox/pillarbox bars as cameras write for a 3:2 photo
    in a 160x120 preview), and the photo's own JPEG data complete. Else None. ``size`` is the photo's
    stored size (before orientation; the preview is stored the same way, the photo's orientation
    applies to both). The caller closes the returned image.
    """
    w, h = size
    raw = im.info.get("exif")
    if not raw or w <= 0 or h <= 0:
        return None
    data = _exif_thumbnail_bytes(raw)
    if data is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pv: Image.Image = Image.open(io.BytesIO(data))
            if pv.format != "JPEG":
                pv.close()
                return None
    except Exception:  # noqa: BLE001 - a broken preview just means "decode the photo"
        return None
    try:
        tw, th = pv.size
        if tw * th * 4 > w * h or tw < 8 or th < 8:  # the photo itself is about as small: decode it
            return None
        a, ta = w / h, tw / th
        if abs(ta / a - 1.0) <= PREVIEW_ASPECT_TOL:
            box = (0, 0, tw, th)
        elif a > ta:  # the photo is wider: bars above and below
            bar = (th - tw / a) / 2.0
            if bar > PREVIEW_BAR_MAX * th:
                return None
            box = (0, round(bar), tw, th - round(bar))
        else:  # the photo is taller: bars left and right
            bar = (tw - th * a) / 2.0
            if bar > PREVIEW_BAR_MAX * tw:
                return None
            box = (round(bar), 0, tw - round(bar), th)
        cw, ch = box[2] - box[0], box[3] - box[1]
        if min(cw, ch) < min_side or max(cw, ch) < min_long:
            return None
        if not _jpeg_complete(im):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pv.load()
        if pv.mode not in ("RGB", "L"):
            rgb = pv.convert("RGB")
            pv.close()
            pv = rgb
        if box != (0, 0, tw, th):
            if not _bars_black(pv, box):
                pv.close()
                return None
            cut = pv.crop(box)
            pv.close()
            pv = cut
        return pv
    except Exception:  # noqa: BLE001 - a broken preview just means "decode the photo"
        pv.close()
        return None


def _bars_black(pv: Image.Image, box: tuple[int, int, int, int]) -> bool:
    """The preview outside ``box`` is black bars (one pixel next to the picture is left out: JPEG blurs it)."""
    g = np.asarray(pv.convert("L"))
    th, tw = g.shape
    x0, y0, x1, y1 = box
    parts = []
    if y0 > 1:
        parts += [g[: y0 - 1], g[min(y1 + 1, th) :]]
    if x0 > 1:
        parts += [g[:, : x0 - 1], g[:, min(x1 + 1, tw) :]]
    parts = [p for p in parts if p.size]
    return bool(parts) and all(int(p.max()) <= PREVIEW_BAR_DARK for p in parts)
