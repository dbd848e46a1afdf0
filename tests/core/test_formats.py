"""Formats that phones and cameras make: HEIC/HEIF (pillow-heif) and camera RAW previews (rawpy).

The files are real: HEIC photos written by pillow-heif's own encoder (libheif + x265), and a tiny DNG
written here byte by byte (a 16-bit CFA raw in IFD0, a JPEG preview in a SubIFD, as cameras and Adobe's
converter lay them out) that LibRaw opens. Orientation 6 and 8 must come out upright, compared against
the same pixels in a JPEG whose EXIF orientation Pillow applies. Without the ``formats`` extra such a
file is recorded with the reason and the install command; that is tested by making the import fail.

The ``formats`` extra is installed by scripts/test.sh; a checkout without it skips these tests
(with the install command as the reason), except under CI, where they must run.
"""

from __future__ import annotations

import io
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attalos_desktop.core import imageio
from attalos_desktop.core.bundle import load_bundle
from attalos_desktop.core.imageio import ImageError, decode_for_model
from attalos_desktop.core.library import Library
from attalos_desktop.core.thumbnails import render_thumbnail

_MISSING = f"needs the formats extra: {imageio.FORMATS_HINT} (scripts/test.sh installs it)"


def _need(have: bool) -> None:
    if not have:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the HEIC/RAW tests: {_MISSING}")
        pytest.skip(_MISSING)


@pytest.fixture()
def heif() -> None:
    _need(imageio.HAVE_HEIF)


@pytest.fixture()
def raw() -> None:
    _need(imageio.HAVE_RAW)


