"""Fixtures for the command tests: real photos and the real default bundle."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from attalos_desktop.core.bundle import default_bundle_path
from attalos_desktop.synthetic import render_photo


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    env = os.environ.get("ATTALOS_TEST_BUNDLE")
    return Path(env) if env else default_bundle_path()


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    root.mkdir()
    rng = random.Random(0)
    for i in range(6):
        im, _ = render_photo(rng, size=(160, 120))
        im.save(root / f"p{i}.jpg", quality=90)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return root
