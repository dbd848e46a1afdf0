"""Fixtures for the core tests: the real default bundle and real generated photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from core_helpers import bundle_path


@pytest.fixture(scope="session")
def bundle_dir() -> Path:
    return bundle_path()
