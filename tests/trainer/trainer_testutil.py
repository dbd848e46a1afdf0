"""Constants and flag sets shared by the trainer tests (imported by conftest and the tests)."""

from __future__ import annotations

from pathlib import Path

HELD_OUT = "purple"  # never in training; scored zero-shot through its word vector
# Small and quick: 48 px inputs, MobileNetV3-small, one CPU thread, no worker processes.
FAST = ["--image-size", "48", "--workers", "0", "--threads", "1", "--extra-words", "300",
        "--ngram-buckets", "1024", "--quiet"]


def fast_args(data: Path, out: Path, *extra: str) -> list[str]:
    """Flags of a short mechanics run (a few steps on a few photos)."""
    return ["--data", str(data), "--out", str(out), "--batch-size", "8", *FAST, *extra]
