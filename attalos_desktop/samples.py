"""The sample library: real, freely licensed photos that scikit-image's wheel ships in ``skimage/data``.

Used by the quick start (``scripts/demo.sh`` through ``attalos_desktop.quickstart``) when there is no
photo folder, and by the GUI demo (``attalos_desktop.gui.demo``) for the README screenshot. The
photos are never committed to this repository: they are copied at run time from the installed
``scikit-image`` (the ``demo`` extra), which is found without importing it, so nothing is downloaded.

Only photos whose licence scikit-image states (in ``skimage/data/_fetchers.py``) as CC0 or public
domain are used; before copying a photo the licence sentence is looked up again in the installed
``_fetchers.py``, and a photo whose statement is missing or changed is skipped. Photos that
scikit-image fetches from the network on first use (pooch) are not in its wheel and are not used.

    python -m attalos_desktop.samples DEST     # copy the sample photos into DEST
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    file: str  # the file in skimage/data (also its name in the sample folder)
    loader: str  # the skimage.data function whose docstring states the licence
    what: str  # what a person sees in it
    licence: str  # as the README lists it
    statement: str  # the sentence in that docstring this listing relies on
    tags: tuple[str, ...]  # what a person would tag it with (the GUI demo's "true tags")


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "chelsea.png",
        "chelsea",
        "Chelsea the cat",
        "CC0, Stefan van der Walt",
        "CC0 by the photographer (Stefan van der Walt)",
        ("cat", "tabby", "animal"),
    ),
    Sample(
        "coffee.png",
        "coffee",
        "a cup of coffee on a wooden table",
        "CC0, Rachel Michetti",
        "CC0 by the photographer (Rachel Michetti)",
        ("coffee", "cup", "drink"),
    ),
    Sample(
        "astronaut.png",
        "astronaut",
        "the astronaut Eileen Collins",
        "public domain, NASA",
        "released into the public domain",
        ("astronaut", "woman", "person"),
    ),
    Sample(
        "rocket.jpg",
        "rocket",
        "a Falcon 9 rocket lifting off",
        "public domain, SpaceX",
        "released in the public domain",
        ("rocket", "launch", "sky"),
    ),
    Sample(
        "hubble_deep_field.jpg",
        "hubble_deep_field",
        "the Hubble eXtreme Deep Field",
        "public domain, NASA",
        "may be freely used in the public domain",
        ("space", "galaxies", "stars"),
    ),
    Sample(
        "camera.png",
        "camera",
        "a photographer with a camera (grey)",
        "CC0, Lav Varshney",
        "CC0 by the photographer (Lav Varshney)",
        ("man", "camera", "photographer"),
    ),
    Sample(
        "clock_motion.png",
        "clock",
        "a wall clock, motion-blurred (grey)",
        "public domain, Stefan van der Walt",
        "Released into the public domain by the photographer (Stefan van der Walt)",
        ("clock", "wall"),
    ),
    Sample(
        "grass.png",
        "grass",
        "grass (grey)",
        "CC0, linolafett (DeviantArt)",
        "licensed under the Creative Commons CC0 License",
        ("grass", "plants"),
    ),
    Sample(
        "brick.png",
        "brick",
        "a brick wall (grey)",
        "CC0, CC0Textures",
        "licensed under the Creative Commons CC0 License",
        ("brick", "wall"),
    ),
    Sample(
        "gravel.png",
        "gravel",
        "gravel (grey)",
        "CC0, CC0Textures",
        "licensed under the Creative Commons CC0 License",
        ("gravel", "stones", "ground"),
    ),
)


class SamplesUnavailable(RuntimeError):
    """scikit-image is not installed, or its wheel ships none of the sample photos."""


def skimage_data_dir() -> Path:
    """``skimage/data`` of the installed scikit-image, found without importing it (no scipy needed)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SamplesUnavailable("scikit-image is not installed (pip install -e '.[demo]', or run scripts/demo.sh)")
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def _docstrings(data_dir: Path) -> dict[str, str]:
    """Each function's source in skimage/data/_fetchers.py (its docstring and the file it loads)."""
    src = (data_dir / "_fetchers.py").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.FunctionDef):
            body = ast.get_source_segment(src, node) or ""
            out[node.name] = body
    return out


def check(data_dir: Path | None = None) -> tuple[list[Sample], list[str]]:
    """The samples whose file is there and whose licence statement is still in ``_fetchers.py``;
    and one line per sample left out, saying why."""
    data_dir = data_dir or skimage_data_dir()
    try:
        funcs = _docstrings(data_dir)
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        raise SamplesUnavailable(
            f"cannot read scikit-image's licence statements ({data_dir / '_fetchers.py'}): {exc}"
        ) from exc
    ok: list[Sample] = []
    skipped: list[str] = []
    for s in SAMPLES:
        body = funcs.get(s.loader, "")
        statement = " ".join(s.statement.split())
        if not (data_dir / s.file).is_file():
            skipped.append(f"{s.file}: not in the installed scikit-image")
        elif f"data/{s.file}" not in body or statement not in " ".join(body.split()):
            skipped.append(f"{s.file}: its licence statement ({statement!r}) is not in skimage.data.{s.loader}")
        else:
            ok.append(s)
    return ok, skipped


def copy_samples(dest: str | Path) -> list[Path]:
    """Copy the checked sample photos into ``dest`` (kept as they are when already there, so a rerun
    of the demo rescans nothing); return their paths. Raises SamplesUnavailable when there are none."""
    data_dir = skimage_data_dir()
    ok, skipped = check(data_dir)
    for line in skipped:
        print(f"sample photos: skipping {line}", file=sys.stderr)
    if not ok:
        raise SamplesUnavailable(f"no usable sample photos in {data_dir}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for s in ok:
        src, dst = data_dir / s.file, dest / s.file
        if not (dst.is_file() and dst.stat().st_size == src.stat().st_size):
            shutil.copy2(src, dst)
        out.append(dst)
    return out


def by_file() -> dict[str, Sample]:
    return {s.file: s for s in SAMPLES}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m attalos_desktop.samples DEST", file=sys.stderr)
        return 2
    try:
        paths = copy_samples(args[0])
    except SamplesUnavailable as exc:
        print(f"sample photos: {exc}", file=sys.stderr)
        return 1
    print(f"copied {len(paths)} sample photos to {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
