"""The shape DESIGN.md asks for, enforced: layer boundaries (import-linter), lint errors (ruff) and the
core's static types (mypy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    assert exe.exists(), f"{tool} is not installed (it comes with the dev extra: pip install -e '.[dev]')"
    return subprocess.run([str(exe), *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_layers_hold() -> None:
    """Core without Qt, torch or trainer; the app never imports the trainer (pyproject [tool.importlinter])."""
    r = _run("lint-imports")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_no_lint_errors() -> None:
    """Undefined names, unused imports and variables, syntax errors (pyproject [tool.ruff.lint])."""
    r = _run("ruff", "check", "--no-cache", ".")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


def test_core_types_check() -> None:
    """The core type-checks: annotated throughout, no ignores left unused (pyproject [tool.mypy])."""
    r = _run("mypy", "attalos_desktop/core")
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]


def test_formatted() -> None:
    """One format for every file (ruff format, 120 columns): a diff shows what changed, not who typed it."""
    r = _run("ruff", "format", "--check", "--no-cache", ".")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
