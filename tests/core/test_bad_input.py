"""Every kind of bad or odd input, each a real file in one real library indexed once.

The run must complete; each bad file is recorded with its reason; every other photo is indexed.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attalos_desktop.core.imageio import HAVE_HEIF, decode_for_model
from attalos_desktop.core.library import Library
from core_helpers import make_photos

GOOD = 6


def _jpeg_bytes(seed: int = 1, size: tuple[int, int] = (320, 240)) -> bytes:
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _png_bomb(path: Path, w: int = 100_000, h: int = 100_000) -> None:
    """A tiny PNG whose header declares an enormous image."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8  # after the signature: length(4) 'IHDR'(4) data(13) crc(4)
    data[ihdr + 8 : ihdr + 16] = struct.pack(">II", w, h)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 8 + 13])) & 0xFFFFFFFF
    data[ihdr + 21 : ihdr + 25] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def _garbage_exif_jpeg(path: Path) -> None:
    im = Image.new("RGB", (200, 150), (120, 80, 200))
    exif = Image.Exif()
    exif[0x0112] = 99  # orientation out of range
    exif[0x010F] = "\x00\x01\x02\xff junk make"
    exif[0x0132] = "not a date at all"
    gps = exif.get_ifd(0x8825)
    gps[1] = "Q"
    gps[2] = (1.0, 2.0)  # wrong number of values
    exif[0x9C9E] = b"\xff\xfe\xfd"  # XPKeywords: odd-length UTF-16
    im.save(path, "JPEG", exif=exif.tobytes())
    raw = bytearray(path.read_bytes())
    i = raw.find(b"not a date")  # scribble inside the EXIF block too
    raw[i : i + 4] = b"\x00\xff\x00\xff"
    path.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path):
    root = tmp_path_factory.mktemp("bad") / "photos"
    make_photos(root, GOOD)
    cases: dict[str, Path] = {}

    def case(name: str, filename: str) -> Path:
        cases[name] = root / filename
        return cases[name]

    case("zero", "zero.jpg").write_bytes(b"")
    case("truncated", "truncated.jpg").write_bytes(_jpeg_bytes()[:3000])
    case("random", "random.jpg").write_bytes(random.Random(3).randbytes(5000))
    case("text", "text.png").write_text("this is a text file, not a PNG\n" * 20)
    _png_bomb(case("bomb", "bomb.png"))
    Image.new("RGB", (1, 1), (255, 0, 0)).save(case("tiny", "tiny.png"))
    Image.new("CMYK", (120, 90), (0, 255, 255, 0)).save(case("cmyk", "cmyk.jpg"), "JPEG")
    Image.fromarray(np.full((60, 80), 32768, dtype=np.uint16)).save(case("png16", "sixteen.png"))
    pal = Image.new("P", (64, 48), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.paste(1, (16, 12, 48, 36))
    pal.save(case("palette", "palette.png"), transparency=0)
    frames = [Image.new("RGB", (64, 48), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(case("gif", "animated.gif"), save_all=True, append_images=frames[1:], duration=100, loop=0)
    _garbage_exif_jpeg(case("exif", "garbage_exif.jpg"))
    os.symlink(root / "does-not-exist.jpg", case("broken_link", "broken_link.jpg"))
    os.symlink("loop_b.jpg", case("file_loop", "loop_a.jpg"))
    os.symlink("loop_a.jpg", root / "loop_b.jpg")
    (root / "sub").mkdir()
    os.symlink(root, root / "sub" / "back_to_root")  # directory loop: must neither hang nor double count
    case("vanishing", "vanishing.jpg").write_bytes(_jpeg_bytes(4))
    nonutf8 = os.fsencode(str(root)) + b"/caf\xe9-\xff.jpg"
    with open(nonutf8, "wb") as fh:
        fh.write(_jpeg_bytes(5))
    cases["nonutf8"] = Path(os.fsdecode(nonutf8))
    deep = root
    for i in range(60):
        deep = deep / f"level{i:02d}-{'x' * 40}"
    deep.mkdir(parents=True)
    (deep / "deep.jpg").write_bytes(_jpeg_bytes(6))
    cases["deep"] = deep / "deep.jpg"
    case("heic", "phone.heic").write_bytes(random.Random(5).randbytes(300))

    def delete_vanishing(p) -> None:  # scanned, not yet decoded: the file goes away now
        if p.phase == "indexing" and p.done == 0 and cases["vanishing"].exists():
            cases["vanishing"].unlink()

    lib = Library.open(root.parent / "lib", model=bundle_dir)
    report = lib.index([root], progress=delete_vanishing)
    failures = {f.path: f.reason for f in report.failures}
    indexed_paths = {p.path for p in lib.photos()}
    yield lib, report, cases, failures, indexed_paths
    lib.close()


FAILS = {
    "zero": "empty file",
    "truncated": "truncated",
    "random": "not an image",
    "text": "not an image",
    "bomb": "too large",
    "broken_link": "broken symlink",
    "file_loop": "symlink loop",
    "vanishing": "not found",
    # Random bytes named .heic: with the formats extra, libheif says it is no image; without it, the
    # reason names the extra (tests/core/test_formats.py checks that reason with the import failing).
    "heic": "not an image" if HAVE_HEIF else "pillow-heif",
}
INDEXED = ["tiny", "cmyk", "png16", "palette", "gif", "exif", "nonutf8", "deep"]


@pytest.mark.parametrize("name", sorted(FAILS))
def test_bad_file_is_recorded_with_reason(indexed, name: str) -> None:
    lib, report, cases, failures, indexed_paths = indexed
    path = str(cases[name])
    assert path in failures, f"{name} not recorded; failures: {failures}"
    assert FAILS[name] in failures[path]
    assert path not in indexed_paths
    assert path in {f.path for f in lib.failures()}


def _without_root_file_powers() -> list[str]:
    """Command prefix that makes permission bits bind even for root.

    As root, chmod 000 stops nobody; dropping CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the
    bounding set (util-linux setpriv) makes the child obey them like any user, so the test stays real.
    """
    if os.geteuid() != 0:
        return []
    import shutil

    setpriv = shutil.which("setpriv")
    assert setpriv, "running as root needs util-linux's setpriv to test unreadable files"
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def test_unreadable_file_is_recorded(bundle_dir: Path) -> None:
    """A photo the user may not read is recorded as 'permission denied' and the others are indexed."""
    import json
    import shutil
    import subprocess
    import sys
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="attalos-perm-"))
    try:
        photos = base / "photos"
        make_photos(photos, 2)
        locked = photos / "unreadable.jpg"
        locked.write_bytes(_jpeg_bytes(2))
        locked.chmod(0)
        home = base / "lib"
        r = subprocess.run(
            [
                *_without_root_file_powers(),
                sys.executable,
                "-m",
                "attalos_desktop.cli.index",
                "--library",
                str(home),
                "--model",
                str(bundle_dir),
                "--json",
                str(photos),
            ],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        assert d["new"] == 2
        assert d["failures"] == [{"path": str(locked), "reason": "permission denied"}]
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("name", INDEXED)
def test_odd_but_valid_file_is_indexed(indexed, name: str) -> None:
    lib, report, cases, failures, indexed_paths = indexed
    assert str(cases[name]) in indexed_paths, failures.get(str(cases[name]))


def test_every_good_photo_indexed_once_and_run_completed(indexed) -> None:
    lib, report, cases, failures, indexed_paths = indexed
    good = {p for p in indexed_paths if os.path.basename(p).startswith("img")}
    assert len(good) == GOOD  # the directory loop did not count them twice
    assert report.new == GOOD + len(INDEXED)
    assert report.failed == len(FAILS) + 1  # + loop_b.jpg, the other half of the symlink loop
    assert not report.cancelled
    assert len(lib.photos()) == len(indexed_paths) == report.new


def test_non_utf8_name_round_trips(indexed) -> None:
    lib, report, cases, failures, indexed_paths = indexed
    row = next(p for p in lib.photos() if p.path == str(cases["nonutf8"]))
    assert os.fsencode(row.path).endswith(b"caf\xe9-\xff.jpg")
    assert lib.similar(row.id, limit=3)


def test_sixteen_bit_png_is_scaled_not_clipped(indexed, bundle_dir) -> None:
    lib, report, cases, failures, indexed_paths = indexed
    pre = lib.bundle.preprocessing
    t = decode_for_model(cases["png16"], pre).tensor
    # 32768/65535 = mid grey; clipping 16-bit values into 8 bits would give white (1.0).
    rgb = (
        t * np.asarray(pre.std, dtype=np.float32)[:, None, None] + np.asarray(pre.mean, dtype=np.float32)[:, None, None]
    )
    assert abs(float(rgb.mean()) - 0.5) < 0.02


def test_transparent_palette_pixels_become_white(indexed) -> None:
    lib, report, cases, failures, indexed_paths = indexed
    pre = lib.bundle.preprocessing
    t = decode_for_model(cases["palette"], pre).tensor
    rgb = (
        t * np.asarray(pre.std, dtype=np.float32)[:, None, None] + np.asarray(pre.mean, dtype=np.float32)[:, None, None]
    )
    corner = rgb[:, 0, 0]
    assert np.allclose(corner, 1.0, atol=0.02)  # the transparent border, not black


def test_garbage_exif_gives_no_bogus_metadata(indexed) -> None:
    lib, report, cases, failures, indexed_paths = indexed
    row = next(p for p in lib.photos() if p.path == str(cases["exif"]))
    assert row.gps is None and row.place is None
    # its date field reads as empty: no date recorded, so the file's time, marked as such
    assert row.taken_source == "file" and row.taken is not None
    assert (row.width, row.height) == (200, 150)
