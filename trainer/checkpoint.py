"""Training checkpoints: one dict with everything needed to resume exactly where a run stopped.

Written to a temporary file and renamed, so an interrupted save never destroys the last good one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .errors import TrainError

CHECKPOINT_VERSION = 1


def save_checkpoint(path: str | os.PathLike[str], ckpt: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"version": CHECKPOINT_VERSION, **ckpt}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise TrainError(f"checkpoint {path} does not exist (nothing to resume)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - truncated or foreign file
        raise TrainError(f"checkpoint {path} cannot be read: {str(exc).splitlines()[0]}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("version") != CHECKPOINT_VERSION:
        raise TrainError(f"{path} is not a checkpoint of this trainer")
    return ckpt
