"""Training augmentation, in one place: per-photo crops of decoded files, and batched crops of photos
held decoded in memory.

``crop_tensor`` serves the file and shard datasets (one PIL image at a time, in loader workers).
``augment_batch`` serves in-memory corpora (``corpora.py``): random resized crops of a whole batch at
once with ``roi_align``, flips and colour jitter, so two CPU cores spend their time training, not
decoding. Its random parameters are drawn for the whole global batch from a keyed generator and
each process applies its own rows, so N processes see what one would.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from attalos_desktop.core.bundle import Preprocessing

from .imagenet import IMAGENET_MEAN, IMAGENET_STD

AUGMENTS = ("crop", "flip", "none")


def crop_tensor(
    im: Image.Image, pre: Preprocessing, rng: np.random.Generator | None = None, augment: str = "crop"
) -> np.ndarray:
    """[3,S,S] float32: the app's centre crop, or (with ``rng``) an augmented one.

    ``augment``: "crop" jitters scale and position and flips; "flip" only flips; "none" nothing.
    """
    w, h = im.size
    side = pre.input_size * min(w, h) / pre.resize
    cx, cy = w / 2.0, h / 2.0
    flip = False
    if rng is not None and augment == "crop":
        side *= float(rng.uniform(0.9, 1.05))
        slack = max(min(w, h) - side, 0.0) / 2.0 + side * 0.04
        cx += float(rng.uniform(-slack, slack))
        cy += float(rng.uniform(-slack, slack))
    if rng is not None and augment in ("crop", "flip"):
        flip = bool(rng.random() < 0.5)
    left, top = cx - side / 2.0, cy - side / 2.0
    box = (max(left, 0.0), max(top, 0.0), min(left + side, w), min(top + side, h))
    out = im.resize((pre.input_size, pre.input_size), Image.Resampling.BILINEAR, box=box, reducing_gap=2.0)
    arr = np.asarray(out, dtype=np.float32) * (1.0 / 255.0)
    if flip:
        arr = arr[:, ::-1]
    arr = (arr - np.asarray(pre.mean, dtype=np.float32)) / np.asarray(pre.std, dtype=np.float32)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def random_boxes(
    rng: np.random.Generator, hw: np.ndarray, scale: tuple[float, float], ratio: tuple[float, float] = (3 / 4, 4 / 3)
) -> np.ndarray:
    """RandomResizedCrop boxes (x1, y1, x2, y2) inside each photo's real area."""
    h, w = hw[:, 0].astype(np.float64), hw[:, 1].astype(np.float64)
    n = len(hw)
    area = h * w * rng.uniform(scale[0], scale[1], n)
    r = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), n))
    cw = np.minimum(np.sqrt(area * r), w)
    ch = np.minimum(np.sqrt(area / r), h)
    x0 = rng.uniform(0, 1, n) * (w - cw)
    y0 = rng.uniform(0, 1, n) * (h - ch)
    return np.stack([x0, y0, x0 + cw, y0 + ch], axis=1)


_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def augment_batch(
    pixels: np.ndarray,
    hw: np.ndarray,
    size: int,
    rng: np.random.Generator,
    scale: tuple[float, float],
    jitter: float,
    rows: slice = slice(None),
    norm: tuple[Sequence[float], Sequence[float]] | None = None,
) -> torch.Tensor:
    """Random resized crop (roi_align), flip, colour jitter and normalisation of a batch of decoded
    photos (uint8 [N,H,W,3] on a canvas, ``hw`` their real sizes) -> float [n,3,size,size].
    ``norm``: the tower's input (mean, std) (``Tower.input_norm``; torchvision's ImageNet one by default).

    The random parameters are drawn for all N photos; only ``rows`` (this process's share) are built.
    """
    from torchvision.ops import roi_align

    n = len(hw)
    boxes = random_boxes(rng, hw, scale)
    flip = rng.random(n) < 0.5
    bcs = rng.uniform(1 - jitter, 1 + jitter, (3, n)) if jitter > 0 else None
    idx = np.arange(n)[rows]
    x = torch.from_numpy(pixels[idx]).permute(0, 3, 1, 2).float().div_(255.0)
    m = len(idx)
    b = torch.cat([torch.arange(m, dtype=torch.float32)[:, None], torch.from_numpy(boxes[idx]).float()], 1)
    out = roi_align(x, b, output_size=size, spatial_scale=1.0, sampling_ratio=2, aligned=True)
    f = torch.from_numpy(flip[idx])
    out[f] = out[f].flip(3)
    if bcs is not None:
        bright, contrast, sat = (torch.from_numpy(v[idx]).float().view(m, 1, 1, 1) for v in bcs)
        out = out * bright
        mean = out.mean(dim=(1, 2, 3), keepdim=True)
        out = (out - mean) * contrast + mean
        g = 0.299 * out[:, 0:1] + 0.587 * out[:, 1:2] + 0.114 * out[:, 2:3]
        out = ((out - g) * sat + g).clamp_(0, 1)
    if norm is None:
        return ((out - _MEAN) / _STD).contiguous()
    mean, std = (torch.tensor(tuple(v)).view(1, 3, 1, 1) for v in norm)
    return ((out - mean) / std).contiguous()
