"""Helpers of the packaging tests: they build the app / the wheels with packaging/build.sh and run what
was built as a person would, in their own processes, outside the checkout."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
DIST = PACKAGING / "dist"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no model override from the suite, no Python path into the checkout."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ATTALOS_DEFAULT_MODEL", "ATTALOS_HOME", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env


def run(cmd: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    assert res.returncode == 0, (
        f"{cmd} exited {res.returncode}\nstdout:\n{res.stdout[-4000:]}\nstderr:\n{res.stderr[-4000:]}"
    )
    return res


def make_photos(folder: Path, n: int = 8, seed: int = 0) -> list[Path]:
    """n small JPEG photos of coloured shapes on plain backgrounds (different enough to search)."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    colours = [(220, 40, 40), (40, 160, 60), (40, 80, 220), (240, 200, 40), (250, 250, 250), (30, 30, 30)]
    out = []
    for i in range(n):
        im = Image.new("RGB", (320, 240), colours[i % len(colours)])
        d = ImageDraw.Draw(im)
        for _ in range(3):
            x, y, r = rng.randrange(40, 280), rng.randrange(40, 200), rng.randrange(15, 40)
            d.ellipse((x - r, y - r, x + r, y + r), fill=rng.choice(colours))
        p = folder / f"photo{i:02d}.jpg"
        im.save(p, quality=90)
        out.append(p)
    return out


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """packaging/dist/wheelhouse with the app wheel, and nothing else: every dependency has wheels on PyPI
    (bash packaging/build.sh --wheels)."""
    run(["bash", str(PACKAGING / "build.sh"), "--wheels"], timeout=900, cwd=REPO)
    wh = DIST / "wheelhouse"
    assert [p.name for p in wh.iterdir()] == [next(wh.glob("attalos_desktop-*.whl")).name], sorted(wh.iterdir())
    return wh
