"""Fixtures for the fault-injection suite: a real library of generated photos with user tags, copied per test."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "core"))

from fault_helpers import build_library  # noqa: E402


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """photos/ (12 JPEGs, sidecars for the tagged ones) + lib/ indexed, tagged, backed up; never modified."""
    base = tmp_path_factory.mktemp("fault-template")
    build_library(base)
    return base


@pytest.fixture()
def world(template: Path, tmp_path: Path) -> Path:
    """A private copy of the template's library (its photos are shared: tests on it must not edit tags
    or photos); the copy is ``world / "lib"``."""
    home = tmp_path / "lib"
    shutil.copytree(template / "lib", home)
    return tmp_path
