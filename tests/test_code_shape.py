"""The shape DESIGN.md asks for, enforced: layer boundaries and no import circles (import-linter, grimp),
lint errors (ruff) and the core's static types (mypy)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    assert exe.exists(), f"{tool} is not installed (it comes with the dev extra: pip install -e '.[dev]')"
    return subprocess.run([str(exe), *args], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_layers_hold() -> None:
    """Core without Qt, torch or trainer; the app never imports the trainer; no import circles; the floors
    (GUI and commands over the core, the window over its controllers) (pyproject [tool.importlinter])."""
    r = _run("lint-imports")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "0 broken" in r.stdout


def test_no_import_circles() -> None:
    """No module reaches itself through imports (``if TYPE_CHECKING:`` ones included): import-linter's
    acyclic_siblings contract says which package to look at, this names the modules of each circle."""
    grimp = pytest.importorskip("grimp")  # comes with import-linter (the dev extra)
    graph = grimp.build_graph("attalos_desktop", "trainer", cache_dir=None)
    circles = _circles({m: graph.find_modules_directly_imported_by(m) for m in graph.modules})
    assert not circles, "import circles: " + "; ".join(" <-> ".join(c) for c in circles)


def _circles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in imports.get(v, ()):
            if w not in imports:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for m in sorted(imports):
        if m not in index:
            visit(m)
    return sorted(out)


def test_circles_are_found() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


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
