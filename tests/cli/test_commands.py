"""attalos-index / attalos-tag / attalos-search: JSON shapes, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from attalos_desktop.cli import index as cli_index
from attalos_desktop.cli import search as cli_search
from attalos_desktop.cli import tag as cli_tag
from cli_helpers import REPO, command, model_args


def run_json(capsys: pytest.CaptureFixture[str], main, argv: list[str]):
    assert main(argv) == 0
    out = capsys.readouterr().out
    return json.loads(out)


def test_index_tag_search_json(tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = ["--library", str(tmp_path / "lib"), *model_args()]
    d = run_json(capsys, cli_index.main, [*lib, "--json", str(photos)])
    assert set(d) == {
        "new",
        "changed",
        "unchanged",
        "moved",
        "removed",
        "failed",
        "failures",
        "seconds",
        "model",
        "provider",
    }
    assert (d["new"], d["failed"]) == (6, 1)
    assert d["failures"] == [{"path": str(photos / "broken.jpg"), "reason": "not an image (unrecognised content)"}]
    assert d["provider"].endswith("ExecutionProvider") and isinstance(d["seconds"], float)

    (photos / "p0.jpg").unlink()
    d = run_json(capsys, cli_index.main, [*lib, "--json"])
    assert (d["new"], d["unchanged"], d["removed"], d["failed"]) == (0, 5, 1, 1)

    d = run_json(
        capsys,
        cli_tag.main,
        [
            *lib,
            "--json",
            "--top",
            "4",
            str(photos / "p1.jpg"),
            str(photos / "broken.jpg"),
            str(tmp_path / "missing.jpg"),
        ],
    )
    assert [x["path"] for x in d] == [str(photos / "p1.jpg"), str(photos / "broken.jpg"), str(tmp_path / "missing.jpg")]
    assert len(d[0]["tags"]) == 4 and set(d[0]["tags"][0]) == {"tag", "score"} and "error" not in d[0]
    assert d[0]["tags"][0]["score"] >= d[0]["tags"][-1]["score"]
    assert d[1] == {"path": str(photos / "broken.jpg"), "error": "not an image (unrecognised content)"}
    assert "not found" in d[2]["error"]
    d = run_json(
        capsys, cli_tag.main, [*lib, "--json", "--top", "50", "--min-score", "0.999999", str(photos / "p1.jpg")]
    )
    assert all(t["score"] >= 0.999999 for t in d[0]["tags"])

    d = run_json(capsys, cli_search.main, [*lib, "--json", "--limit", "3", "red", "circle"])
    assert len(d) == 3 and all(set(x) == {"path", "score"} for x in d)
    assert d[0]["score"] >= d[1]["score"] >= d[2]["score"]
    d = run_json(capsys, cli_search.main, [*lib, "--json", "--similar", str(photos / "p2.jpg")])
    assert 1 <= len(d) <= 4 and str(photos / "p2.jpg") not in [x["path"] for x in d]

    assert cli_search.main([*lib, "--limit", "2", "never-seen-wordzz"]) == 0  # OOV works, plain output
    lines = capsys.readouterr().out.splitlines()  # a summary line, then the ranked photos
    assert len(lines) == 3 and lines[0].startswith('Best 2 of 5 photos for "never-seen-wordzz" (model ')
    assert lines[1].split()[0] == "1." and os.path.abspath(lines[1].split()[2]).startswith(str(photos))


def test_search_errors_are_one_line(tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lib = ["--library", str(tmp_path / "lib"), *model_args()]
    with pytest.raises(SystemExit) as e:
        cli_search.main([*lib, "red"])
    err = capsys.readouterr().err
    assert e.value.code == 1 and err.count("\n") == 1 and "no indexed photos" in err
    assert cli_index.main([*lib, str(photos)]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        cli_search.main([*lib, "!!", "?"])
    assert e.value.code == 1 and "no usable word" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli_search.main([*lib])
    assert e.value.code == 2


def test_fatal_problems_exit_non_zero_with_reason(
    tmp_path: Path, photos: Path, bundle_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as e:
        cli_index.main(["--library", str(blocker / "lib"), *model_args(), str(photos)])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 1 and err.startswith("attalos-index: error: library folder") and "\n" not in err

    bad = tmp_path / "bad-bundle"
    shutil.copytree(bundle_dir, bad)
    (bad / "encoder.onnx").write_bytes(b"garbage")
    with pytest.raises(SystemExit) as e:
        cli_index.main(["--library", str(tmp_path / "lib"), "--model", str(bad), str(photos)])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 1 and "no usable model" in err and "encoder.onnx does not match its sha256" in err

    with pytest.raises(SystemExit) as e:
        cli_index.main(["--library", str(tmp_path / "lib"), *model_args(), str(tmp_path / "nope")])
    assert e.value.code == 1 and "is not a folder" in capsys.readouterr().err


def test_second_indexer_exits_with_clear_message(tmp_path: Path, photos: Path) -> None:
    home = tmp_path / "lib"
    home.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from attalos_desktop.core.lock import LibraryLock;"
            "l = LibraryLock(Path(sys.argv[1])); l.acquire(); print('LOCKED', flush=True); sys.stdin.read()",
            str(home / "indexer.lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout.readline().strip() == "LOCKED"  # type: ignore[union-attr]
        r = subprocess.run(
            [*command("attalos-index"), "--library", str(home), *model_args(), "--json", str(photos)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
    finally:
        holder.communicate("")
    assert r.returncode == 3 and r.stdout == ""
    assert (
        r.stderr.strip()
        == f"attalos-index: error: library {home} is being indexed by another process (pid {holder.pid})"
    )


def test_index_piped_prints_no_progress_frames(tmp_path: Path, photos: Path) -> None:
    """Piped (``attalos-index ... 2>&1 | tee log``), the command's stderr holds no progress bar frames."""
    r = subprocess.run(
        [*command("attalos-index"), "--library", str(tmp_path / "lib"), *model_args(), str(photos)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # no bar, not even one frame
    assert r.stdout.startswith("6 new, 0 changed, 0 unchanged, 0 moved, 0 removed, 1 failed in "), r.stdout


def test_core_and_commands_import_neither_qt_nor_torch() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import attalos_desktop.core as core, attalos_desktop.cli as cli\n"
        "for pkg in (core, cli):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(pkg.__name__ + '.' + m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6', 'torchvision', 'trainer'))\n"
        "print(bad)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def _check_contract() -> Path | None:
    for p in (REPO.parent / "shared" / "tools" / "check-contract", Path("/tmp/check-contract")):
        if p.is_file():
            return p
    return None


@pytest.mark.skipif(_check_contract() is None or bool(model_args()), reason="check-contract not available here")
def test_check_contract_holds() -> None:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    r = subprocess.run(["bash", str(_check_contract())], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert r.stdout.strip().splitlines()[-1] == "contract holds", r.stdout + r.stderr


def test_index_can_leave_the_windows_thumbnails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """attalos-index --thumbnails: the grid's thumbnails are made from the same decode, where the window looks."""
    from PIL import Image

    from attalos_desktop.core.thumbnails import ThumbnailCache, library_cache_root

    monkeypatch.delenv("ATTALOS_CACHE_DIR", raising=False)
    folder = tmp_path / "camera"
    folder.mkdir()
    photos = []
    for i in range(3):
        p = folder / f"IMG_{i}.jpg"
        Image.new("RGB", (2400, 1800), (60 * i, 120, 200)).save(p, quality=90)
        photos.append(p)
    home = tmp_path / "lib"
    lib = ["--library", str(home), *model_args()]
    d = run_json(capsys, cli_index.main, [*lib, "--json", "--thumbnails", "--thumbnail-size", "200", str(folder)])
    assert d["new"] == 3
    window = ThumbnailCache(library_cache_root(str(home)))  # what the window opens for this library
    assert window.root.is_relative_to(home)
    for p in photos:
        made = window.lookup(p, 200)
        assert made is not None and Image.open(made).size == (200, 150)
    assert window.lookup(photos[0], 160) is None  # another size: left to the window
    with pytest.raises(SystemExit) as refused:  # refused with the reason, exit status 2 (usage)
        cli_index.main([*lib, "--thumbnail-size", "5", str(folder)])
    assert refused.value.code == 2
    assert "--thumbnail-size" in capsys.readouterr().err


def test_tag_works_before_anything_is_indexed(tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A new, empty library (no photos, no vectors, no user words) still tags a photo file."""
    lib = ["--library", str(tmp_path / "new-library"), *model_args()]
    d = run_json(capsys, cli_tag.main, [*lib, "--json", "--top", "3", str(photos / "p2.jpg")])
    assert len(d) == 1 and len(d[0]["tags"]) == 3 and "user_tags" not in d[0]
    assert all(0.0 <= t["score"] <= 1.0 for t in d[0]["tags"])


def test_plain_tag_lists_keywords_taken_in_from_the_photo(
    tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Keywords read from a sidecar are the user's words: plain attalos-tag lists them, and does not
    suggest them again."""
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject><rdf:Bag>'
        "<rdf:li>Holiday</rdf:li><rdf:li>Grandma</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    (photos / "p1.jpg.xmp").write_text(xmp)
    lib = ["--library", str(tmp_path / "lib"), *model_args()]
    run_json(capsys, cli_index.main, [*lib, "--json", str(photos)])
    assert cli_tag.main([*lib, "--top", "40", str(photos / "p1.jpg"), str(photos / "p3.jpg")]) == 0
    out = capsys.readouterr().out
    first, second = out.split("p3.jpg")
    assert "your tags: grandma, holiday" in first
    assert "your tags" not in second  # a photo without words of its own shows suggestions only
    assert "  holiday" not in first.split("your tags")[1]
    d = run_json(capsys, cli_tag.main, [*lib, "--json", "--top", "40", str(photos / "p1.jpg")])
    assert set(d[0]) == {"path", "tags"}  # the JSON keeps its shape
    assert not {"grandma", "holiday"} & {t["tag"] for t in d[0]["tags"]}
