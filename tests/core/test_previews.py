"""Camera-speed decoding: the embedded EXIF preview stands in for the photo only when it may.

The photos here carry a camera-style APP1 EXIF block (IFD0 orientation, IFD1 JPEG preview; the same
writer the index benchmark uses). To see which source a result came from, some previews are drawn in
a colour the photo does not have: the preview path checks shape, size, bars and orientation, never
content, so a wrong choice shows as the wrong colour.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import exifread
import numpy as np
import pytest
from PIL import Image

from attalos_desktop.core import exif_preview, imageio
from attalos_desktop.core.bundle import load_bundle
from attalos_desktop.core.imageio import ImageError, decode_for_model
from attalos_desktop.core.library import Library
from attalos_desktop.core.thumbnails import ThumbnailCache, render_thumbnail

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from index_bench import camera_exif, camera_preview  # noqa: E402

RED, BLUE = (210, 40, 40), (40, 60, 210)


def _photo(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A noisy photo-like picture (so the JPEG is a realistic few hundred KB): quarters of colour."""
    w, h = size
    im = Image.new("RGB", size, RED)
    im.paste((40, 190, 60), (w // 2, 0, w, h // 2))
    im.paste(BLUE, (0, h // 2, w // 2, h))
    im.paste((220, 210, 50), (w // 2, h // 2, w, h))
    noise = np.random.default_rng(seed).integers(-20, 21, (h, w, 3))
    return Image.fromarray(np.clip(np.asarray(im, dtype=np.int32) + noise, 0, 255).astype(np.uint8))


def _save(path: Path, im: Image.Image, preview: Image.Image | None, orientation: int = 1) -> Path:
    if preview is None:
        im.save(path, "JPEG", quality=92)
    else:
        im.save(path, "JPEG", quality=92, exif=camera_exif(preview, orientation))
    assert path.stat().st_size > exif_preview.PREVIEW_MIN_FILE
    return path


@pytest.fixture(scope="module")
def pre(bundle_dir: Path):
    return load_bundle(bundle_dir).preprocessing


def _solid(size: tuple[int, int], colour=BLUE) -> Image.Image:
    return Image.new("RGB", size, colour)


def test_the_writer_makes_a_standard_exif_thumbnail(tmp_path: Path) -> None:
    """exifread (an independent reader) finds our IFD1 preview and orientation."""
    p = _save(tmp_path / "cam.jpg", _photo((1600, 1200)), _solid((160, 120)), orientation=6)
    with open(p, "rb") as fh:
        tags = exifread.process_file(fh)
    assert tags["Image Orientation"].values[0] == 6
    with Image.open(io.BytesIO(tags["JPEGThumbnail"])) as t:
        assert t.size == (160, 120)


def test_a_matching_preview_gives_the_same_input_as_decoding(tmp_path: Path, pre) -> None:
    im = _photo((1600, 1200))
    p = _save(tmp_path / "cam.jpg", im, camera_preview(im))
    fast = decode_for_model(p, pre)
    full = decode_for_model(p, pre, preview=False)
    assert fast.from_preview and not full.from_preview
    assert (fast.width, fast.height, fast.format) == (full.width, full.height, full.format) == (1600, 1200, "JPEG")
    assert float(np.abs(fast.tensor - full.tensor).mean()) < 0.08


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_the_photos_orientation_turns_the_preview(tmp_path: Path, pre, orientation: int) -> None:
    im = _photo((1600, 1200))
    p = _save(tmp_path / f"o{orientation}.jpg", im, camera_preview(im), orientation)
    fast = decode_for_model(p, pre)
    full = decode_for_model(p, pre, preview=False)
    assert fast.from_preview and fast.orientation == orientation
    assert (fast.width, fast.height) == (full.width, full.height)
    assert float(np.abs(fast.tensor - full.tensor).mean()) < 0.08


def test_letterboxed_preview_of_a_3_2_photo_is_cut_to_the_picture(tmp_path: Path, pre) -> None:
    """Cameras put a 3:2 photo in a 160x120 preview between black bars; the bars are cut off."""
    im = _photo((1800, 1200))
    pv = camera_preview(im)
    assert pv.size == (160, 120) and pv.getpixel((80, 2)) == (0, 0, 0)
    p = _save(tmp_path / "32.jpg", im, pv, 6)
    fast = decode_for_model(p, pre)
    full = decode_for_model(p, pre, preview=False)
    assert fast.from_preview
    assert float(np.abs(fast.tensor - full.tensor).mean()) < 0.08
    # Pillarboxed (a 3:4 photo in a 4:3 preview) works the same way.
    tall = _photo((900, 1200))
    p2 = _save(tmp_path / "34.jpg", tall, camera_preview(tall, (160, 120)))
    dec = decode_for_model(p2, pre)
    assert dec.from_preview is (90 >= pre.resize)  # 90x120 of picture: enough only for a model up to 90 px
    assert (dec.width, dec.height) == (900, 1200)


def test_bars_that_are_not_black_mean_the_preview_disagrees(tmp_path: Path, pre) -> None:
    """A 4:3 preview that is not letterboxed (a crop or a squash of a 3:2 photo) is not used."""
    im = _photo((1800, 1200))
    p = _save(tmp_path / "squashed.jpg", im, im.resize((160, 120)))
    assert decode_for_model(p, pre).from_preview is False


@pytest.mark.parametrize(
    "preview_size,why", [((120, 160), "turned"), ((80, 60), "too small"), ((200, 100), "other aspect")]
)
def test_a_preview_that_does_not_agree_is_not_used(tmp_path: Path, pre, preview_size, why) -> None:
    im = _photo((1600, 1200))
    p = _save(tmp_path / "x.jpg", im, _solid(preview_size))
    dec = decode_for_model(p, pre)
    assert dec.from_preview is False, why
    r, g, b = dec.tensor.mean(axis=(1, 2))
    assert not (b > r and b > g), "the (blue) preview was used"


def test_a_truncated_photo_is_not_hidden_by_its_preview(tmp_path: Path, pre) -> None:
    im = _photo((1600, 1200))
    p = _save(tmp_path / "cut.jpg", im, camera_preview(im))
    data = p.read_bytes()
    p.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImageError, match="truncated"):
        decode_for_model(p, pre)


def test_the_switch_and_the_memory_ceiling_still_rule(tmp_path: Path, pre, monkeypatch: pytest.MonkeyPatch) -> None:
    im = _photo((1600, 1200))
    p = _save(tmp_path / "cam.jpg", im, _solid((160, 120)))
    assert decode_for_model(p, pre).from_preview
    monkeypatch.setenv("ATTALOS_EMBEDDED_PREVIEWS", "0")
    assert decode_for_model(p, pre).from_preview is False
    monkeypatch.delenv("ATTALOS_EMBEDDED_PREVIEWS")
    monkeypatch.setattr(imageio, "max_decode_bytes", lambda: 1000)  # the same ceiling as without a preview
    with pytest.raises(ImageError, match="memory ceiling"):
        decode_for_model(p, pre)


def test_damaged_exif_falls_back_to_decoding(tmp_path: Path, pre) -> None:
    im = _photo((1600, 1200))
    p = _save(tmp_path / "cam.jpg", im, _solid((160, 120)))
    data = bytearray(p.read_bytes())
    i = data.index(b"\xff\xd8", 4)  # the preview's SOI inside APP1: break it
    data[i + 1] = 0
    p.write_bytes(bytes(data))
    assert decode_for_model(p, pre).from_preview is False
    assert exif_preview._exif_thumbnail_bytes(b"Exif\0\0II*\0\xff\xff\xff\x7f") is None
    assert exif_preview._exif_thumbnail_bytes(b"MM\0*\0\0\0\x08\0\x01") is None


def test_thumbnails_use_the_preview_when_the_size_allows(tmp_path: Path) -> None:
    im = _photo((1600, 1200))
    p = _save(tmp_path / "cam.jpg", im, _solid((160, 120)), orientation=6)
    small = render_thumbnail(p, 160)  # the grid's default size: the preview is enough
    assert small.size == (120, 160)
    assert small.getpixel((60, 80)) == pytest.approx(BLUE, abs=12)
    big = render_thumbnail(p, 200)  # larger than the preview: the photo is decoded (draft mode)
    assert big.size == (150, 200)
    r, g, b = big.getpixel((30, 30))
    assert b > r and b > g  # orientation 6: the photo's blue bottom-left quarter is now top-left
    r, g, b = render_thumbnail(p, 160, preview=False).getpixel((90, 30))
    assert r > 150 and g < 100 and b < 100  # decoded and turned: the red top-left quarter is now top-right
    cache = ThumbnailCache(tmp_path / "cache")
    assert Image.open(cache.get(p, 128)).size == (96, 128)


def test_library_indexes_camera_jpegs_from_their_previews(
    tmp_path: Path, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "DCIM"
    folder.mkdir()
    for i in range(3):
        im = _photo((1600, 1200), seed=i)
        _save(folder / f"IMG_{i:04d}.JPG", im, camera_preview(im), orientation=6 if i == 0 else 1)
    used: list[bool] = []
    real = imageio.decode_for_model

    def spy(*a, **k):
        d = real(*a, **k)
        used.append(d.from_preview)
        return d

    monkeypatch.setattr("attalos_desktop.core.pipeline.decode_for_model", spy)
    with Library.open(tmp_path / "lib", model=bundle_dir) as lib:
        report = lib.index([folder])
        assert report.new == 3 and not report.failures
        sizes = {Path(r.path).name: (r.width, r.height) for r in lib.photos()}
    assert used == [True, True, True]
    assert sizes["IMG_0000.JPG"] == (1200, 1600) and sizes["IMG_0001.JPG"] == (1600, 1200)


def test_the_indexer_leaves_each_photos_thumbnail_from_the_same_decode(tmp_path: Path, bundle_dir: Path) -> None:
    """What the window's index job does: the grid's thumbnails are made while each photo is decoded for the
    model (from its preview or its draft decode), turned upright, so the window only reads small files."""
    from attalos_desktop.core.pipeline import ThumbnailTarget

    folder = tmp_path / "DCIM"
    folder.mkdir()
    im = _photo((1600, 1200))
    cam = _save(folder / "IMG_0000.JPG", im, camera_preview(im), orientation=6)  # preview, turned
    plain = _save(folder / "IMG_0001.JPG", _photo((1600, 1200), seed=1), None)  # draft decode
    small = folder / "small.png"
    _photo((120, 90), seed=2).save(small)  # smaller than the box: kept at its own size
    cache = ThumbnailCache(tmp_path / "cache")
    with Library.open(tmp_path / "lib", model=bundle_dir) as lib:
        report = lib.index([folder], thumbnails=ThumbnailTarget(cache, 160))
    assert report.new == 3 and not report.failures
    assert cache.made == 3
    for p in (cam, plain, small):
        assert cache.lookup(p, 160) is not None, p
    made = Image.open(cache.lookup(cam, 160))
    assert made.size == (120, 160)  # upright, like render_thumbnail
    diff = np.abs(np.asarray(made, dtype=np.int16) - np.asarray(render_thumbnail(cam, 160), dtype=np.int16))
    assert diff.mean() < 6  # the same picture as the window would have made
    assert Image.open(cache.lookup(small, 160)).size == (120, 90)
    window = ThumbnailCache(tmp_path / "cache")  # the window's own cache object: nothing left to decode
    for p in (cam, plain, small):
        window.get(p, 160)
    assert window.made == 0


def test_pixels_too_small_for_the_thumbnail_are_left_to_the_window(tmp_path: Path, bundle_dir: Path, pre) -> None:
    from attalos_desktop.core.pipeline import ThumbnailTarget

    folder = tmp_path / "big"
    folder.mkdir()
    p = _save(folder / "photo.jpg", _photo((1600, 1200)), None)
    decoded = decode_for_model(p, pre, thumbnail_size=1000)
    assert max(decoded.width, decoded.height) == 1600 and decoded.thumbnail is None  # draft decode < 1000 px
    cache = ThumbnailCache(tmp_path / "cache")
    with Library.open(tmp_path / "lib", model=bundle_dir) as lib:
        assert lib.index([folder], thumbnails=ThumbnailTarget(cache, 1000)).new == 1
    assert cache.lookup(p, 1000) is None and cache.made == 0
    assert Image.open(cache.get(p, 1000)).size == (1000, 750)  # the window decodes it itself, full quality


def test_a_bundle_trained_on_resampled_views_takes_smaller_previews(tmp_path: Path) -> None:
    """preview_min_side: a 224-pixel model whose manifest says 120 takes the camera's 160x120 preview (scaled
    up); one that says nothing decodes the photo, whose preview is smaller than its input."""
    import dataclasses

    from attalos_desktop.core.bundle import Preprocessing

    im = _photo((1600, 1200))
    p = _save(tmp_path / "cam.jpg", im, camera_preview(im))
    plain = Preprocessing(input_size=224, resize=224, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    trained = dataclasses.replace(plain, preview_min_side=120)
    assert not decode_for_model(p, plain).from_preview
    fast = decode_for_model(p, trained)
    assert fast.from_preview and fast.tensor.shape == (3, 224, 224)
    assert float(np.abs(fast.tensor - decode_for_model(p, plain).tensor).mean()) < 0.1
    assert Preprocessing.from_json(trained.to_json()) == trained and "preview_min_side" not in plain.to_json()
