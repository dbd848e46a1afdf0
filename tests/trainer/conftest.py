"""Shared, session-scoped training runs: the CPU is precious, so every test that needs a trained
model uses the same one (trained once through the real command, exported, and evaluated).

Runs are bounded by epochs and steps, never by wall time, so results do not depend on machine load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from trainer.synthetic import make_dataset  # noqa: E402
from trainer_testutil import FAST, HELD_OUT  # noqa: E402


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1000 synthetic photos (at most 2 objects each), every photo showing purple in the test split."""
    root = tmp_path_factory.mktemp("synth") / "data"
    return make_dataset(root, 1000, seed=11, size=(64, 48), test_fraction=0.2, hold_out=(HELD_OUT,), max_objects=2)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few photos for runs that test mechanics, not learning."""
    root = tmp_path_factory.mktemp("tiny") / "data"
    return make_dataset(root, 40, seed=3, size=(48, 40), test_fraction=0.25)


@pytest.fixture(scope="session")
def trained(synth_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The one learning run: ``attalos-desktop-train`` on the synthetic photos, then export + evaluation."""
    from trainer.cli import main

    out = tmp_path_factory.mktemp("trained") / "bundle"
    code = main(["--data", str(synth_data), "--out", str(out), "--epochs", "10", "--batch-size", "32",
                 "--lr", "5e-3", "--positives", "4", "--seed", "0", *FAST])
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    return {"bundle": out, "data": synth_data, "manifest": manifest, "metrics": manifest["metrics"]}
