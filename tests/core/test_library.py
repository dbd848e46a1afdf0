"""The Library facade over real files: search quality, similarity, tags, keywords, metadata, model checks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from attalos_desktop.core.bundle import BundleError, load_bundle, resources_models_dir, write_bundle
from attalos_desktop.core.imageio import decode_for_model
from attalos_desktop.core.library import Library, LibraryError, LibraryLocked, QueryError
from attalos_desktop.core.paths import resolve_paths
from core_helpers import make_spec_photo

SCENES = {
    "red_circle": ("sand", [("red", "circle")]),
    "blue_square": ("grass", [("blue", "square")]),
    "yellow_triangle": ("water", [("yellow", "triangle")]),
    "green_star": ("sand", [("green", "star")]),
    "purple_cross": ("sky", [("purple", "cross")]),
}


def shapes_bundle(default: Path) -> Path:
    """The model that knows these synthetic scenes: the shipped stand-in when present, else the default.

    Ranking synthetic shapes is a fair test of the stand-in trained on them, not of a model of real photos.
    """
    standin = resources_models_dir() / "synthetic-shapes-v1"
    return standin if (standin / "manifest.json").is_file() and "ATTALOS_TEST_BUNDLE" not in os.environ else default


@pytest.fixture(scope="module")
def scene_lib(tmp_path_factory: pytest.TempPathFactory, bundle_dir: Path):
    base = tmp_path_factory.mktemp("scenes")
    for name, (bg, objs) in SCENES.items():
        for k in range(2):
            make_spec_photo(base / "photos" / f"{name}_{k}.jpg", bg, objs, seed=k, size=(320, 240))
    lib = Library.open(base / "lib", model=shapes_bundle(bundle_dir))
    lib.index([base / "photos"])
    yield lib, base / "photos"
    lib.close()


# The stand-in default model sees colours and backgrounds well, shapes less so: query what it knows.
@pytest.mark.parametrize(
    "query,scene",
    [
        ("red", "red_circle"),
        ("purple", "purple_cross"),
        ("water", "yellow_triangle"),
        ("grass", "blue_square"),
        ("red circle", "red_circle"),
        ("purple on a blue sky", "purple_cross"),
    ],
)
def test_search_ranks_the_right_photo_first(scene_lib, query: str, scene: str) -> None:
    lib, _ = scene_lib
    hits = lib.search(query, limit=3)
    assert Path(hits[0].path).name.startswith(scene), [(Path(h.path).name, round(h.score, 3)) for h in hits]
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_out_of_vocabulary_word_still_searches(scene_lib) -> None:
    lib, _ = scene_lib
    assert lib.bundle.tag_index("zorblax") is None
    hits = lib.search("zorblax", limit=4)  # not even a word: composed from sub-word pieces
    assert len(hits) == 4 and all(np.isfinite(h.score) for h in hits)
    assert lib.bundle.tag_index("scarlet") is None  # a word the model never saw, mapped by its word vector
    assert Path(lib.search("scarlet", limit=1)[0].path).name.startswith("red_circle")


def test_query_without_words_and_empty_library(scene_lib, tmp_path: Path, bundle_dir: Path) -> None:
    lib, _ = scene_lib
    with pytest.raises(QueryError, match="no usable word"):
        lib.search("?! ...")
    empty = Library.open(tmp_path / "empty", model=bundle_dir)
    with pytest.raises(QueryError, match="no indexed photos"):
        empty.search("red")
    empty.close()


def test_similar_finds_the_near_duplicate(scene_lib, tmp_path: Path) -> None:
    lib, photos = scene_lib
    src = photos / "purple_cross_0.jpg"
    hits = lib.similar(path=src, limit=3)
    assert str(src) not in {h.path for h in hits}  # not itself
    assert Path(hits[0].path).name == "purple_cross_1.jpg"
    outside = tmp_path / "outside.png"  # a photo outside the library, resized
    Image.open(photos / "blue_square_1.jpg").resize((200, 150)).save(outside)
    assert Path(lib.similar(path=outside, limit=1)[0].path).name.startswith("blue_square")


def test_tags_suggested_accepted_rejected(scene_lib) -> None:
    lib, photos = scene_lib
    pid = lib.photo_by_path(photos / "red_circle_0.jpg").id
    top = lib.suggest_tags(pid, top=5)
    assert len(top) == 5 and all(0.0 <= t.score <= 1.0 for t in top)
    assert [t.score for t in top] == sorted((t.score for t in top), reverse=True)
    assert {t.tag for t in lib.suggest_tags(pid, top=2)} == {"red", "sand"}  # what the photo shows
    lib.accept_tags(pid, ["Red"])
    lib.reject_tags(pid, [top[1].tag if top[0].tag == "red" else top[0].tag])
    after = {t.tag for t in lib.suggest_tags(pid, top=20)}
    assert "red" not in after and "red" in lib.user_tags(pid)
    assert not (after & set(lib.catalog.rejected_tags(pid)))
    by_file = lib.tag_file(photos / "red_circle_0.jpg", top=3)
    assert len(by_file) == 3 and "red" in lib.completion_words()


def test_keywords_already_on_photos_become_user_tags(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "photos"
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
        "<rdf:li>{}</rdf:li><rdf:li>{}</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    a = make_spec_photo(root / "a.jpg", "sand", [("red", "circle")])
    Path(str(a) + ".xmp").write_text(xmp.format("Holiday", "Ana Capri"))
    b = make_spec_photo(root / "b.jpg", "grass", [("blue", "square")])
    (root / "b.xmp").write_text(xmp.format("Garden", "Summer &amp; Sun"))
    c = root / "c.jpg"
    Image.open(a).save(c, "JPEG", xmp=xmp.format("Embedded", "Two Words").encode())
    d = root / "d.jpg"  # IPTC Keywords in an APP13 Photoshop block
    body = b"".join(b"\x1c\x02\x19" + len(k).to_bytes(2, "big") + k for k in (b"Iptc One", b"Iptc Two"))
    irb = b"8BIM\x04\x04\x00\x00" + len(body).to_bytes(4, "big") + body + (b"\x00" if len(body) % 2 else b"")
    app13 = b"Photoshop 3.0\x00" + irb
    raw = a.read_bytes()
    d.write_bytes(raw[:2] + b"\xff\xed" + (len(app13) + 2).to_bytes(2, "big") + app13 + raw[2:])
    e = root / "e.jpg"
    exif = Image.Exif()
    exif[0x9C9E] = "Windows;Explorer Tag".encode("utf-16-le") + b"\x00\x00"
    Image.open(a).save(e, "JPEG", exif=exif.tobytes())
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([root])
    tags = {p.name: lib.user_tags(lib.photo_by_path(p).id) for p in (a, b, c, d, e)}
    assert tags == {
        "a.jpg": ["ana capri", "holiday"],
        "b.jpg": ["garden", "summer & sun"],
        "c.jpg": ["embedded", "two words"],
        "d.jpg": ["iptc one", "iptc two"],
        "e.jpg": ["explorer tag", "windows"],
    }
    lib.close()


def test_exif_metadata_and_orientation_applied_before_embedding(tmp_path: Path, bundle_dir: Path) -> None:
    upright = make_spec_photo(tmp_path / "photos" / "upright.jpg", "sky", [("red", "triangle")], size=(320, 240))
    im = Image.open(upright)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": store the pixels rotated the other way
    exif[0x010F], exif[0x0110] = "Canon", "Canon EOS R5"
    exif.get_ifd(0x8769)[0x9003] = "2021:07:14 16:20:00"
    exif.get_ifd(0x8769)[0xA434] = "RF24-105mm F4 L IS USM"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (40.0, 33.0, 0.0), 3: "E", 4: (14.0, 14.0, 24.0)})
    sideways = tmp_path / "photos" / "sideways.jpg"
    im.transpose(Image.Transpose.ROTATE_90).save(sideways, "JPEG", quality=95, exif=exif.tobytes())
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([tmp_path / "photos"])
    row = lib.photo_by_path(sideways)
    assert (row.width, row.height) == (320, 240)
    assert row.taken == "2021-07-14T16:20:00" and row.camera == "Canon EOS R5"
    assert row.lens == "RF24-105mm F4 L IS USM"
    assert row.gps == pytest.approx((40.55, 14.24), abs=1e-6)
    pre = lib.bundle.preprocessing
    t_up, t_side = decode_for_model(upright, pre).tensor, decode_for_model(sideways, pre).tensor
    assert float(np.abs(t_up - t_side).mean()) < 0.1  # same picture once oriented
    v = lambda p: lib.catalog.vector(lib.photo_by_path(p).id, lib.bundle.encoder_id)  # noqa: E731
    cos = float(v(upright) @ v(sideways) / np.linalg.norm(v(upright)) / np.linalg.norm(v(sideways)))
    assert cos > 0.98
    lib.close()


def test_corrupt_bundle_is_refused_with_reason(tmp_path: Path, bundle_dir: Path) -> None:
    bad = tmp_path / "bad-bundle"
    shutil.copytree(bundle_dir, bad)
    with open(bad / "tag_vectors.npy", "r+b") as fh:
        fh.seek(-4, 2)
        fh.write(b"\x01\x02\x03\x04")
    lib = Library.open(tmp_path / "lib", model=bad)
    with pytest.raises(BundleError, match="tag_vectors.npy does not match its sha256"):
        lib.index([tmp_path])
    lib.close()


def test_bundle_whose_encoder_disagrees_with_manifest_is_refused(tmp_path: Path, bundle_dir: Path) -> None:
    b = load_bundle(bundle_dir)
    d = b.dim + 3  # tag space wider than what the ONNX encoder outputs
    pad = lambda a: np.concatenate([a, np.zeros((a.shape[0], 3), a.dtype)], axis=1)  # noqa: E731
    out = write_bundle(
        tmp_path / "wrong-dim",
        name="wrong-dim",
        encoder_onnx=b.encoder_path,
        preprocessing=b.preprocessing,
        text=b.text,
        tags=b.tags,
        tag_vectors=pad(b.tag_vectors),
        tag_freq=b.tag_freq,
        words=b.words,
        word_vectors=b.word_vectors,
        ngram_vectors=b.ngram_vectors,
        text_map=pad(b.text_map),
    )
    lib = Library.open(tmp_path / "lib", model=out)
    with pytest.raises(BundleError, match=f"encoder outputs .*{d}"):
        lib.provider
    lib.close()


def test_second_indexer_is_refused(tmp_path: Path, bundle_dir: Path) -> None:
    (tmp_path / "photos").mkdir()
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from attalos_desktop.core.lock import LibraryLock;"
            "l = LibraryLock(Path(sys.argv[1])); l.acquire(); print('LOCKED', flush=True); sys.stdin.read()",
            str(lib.paths.lock),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "LOCKED"  # type: ignore[union-attr]
        with pytest.raises(LibraryLocked, match=f"being indexed by another process \\(pid {holder.pid}\\)"):
            lib.index([tmp_path / "photos"])
    finally:
        holder.communicate("")
    assert lib.index([tmp_path / "photos"]).new == 0  # free again once the holder is gone
    lib.close()


def test_library_location_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTALOS_HOME", str(tmp_path / "env-home"))
    p = resolve_paths(None)
    assert p.home == tmp_path / "env-home" and p.cache == tmp_path / "env-home" / "cache"
    assert resolve_paths(tmp_path / "explicit").home == tmp_path / "explicit"
    monkeypatch.delenv("ATTALOS_HOME")
    p = resolve_paths(None)
    assert p.home.name == "attalos-desktop" and "cache" in str(p.cache).lower()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(LibraryError, match="cannot be used"):
        Library.open(blocker / "lib")


def test_model_is_remembered_and_available_models_listed(tmp_path: Path, bundle_dir: Path) -> None:
    copy = tmp_path / "lib" / "models" / "my-model"
    shutil.copytree(bundle_dir, copy)
    (tmp_path / "photos").mkdir()
    make_spec_photo(tmp_path / "photos" / "x.jpg", "sand", [("red", "circle")])
    lib = Library.open(tmp_path / "lib", model=copy)
    lib.index([tmp_path / "photos"])
    lib.close()
    lib = Library.open(tmp_path / "lib")  # no model given: the one the library was built with
    assert lib.bundle.path == copy
    names = {m["path"]: m for m in lib.available_models()}
    assert str(copy) in names and json.dumps(list(names.values()))
    assert lib.set_model(copy) is False  # same encoder: nothing to re-embed
    lib.close()


def test_available_models_lists_the_bundle_in_use_even_from_elsewhere(tmp_path: Path, bundle_dir: Path) -> None:
    elsewhere = tmp_path / "downloads" / "someone-elses-model"
    shutil.copytree(bundle_dir, elsewhere)
    lib = Library.open(tmp_path / "lib", model=elsewhere)
    assert lib.bundle.path == elsewhere
    models = lib.available_models()
    assert models[0]["path"] == str(elsewhere) and "error" not in models[0]
    assert sum(m["path"] == str(elsewhere) for m in models) == 1
    lib.close()