def _scene(size: tuple[int, int] = (96, 64)) -> Image.Image:
    """A landscape picture whose quarters differ, so any wrong turn or mirror shows: red, green / blue, yellow."""
    w, h = size
    im = Image.new("RGB", size, (220, 30, 30))
    im.paste((30, 200, 40), (w // 2, 0, w, h // 2))
    im.paste((30, 40, 210), (0, h // 2, w // 2, h))
    im.paste((230, 220, 40), (w // 2, h // 2, w, h))
    return im


def _exif(orientation: int) -> bytes:
    ex = Image.Exif()
    ex[0x0112] = orientation
    return ex.tobytes()


def _reference(tmp: Path, im: Image.Image, orientation: int, pre) -> np.ndarray:
    """The model input of the same pixels as a JPEG with that EXIF orientation (Pillow turns it)."""
    p = tmp / f"ref{orientation}.jpg"
    im.save(p, "JPEG", quality=95, exif=_exif(orientation))
    return decode_for_model(p, pre, preview=False).tensor


def _quarters(tensor: np.ndarray) -> list[int]:
    """Which of the four scene colours is dominant in each quarter (top-left, top-right, bottom-left, bottom-right)."""
    s = tensor.shape[1]
    out = []
    for y in (s // 4, 3 * s // 4):
        for x in (s // 4, 3 * s // 4):
            r, g, b = tensor[:, y, x]
            out.append(int(np.argmax([r - g - b, g - r - b, b - r - g, r + g - 2 * b])))
    return out


# ---------------------------------------------------------------- HEIC


@pytest.mark.parametrize("orientation,upright", [(1, (96, 64)), (6, (64, 96)), (8, (64, 96))])
def test_heic_decodes_upright(
    heif, tmp_path: Path, bundle_dir: Path, orientation: int, upright: tuple[int, int]
) -> None:
    pre = load_bundle(bundle_dir).preprocessing
    scene = _scene()
    p = tmp_path / "phone.heic"
    scene.save(p, "HEIF", quality=95, exif=_exif(orientation))
    with Image.open(p) as check:
        assert check.format == "HEIF"  # really written and read by libheif
    dec = decode_for_model(p, pre)
    assert dec.format == "HEIF"
    assert (dec.width, dec.height) == upright
    ref = _reference(tmp_path, scene, orientation, pre)
    assert _quarters(dec.tensor) == _quarters(ref)
    assert float(np.abs(dec.tensor - ref).mean()) < 0.15
    thumb = render_thumbnail(p, 48)
    assert thumb.size == (48 * upright[0] // max(upright), 48 * upright[1] // max(upright))


def test_heic_is_indexed_and_searchable(heif, tmp_path: Path, bundle_dir: Path) -> None:
    photos = tmp_path / "phone"
    photos.mkdir()
    _scene((160, 120)).save(photos / "IMG_0001.HEIC", "HEIF", quality=90, exif=_exif(6))
    _scene((160, 120)).save(photos / "IMG_0002.jpg", "JPEG", quality=90)
    with Library.open(tmp_path / "lib", model=bundle_dir) as lib:
        report = lib.index([photos])
        assert report.failures == [] and report.new == 2
        rows = {Path(r.path).name: r for r in lib.photos()}
        assert (rows["IMG_0001.HEIC"].width, rows["IMG_0001.HEIC"].height) == (120, 160)
        assert lib.suggest_tags(rows["IMG_0001.HEIC"].id, top=3)


# ---------------------------------------------------------------- RAW (DNG)


def write_dng(path: Path, preview: Image.Image, orientation: int = 1, raw_size: tuple[int, int] = (64, 48)) -> Path:
    """A minimal little-endian DNG 1.4: IFD0 = a 16-bit CFA raw (RGGB, uncompressed) with the
    orientation, SubIFD = the JPEG preview (NewSubfileType 1, compression 7, YCbCr)."""
    buf = io.BytesIO()
    preview.save(buf, "JPEG", quality=92)
    jpeg = buf.getvalue()
    rw, rh = raw_size
    cfa = np.random.default_rng(0).integers(0, 4096, (rh, rw)).astype("<u2").tobytes()
    blobs: list[bytes] = []

    def blob(b: bytes) -> int:
        blobs.append(b)
        return len(blobs) - 1

    make, model, ucm = blob(b"Attalos\0"), blob(b"TestCam\0"), blob(b"Attalos TestCam\0")
    cfa_i, jpg_i = blob(cfa), blob(jpeg)
    matrix = blob(struct.pack("<18i", 1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1))
    bps = blob(struct.pack("<3H", 8, 8, 8))
    ifd0 = [
        (254, 4, 1, 0),
        (256, 4, 1, rw),
        (257, 4, 1, rh),
        (258, 3, 1, 16),
        (259, 3, 1, 1),
        (262, 3, 1, 32803),
        (271, 2, 8, ("blob", make)),
        (272, 2, 8, ("blob", model)),
        (273, 4, 1, ("blob", cfa_i)),
        (274, 3, 1, orientation),
        (277, 3, 1, 1),
        (278, 4, 1, rh),
        (279, 4, 1, len(cfa)),
        (330, 4, 1, ("sub",)),
        (33421, 3, 2, (2, 2)),
        (33422, 1, 4, bytes([0, 1, 1, 2])),
        (50706, 1, 4, bytes([1, 4, 0, 0])),
        (50708, 2, 16, ("blob", ucm)),
        (50721, 10, 9, ("blob", matrix)),
    ]
    sub = [
        (254, 4, 1, 1),
        (256, 4, 1, preview.width),
        (257, 4, 1, preview.height),
        (258, 3, 3, ("blob", bps)),
        (259, 3, 1, 7),
        (262, 3, 1, 6),
        (273, 4, 1, ("blob", jpg_i)),
        (277, 3, 1, 3),
        (278, 4, 1, preview.height),
        (279, 4, 1, len(jpeg)),
    ]
    off_sub = 8 + 2 + 12 * len(ifd0) + 4
    pos = off_sub + 2 + 12 * len(sub) + 4
    offsets = []
    for b in blobs:
        offsets.append(pos)
        pos += len(b) + (len(b) & 1)

    def pack(entries: list) -> bytes:
        out = struct.pack("<H", len(entries))
        for tag, typ, count, v in sorted(entries, key=lambda e: e[0]):
            if isinstance(v, tuple) and v[0] == "blob":
                val = struct.pack("<I", offsets[v[1]])
            elif isinstance(v, tuple) and v[0] == "sub":
                val = struct.pack("<I", off_sub)
            elif isinstance(v, bytes):
                val = v.ljust(4, b"\0")
            elif isinstance(v, tuple):
                val = struct.pack("<2H", *v)
            elif typ == 3:
                val = struct.pack("<HH", v, 0)
            else:
                val = struct.pack("<I", v)
            out += struct.pack("<HHI", tag, typ, count) + val
        return out + struct.pack("<I", 0)

    data = b"II*\0" + struct.pack("<I", 8) + pack(ifd0) + pack(sub)
    for b in blobs:
        data += b + (b"\0" if len(b) & 1 else b"")
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("orientation,upright", [(1, (64, 48)), (6, (48, 64)), (8, (48, 64)), (3, (64, 48))])
def test_raw_preview_decodes_upright(
    raw, tmp_path: Path, bundle_dir: Path, orientation: int, upright: tuple[int, int]
) -> None:
    pre = load_bundle(bundle_dir).preprocessing
    scene = _scene((160, 120))
    p = write_dng(tmp_path / "IMG_0001.DNG", scene, orientation)
    import rawpy

    with rawpy.imread(str(p)) as r:  # LibRaw itself reads the file as a camera raw
        assert (r.sizes.raw_width, r.sizes.raw_height) == (64, 48)
        assert r.extract_thumb().format == rawpy.ThumbFormat.JPEG
    dec = decode_for_model(p, pre)
    assert (dec.width, dec.height) == upright  # the raw's size, turned, not the preview's
    assert dec.orientation == orientation
    ref = _reference(tmp_path, scene, orientation, pre)
    assert _quarters(dec.tensor) == _quarters(ref)
    assert float(np.abs(dec.tensor - ref).mean()) < 0.1
    thumb = render_thumbnail(p, 80)
    assert thumb.size == ((80, 60) if upright[0] > upright[1] else (60, 80))
    px = np.asarray(thumb.convert("RGB"), dtype=np.int32)
    top_left = px[5, 5]
    want = {1: (220, 30, 30), 6: (30, 40, 210), 8: (30, 200, 40), 3: (230, 220, 40)}[orientation]
    assert np.abs(top_left - np.asarray(want)).max() < 40, (orientation, top_left)


def test_raw_is_indexed(raw, tmp_path: Path, bundle_dir: Path) -> None:
    photos = tmp_path / "camera"
    photos.mkdir()
    write_dng(photos / "DSC0001.dng", _scene((160, 120)), 8)
    with Library.open(tmp_path / "lib", model=bundle_dir) as lib:
        report = lib.index([photos])
        assert report.failures == [] and report.new == 1
        (row,) = lib.photos()
        assert (row.width, row.height) == (48, 64)


def test_raw_without_preview_is_recorded_with_reason(raw, tmp_path: Path, bundle_dir: Path) -> None:
    bad = tmp_path / "broken.nef"
    bad.write_bytes(b"II*\0" + bytes(200))
    with pytest.raises(ImageError, match="RAW file has no readable preview"):
        decode_for_model(bad, load_bundle(bundle_dir).preprocessing)


# ---------------------------------------------------------------- without the extra


def test_without_the_extra_the_reason_names_the_install_command(
    tmp_path: Path, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The import failing (as in an install without the extra) leaves HEIC and RAW recorded, not lost."""
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # `import pillow_heif` now raises ImportError
    monkeypatch.setitem(sys.modules, "rawpy", None)
    assert imageio.load_heif() is False
    assert imageio.load_raw() is False
    monkeypatch.setattr(imageio, "HAVE_HEIF", False)
    monkeypatch.setattr(imageio, "HAVE_RAW", False)
    photos = tmp_path / "phone"
    photos.mkdir()
    # Content does not matter: the extension alone decides, before anything is read.
    (photos / "IMG_0001.HEIC").write_bytes(b"\0\0\0\x18ftypheic" + bytes(100))
    (photos / "IMG_0002.DNG").write_bytes(b"II*\0" + bytes(100))
    _scene().save(photos / "IMG_0003.jpg", "JPEG")
    with Library.open(tmp_path / "lib", model=bundle_dir) as lib:
        report = lib.index([photos])
        reasons = {Path(f.path).name: f.reason for f in lib.failures()}
    assert report.new == 1 and report.failed == 2
    hint = "pip install 'attalos-desktop[formats]'"
    assert reasons["IMG_0001.HEIC"] == f"unsupported format: HEIC/HEIF needs the formats extra (pillow-heif): {hint}"
    assert reasons["IMG_0002.DNG"] == f"unsupported format: camera RAW needs the formats extra (rawpy): {hint}"
