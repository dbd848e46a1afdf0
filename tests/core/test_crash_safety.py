"""A SIGKILLed indexer loses at most its batch in flight; a rerun repairs everything. Originals are never written."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from attalos_desktop.core.library import Library
from core_helpers import make_photos

REPO = Path(__file__).resolve().parents[2]

KILLABLE = textwrap.dedent(
    """
    import sys, time
    from attalos_desktop.core.library import Library
    lib = Library.open(sys.argv[1], model=sys.argv[2])
    n = 0
    def on_photo(row):
        global n
        n += 1
        if n == int(sys.argv[4]):
            print("COMMITTED", n, flush=True)
            time.sleep(600)  # the parent kills us here, mid-run, index not yet saved
    lib.index([sys.argv[3]], on_photo=on_photo, batch_size=8)
    print("FINISHED", flush=True)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_mid_run_then_rerun(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "photos"
    make_photos(root, 50)
    home = tmp_path / "lib"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLABLE, str(home), str(bundle_dir), str(root), "16"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("COMMITTED"), proc.stderr.read()  # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    lib = Library.open(home, model=bundle_dir)
    committed = len(lib.photos())
    assert 16 <= committed < 50
    report = lib.index()  # the lock died with the killed process
    assert report.new == 50 - committed and report.unchanged == committed and report.failed == 0
    rows = lib.photos()
    assert len(rows) == 50 and len({r.path for r in rows}) == 50  # every photo exactly once
    assert {r.path for r in rows} == {str(p) for p in root.iterdir()}
    live = set(lib._index().live_ids().tolist())
    assert live == {r.id for r in rows} == set(lib.catalog.vector_ids(lib.bundle.encoder_id).tolist())
    lib.close()
    lib = Library.open(home, model=bundle_dir)  # a fresh reader sees the same, from the saved index
    hits = lib.search("blue triangle", limit=50)
    assert len(hits) == 50 and len({h.photo_id for h in hits}) == 50
    lib.close()


def _digest(folder: Path) -> dict[str, tuple[str, int]]:
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            st = p.stat()
            out[str(p)] = (hashlib.sha256(p.read_bytes()).hexdigest(), st.st_mtime_ns)
    return out


def test_originals_are_never_written(tmp_path: Path, bundle_dir: Path) -> None:
    root = tmp_path / "photos"
    paths = make_photos(root, 6)
    (root / "img000.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
        "<rdf:li>Beach</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    before = _digest(root)
    lib = Library.open(tmp_path / "lib", model=bundle_dir)
    lib.index([root])
    pid = lib.photo_by_path(paths[0]).id
    lib.accept_tags(pid, ["sea"])
    lib.reject_tags(pid, ["sand"])
    lib.suggest_tags(pid)
    for p in paths:
        lib.tag_file(p)
    lib.similar(path=paths[1])
    lib.index()
    lib.close()
    # Photos are byte-identical (and untouched); only the XMP sidecars of the tagged photo were written.
    after = _digest(root)
    photos = {k: v for k, v in before.items() if not k.lower().endswith(".xmp")}
    assert {k: v for k, v in after.items() if k in photos} == photos
    assert sorted(set(after) - set(photos)) == [str(paths[0]) + ".xmp", str(paths[0].with_suffix(".xmp"))]
