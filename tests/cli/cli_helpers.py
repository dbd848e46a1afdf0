"""Helpers for the command tests: where the commands are, which model to pass."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def model_args() -> list[str]:
    """Normally nothing (the commands find the default bundle themselves); ATTALOS_TEST_BUNDLE overrides."""
    env = os.environ.get("ATTALOS_TEST_BUNDLE")
    return ["--model", env] if env else []


def command(name: str) -> list[str]:
    """The installed console script when present, else the module (same main())."""
    exe = BIN / name
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", f"attalos_desktop.cli.{name.split('-')[1]}"]
