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

from attalos_desktop.synthetic import make_dataset  # noqa: E402
from trainer_testutil import FAST, ZERO_SHOT  # noqa: E402

LEARN_SIZE = 80  # input side of the learning run


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3000 synthetic photos; test photos of grass and water also carry the zero-shot words."""
    root = tmp_path_factory.mktemp("synth") / "data"
    make_dataset(root, 3000, seed=11, size=(80, 60), test_fraction=0.15)
    rows = [json.loads(x) for x in (root / "labels.jsonl").read_text().splitlines()]
    for r in rows:
        if r["split"] == "test":
            r["tags"] += [word for word, concept in ZERO_SHOT.items() if concept in r["tags"]]
    (root / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


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
    # About 13k photo passes at 80 px (~115 CPU-s). Measured on this data: LEAR F1 0.619 at 80 px
    # (0.597 at 64 px, where the smallest shapes are only a few pixels wide after the stem).
    code = main(
        [
            "--data",
            str(synth_data),
            "--out",
            str(out),
            "--epochs",
            "5",
            "--batch-size",
            "32",
            "--lr",
            "5e-3",
            "--positives",
            "4",
            "--seed",
            "0",
            *FAST,
            "--image-size",
            str(LEARN_SIZE),
        ]
    )
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    return {"bundle": out, "data": synth_data, "manifest": manifest, "metrics": manifest["metrics"]}
