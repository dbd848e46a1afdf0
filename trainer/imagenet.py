"""The ImageNet normalisation the pretrained trunks expect (per-channel mean and std of RGB in [0, 1]).

The floor under ``data.py`` (which re-exports them for its importers) and ``augment.py``: constants only, no
torch, so the file datasets stay importable without it.
"""

from __future__ import annotations

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
