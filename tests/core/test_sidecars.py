"""XMP sidecars: our tags written next to the photo (read back by ExifTool), and other programs' sidecar
edits taken in by a rescan. Real files, a real Library on generated photos, the real ExifTool."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from attalos_desktop.core import sidecar_sync as sidecar_sync_mod
from attalos_desktop.core.catalog import MIGRATIONS, SCHEMA_VERSION, Catalog
from attalos_desktop.core.library import Library
from attalos_desktop.core.sidecars import SidecarError, merge_xmp, read_keywords, sidecars_by_photo, write_keywords
from core_helpers import make_photos

FOREIGN = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
    xmlns:lr="http://ns.adobe.com/lightroom/1.0/"
    xmp:Rating="3"
    crs:Exposure2012="+0.35"
    darktable:xmp_version="5">
   <dc:title>
    <rdf:Alt>
     <rdf:li xml:lang="x-default">Harbour at dusk &amp; boats</rdf:li>
    </rdf:Alt>
   </dc:title>
   <dc:subject>
    <rdf:Bag>
     <rdf:li>Italy</rdf:li>
     <rdf:li>Capri</rdf:li>
    </rdf:Bag>
   </dc:subject>
   <lr:hierarchicalSubject>
    <rdf:Bag>
     <rdf:li>Places|Italy</rdf:li>
     <rdf:li>Places|Italy|Capri</rdf:li>
    </rdf:Bag>
   </lr:hierarchicalSubject>
   <darktable:history>
    <rdf:Seq>
     <rdf:li darktable:operation="exposure" darktable:enabled="1"/>
    </rdf:Seq>
   </darktable:history>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""


def _exif(exiftool: str, *files: Path) -> list[dict]:
    out = subprocess.run(
        [
            exiftool,
            "-j",
            "-XMP:all",
            "-XMP-dc:Subject",
            "-XMP-lr:HierarchicalSubject",
            "-XMP-digiKam:TagsList",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _list(v: object) -> list[str]:
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


def _sha(paths: list[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _lib(tmp_path: Path, bundle_dir: Path, n: int = 3) -> tuple[Library, list[Path]]:
    photos = make_photos(tmp_path / "photos", n)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([tmp_path / "photos"])
    return lib, photos


def test_accept_and_remove_write_sidecars_exiftool_reads(tmp_path: Path, bundle_dir: Path, exiftool: str) -> None:
    lib, photos = _lib(tmp_path, bundle_dir)
    before = _sha(photos)
    p = photos[0]
    pid = lib.photo_by_path(p).id
    assert lib.sidecars_enabled()
    assert lib.accept_tags(pid, ["Beach", "sea", "Ana+Capri"]) == []
    ext_sc, base_sc = Path(str(p) + ".xmp"), p.with_suffix(".xmp")
    assert ext_sc.is_file() and base_sc.is_file()
    for info in _exif(exiftool, ext_sc, base_sc):
        assert sorted(_list(info.get("Subject"))) == ["ana capri", "beach", "sea"]
        assert sorted(_list(info.get("HierarchicalSubject"))) == ["ana capri", "beach", "sea"]
        assert sorted(_list(info.get("TagsList"))) == ["ana capri", "beach", "sea"]

    assert lib.remove_user_tags(pid, ["SEA"]) == []
    assert lib.reject_tags(pid, ["boat"]) == []  # rejections stay in the catalog
    for info in _exif(exiftool, ext_sc, base_sc):
        assert sorted(_list(info.get("Subject"))) == ["ana capri", "beach"]
        assert sorted(_list(info.get("HierarchicalSubject"))) == ["ana capri", "beach"]
        assert sorted(_list(info.get("TagsList"))) == ["ana capri", "beach"]
    assert _sha(photos) == before  # originals byte-identical
    assert not list((tmp_path / "photos").glob(".*"))  # no temporary file left behind

    # Our own writes are not edits by another program: a rescan changes nothing and reads no sidecar.
    r = lib.index()
    assert (r.new, r.changed, r.unchanged) == (0, 0, 3)
    assert lib.user_tags(pid) == ["ana capri", "beach"]
    lib.close()


def test_foreign_sidecar_keeps_its_other_fields(tmp_path: Path, bundle_dir: Path, exiftool: str) -> None:
    photos = make_photos(tmp_path / "photos", 2)
    p = photos[0]
    ext_sc = Path(str(p) + ".xmp")
    ext_sc.write_text(FOREIGN, encoding="utf-8")
    os.chmod(ext_sc, 0o640)
    before = _sha(photos)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([tmp_path / "photos"])
    pid = lib.photo_by_path(p).id
    assert set(lib.user_tags(pid)) == {"italy", "capri"}  # the sidecar's keywords became tags

    assert lib.accept_tags(pid, ["beach"]) == []
    assert lib.remove_user_tags(pid, ["capri"]) == []
    info = _exif(exiftool, ext_sc)[0]
    assert sorted(_list(info["Subject"])) == ["Italy", "beach"]
    assert sorted(_list(info["HierarchicalSubject"])) == ["Places|Italy", "beach"]
    assert _list(info["TagsList"]) == ["beach"]
    assert info["Rating"] == 3
    assert info["Title"] == "Harbour at dusk & boats"
    assert float(info["Exposure2012"]) == pytest.approx(0.35)
    assert "history" in ext_sc.read_text(encoding="utf-8") and 'darktable:operation="exposure"' in ext_sc.read_text()
    assert ext_sc.stat().st_mode & 0o777 == 0o640  # the sidecar keeps its permissions
    # The Lightroom-style name is created, starting from what the photo's sidecar said.
    base_info = _exif(exiftool, p.with_suffix(".xmp"))[0]
    assert sorted(_list(base_info["Subject"])) == ["beach", "italy"]
    assert _sha(photos) == before
    lib.close()


def test_raw_jpeg_pair_gets_only_its_own_sidecar(tmp_path: Path, bundle_dir: Path) -> None:
    photos = make_photos(tmp_path / "photos", 2)
    jpg = photos[0]
    raw = jpg.with_suffix(".cr2")
    raw.write_bytes(b"II*\x00 not really a raw file")
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([tmp_path / "photos"])
    pid = lib.photo_by_path(jpg).id
    assert lib.accept_tags(pid, ["dog"]) == []
    assert Path(str(jpg) + ".xmp").is_file()
    assert not jpg.with_suffix(".xmp").exists()  # IMG.xmp would be shared by IMG.cr2 and IMG.jpg
    other = photos[1]
    lib.accept_tags(lib.photo_by_path(other).id, ["cat"])
    assert Path(str(other) + ".xmp").is_file() and other.with_suffix(".xmp").is_file()
    lib.close()


@contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """A folder nobody can create files in (root too: chattr +i where the file system allows)."""
    os.chmod(folder, 0o555)
    immutable = False

    def writable() -> bool:
        probe = folder / ".probe"
        try:
            probe.write_bytes(b"")
        except OSError:
            return False
        probe.unlink()
        return True

    try:
        if writable() and shutil.which("chattr"):
            immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
        if writable():
            pytest.skip("cannot make a folder read-only here (root, and chattr +i is not allowed)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        os.chmod(folder, 0o755)


def test_read_only_folder_warns_and_keeps_the_tag(tmp_path: Path, bundle_dir: Path) -> None:
    lib, photos = _lib(tmp_path, bundle_dir, n=2)
    pid = lib.photo_by_path(photos[0]).id
    with _read_only(tmp_path / "photos"):
        warnings = lib.accept_tags(pid, ["harbour"])
        assert len(warnings) == 1 and "\n" not in warnings[0]
        assert "cannot write sidecar" in warnings[0] and str(photos[0]) in warnings[0]
        assert lib.user_tags(pid) == ["harbour"]  # nothing lost: the catalog has it
        warnings = lib.remove_user_tags(pid, ["harbour"])
        assert len(warnings) == 1 and "\n" not in warnings[0]
        assert lib.user_tags(pid) == []
    assert not list((tmp_path / "photos").glob("*.xmp"))
    lib.close()


def test_corrupt_sidecar_is_left_untouched(tmp_path: Path, bundle_dir: Path, exiftool: str) -> None:
    lib, photos = _lib(tmp_path, bundle_dir, n=2)
    p = photos[0]
    pid = lib.photo_by_path(p).id
    bad = Path(str(p) + ".xmp")
    garbage = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><dc:subject>trunc'
    bad.write_bytes(garbage)
    warnings = lib.accept_tags(pid, ["lighthouse"])
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert str(bad) in warnings[0] and "not valid XMP" in warnings[0]
    assert bad.read_bytes() == garbage  # never overwritten
    assert lib.user_tags(pid) == ["lighthouse"]
    assert _list(_exif(exiftool, p.with_suffix(".xmp"))[0].get("Subject")) == ["lighthouse"]  # the other name
    # A rescan neither trips over it nor drops tags because of it.
    lib.index()
    assert lib.user_tags(pid) == ["lighthouse"]
    with pytest.raises(SidecarError) as exc:
        read_keywords(str(bad))
    assert "\n" not in str(exc.value)
    lib.close()


def test_setting_off_writes_nothing(tmp_path: Path, bundle_dir: Path) -> None:
    lib, photos = _lib(tmp_path, bundle_dir, n=2)
    pid = lib.photo_by_path(photos[0]).id
    lib.set_sidecars_enabled(False)
    assert lib.accept_tags(pid, ["beach"]) == []
    assert lib.remove_user_tags(pid, ["beach"]) == []
    assert not list((tmp_path / "photos").glob("*.xmp"))
    lib.close()
    lib = Library.open(tmp_path / "lib", model=bundle_dir)  # the setting is the library's, kept
    assert not lib.sidecars_enabled()
    lib.set_sidecars_enabled(True)
    lib.accept_tags(pid, ["beach"])
    assert len(list((tmp_path / "photos").glob("*.xmp"))) == 2
    lib.close()


def test_rescan_takes_in_sidecar_edits_of_other_programs(
    tmp_path: Path, bundle_dir: Path, exiftool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib, photos = _lib(tmp_path, bundle_dir)
    before = _sha(photos)
    p = photos[0]
    pid = lib.photo_by_path(p).id
    lib.accept_tags(pid, ["beach", "sea"])
    ext_sc = Path(str(p) + ".xmp")
    # Another program (ExifTool here) adds one keyword and removes another, in the sidecar only.
    subprocess.run(
        [exiftool, "-q", "-overwrite_original", "-XMP-dc:Subject-=sea", "-XMP-dc:Subject+=Sunset", str(ext_sc)],
        check=True,
    )
    st = ext_sc.stat()
    os.utime(ext_sc, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    r = lib.index()
    assert (r.new, r.changed, r.unchanged, r.moved, r.removed, r.failed) == (0, 0, 3, 0, 0, 0)
    assert lib.user_tags(pid) == ["beach", "sunset"]

    # A no-op rescan compares mtimes only: no sidecar is opened.
    opened: list[str] = []
    real = sidecar_sync_mod.read_keywords
    monkeypatch.setattr(sidecar_sync_mod, "read_keywords", lambda path: opened.append(path) or real(path))
    lib.index()
    assert opened == [] and lib.user_tags(pid) == ["beach", "sunset"]

    # A sidecar that appears for a photo is read; one that goes away costs no tag.
    q = photos[1]
    qid = lib.photo_by_path(q).id
    q.with_suffix(".xmp").write_bytes(merge_xmp(None, ["Lighthouse"], []))
    lib.index()
    assert lib.user_tags(qid) == ["lighthouse"]
    q.with_suffix(".xmp").unlink()
    lib.index()
    assert lib.user_tags(qid) == ["lighthouse"]
    # Our next write keeps the other program's edit and records it as seen.
    lib.accept_tags(pid, ["pier"])
    assert sorted(_list(_exif(exiftool, ext_sc)[0]["Subject"])) == ["Sunset", "beach", "pier"]
    lib.index()
    assert lib.user_tags(pid) == ["beach", "pier", "sunset"]
    assert _sha(photos) == before
    lib.close()


def test_external_edit_before_our_write_is_not_swallowed(tmp_path: Path, bundle_dir: Path) -> None:
    lib, photos = _lib(tmp_path, bundle_dir, n=1)
    p = photos[0]
    pid = lib.photo_by_path(p).id
    lib.accept_tags(pid, ["beach"])
    for sc in (Path(str(p) + ".xmp"), p.with_suffix(".xmp")):
        data = merge_xmp(sc.read_bytes(), ["kayak"], ["beach"])
        sc.write_bytes(data)
        st = sc.stat()
        os.utime(sc, ns=(st.st_atime_ns, st.st_mtime_ns + 3_000_000_000))
    lib.accept_tags(pid, ["sand"])  # before any rescan
    assert lib.user_tags(pid) == ["kayak", "sand"]
    lib.index()
    assert lib.user_tags(pid) == ["kayak", "sand"]
    lib.close()


def test_write_keywords_and_scan_mapping_units(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    folder.mkdir()
    a = folder / "a.jpg"
    a.write_bytes(b"x")
    written = write_keywords(str(a), {"one"}, set())
    assert written == [str(a) + ".xmp", str(folder / "a.xmp")]
    assert read_keywords(written[0]) == ["one"]
    mtimes = [os.stat(w).st_mtime_ns for w in written]
    assert write_keywords(str(a), {"One"}, {"absent"}) == []  # nothing to change: nothing rewritten
    assert [os.stat(w).st_mtime_ns for w in written] == mtimes
    upper = folder / "b.JPG"
    upper.write_bytes(b"x")
    (folder / "b.JPG.XMP").write_bytes(merge_xmp(None, ["old"], []))
    assert write_keywords(str(upper), {"new"}, {"old"})[0] == str(folder / "b.JPG.XMP")  # the existing name
    assert read_keywords(str(folder / "b.JPG.XMP")) == ["new"]
    # What a walk saw, mapped to photos without a system call; a shared base name is nobody's.
    photos = {str(folder / "c.jpg"), str(folder / "c.cr2"), str(folder / "d.png")}
    found = {
        str(folder / "c.jpg.xmp"): 5,
        str(folder / "c.xmp"): 9,
        str(folder / "d.xmp"): 7,
        str(folder / "d.png.xmp"): 7,
        str(folder / "orphan.xmp"): 1,
    }
    assert sidecars_by_photo(photos, found) == {
        str(folder / "c.jpg"): (str(folder / "c.jpg.xmp"), 5),
        str(folder / "d.png"): (str(folder / "d.png.xmp"), 7),
    }


def test_catalog_migration_adds_sidecars_table(tmp_path: Path) -> None:
    db_path = tmp_path / "catalog.sqlite"
    db = sqlite3.connect(db_path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version=1")
    db.execute("INSERT INTO photos(path, size, mtime_ns) VALUES (?, 1, 1)", (b"/x.jpg",))
    db.commit()
    db.close()
    c = Catalog(db_path)
    assert c.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 2
    assert c.write_sidecars()
    c.set_sidecar(1, "/x.jpg.xmp", 42, ["a", "b"])
    assert c.sidecar_record(1) == ("/x.jpg.xmp", 42, ["a", "b"])
    assert c.sidecar_states() == {1: ("/x.jpg.xmp", 42)}
    c.delete_photos([1])
    assert c.sidecar_record(1) is None
    c.close()
