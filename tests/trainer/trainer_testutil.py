"""Constants and flag sets shared by the trainer tests (imported by conftest and the tests)."""

from __future__ import annotations

from pathlib import Path

# Zero-shot words: added to the test photos of a trained concept only, so training never sees them;
# they must find those photos through their pretrained vectors (mapped by the bundle's text map).
ZERO_SHOT = {"lawn": "grass", "ocean": "water"}
# Small and quick: 64 px inputs (no slower than 48 px for MobileNetV3-small on a CPU), one CPU
# thread, no worker processes.
FAST = [
    "--image-size",
    "64",
    "--workers",
    "0",
    "--threads",
    "1",
    "--extra-words",
    "300",
    "--ngram-buckets",
    "1024",
    "--quiet",
]


def fast_args(data: Path, out: Path, *extra: str) -> list[str]:
    """Flags of a short mechanics run (a few steps on a few photos)."""
    return ["--data", str(data), "--out", str(out), "--batch-size", "8", *FAST, *extra]
