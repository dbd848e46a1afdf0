"""The quick start's tour (``bash scripts/demo.sh`` runs it after setting up ``.venv``).

    python -m attalos_desktop.quickstart [PHOTO_DIR] [QUERY ...]

Indexes PHOTO_DIR into a demo library, then shows suggested tags and searches, printing each command
before its output so that the tour can be repeated by hand. With no PHOTO_DIR it takes ``~/Pictures``
when that holds files, else the sample library (``attalos_desktop.samples``: real, freely licensed
photos copied from the installed scikit-image). ``$ATTALOS_DEMO_LIBRARY`` (default ``demo-library/``)
and ``$ATTALOS_DEMO_PHOTOS`` (where the samples go; default ``sample-photos/``) are relative to the
current folder. Nothing is downloaded; every command is the installed CLI's own ``main``.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from .cli.display import short_path

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".heic", ".heif"}
# For the sample library: photos whose tags are shown, and searches whose answers a person can judge.
SAMPLE_TAGGED = ("chelsea.png", "astronaut.png", "rocket.jpg")
SAMPLE_QUERIES = ("cat", "person", "space")
OWN_QUERY = "sky"
TOP = 5
LIMIT = 3


def _say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _run(cmd: str, args: list[str]) -> int:
    """Print ``$ cmd args`` (paths as the user would type them) and run the command's module."""
    shown = [short_path(a) if os.path.isabs(a) else a for a in args]
    _say(f"$ {cmd} {shlex.join(shown)}")
    module = f"attalos_desktop.cli.{cmd.split('-', 1)[1]}"
    rc = subprocess.call([sys.executable, "-m", module, *args])
    _say()
    return rc


def _has_files(folder: Path) -> bool:
    try:
        return folder.is_dir() and any(True for _ in folder.iterdir())
    except OSError:
        return False


def _first_photos(folder: Path, n: int) -> list[Path]:
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / f for f in sorted(files) if Path(f).suffix.lower() in IMAGE_EXTS)
        if len(found) >= n:
            break
    return found[:n]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        _say(__doc__.strip())
        return 0
    folder = args[0] if args else ""
    queries = [" ".join(args[1:])] if len(args) > 1 else []
    library = os.path.abspath(os.environ.get("ATTALOS_DEMO_LIBRARY") or "demo-library")
    pictures = Path.home() / "Pictures"
    samples = False
    if not folder and _has_files(pictures):
        folder = str(pictures)
        _say(f"== no photo folder given: using {folder}")
    elif not folder:
        from .samples import SamplesUnavailable, copy_samples

        folder = os.path.abspath(os.environ.get("ATTALOS_DEMO_PHOTOS") or "sample-photos")
        try:
            copied = copy_samples(folder)
        except SamplesUnavailable as exc:
            print(f"quick start: {exc}", file=sys.stderr)
            return 1
        samples = True
        _say(
            f"== nothing in ~/Pictures: copied {len(copied)} sample photos from scikit-image to {short_path(folder)}/ "
            "(licences in README.md)"
        )
    elif not os.path.isdir(folder):
        print(f"quick start: {folder} is not a folder", file=sys.stderr)
        return 1
    folder = os.path.abspath(folder)
    lib = ["--library", library]

    _say(f"== index the photos into {short_path(library)}/ with the bundled default model")
    rc = _run("attalos-index", [*lib, folder])
    if rc != 0:
        return rc
    if samples:
        tagged = [os.path.join(folder, f) for f in SAMPLE_TAGGED if os.path.isfile(os.path.join(folder, f))]
        queries = queries or list(SAMPLE_QUERIES)
    else:
        tagged = [str(p) for p in _first_photos(Path(folder), 1)]
        queries = queries or [OWN_QUERY]
    if tagged:
        _say("== suggested tags (the model's confidence that the word applies)")
        rc |= _run("attalos-tag", [*lib, "--top", str(TOP), *tagged])
    _say("== search by any words (best first)")
    for q in queries:
        rc |= _run("attalos-search", [*lib, "--limit", str(LIMIT), *q.split()])
    bindir = short_path(os.path.dirname(sys.executable))
    _say(f"== the commands above are in {bindir}/; to open this library in the desktop app:")
    _say(f"   {bindir}/attalos-desktop --library {shlex.quote(short_path(library))}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
