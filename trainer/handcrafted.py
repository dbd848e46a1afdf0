"""Hand-crafted colour, layout and texture descriptors, written in torch so they export to ONNX.

Why: Corel-5k's 4,500 training photos are too few for a CNN trained from scratch to learn every
word, while label transfer from the nearest training photos works well when "nearest" mixes what
the CNN learned with classic descriptors (JEC, TagProp, 2PKNN all rest on colour histograms and
texture). Computing them inside the exported encoder keeps the bundle an ordinary format-1
bundle: the app runs one ONNX graph and never learns about these features.

Every descriptor is built so that a Euclidean distance is meaningful (histograms are
square-rooted: the distance between root-histograms is the Hellinger distance times sqrt 2), which
lets each be PCA-reduced and compared with one matrix product against a stored bank.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

from .data import IMAGENET_MEAN, IMAGENET_STD

# No thumbnail descriptor: the label-transfer bank ships inside the bundle, and a tiny image of each
# training photo would be a (crude) copy of photos whose licences forbid redistribution.
FEATURES = ("rgb", "hsv", "lab", "rgb3", "hsv3", "gabor")
VERSION = 2  # bump when a descriptor's definition changes (cached descriptors are keyed by it)


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """[B,3,H,W] RGB in [0,1] -> HSV in [0,1] (hue as a fraction of the circle)."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    mx = x.max(dim=1).values
    mn = x.min(dim=1).values
    d = mx - mn
    dd = d.clamp_min(1e-6)
    rc, gc, bc = (mx - r) / dd, (mx - g) / dd, (mx - b) / dd
    h = torch.where(r >= mx, bc - gc, torch.where(g >= mx, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.remainder(h / 6.0, 1.0)
    h = torch.where(d > 1e-6, h, torch.zeros_like(h))
    s = torch.where(mx > 1e-6, d / mx.clamp_min(1e-6), torch.zeros_like(mx))
    return torch.stack([h, s, mx], dim=1)


def rgb_to_lab01(x: torch.Tensor) -> torch.Tensor:
    """[B,3,H,W] sRGB in [0,1] -> CIE Lab (D65) rescaled to [0,1) per channel."""
    lin = torch.where(x > 0.04045, ((x + 0.055) / 1.055).pow(2.4), x / 12.92)
    m = (
        torch.tensor([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]], dtype=x.dtype)
        / torch.tensor([0.9505, 1.0, 1.089], dtype=x.dtype)[:, None]
    )
    xyz = torch.einsum("ij,bjhw->bihw", m, lin)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-6).pow(1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    lum = 116.0 * f[:, 1] - 16.0
    a = 500.0 * (f[:, 0] - f[:, 1])
    b = 200.0 * (f[:, 1] - f[:, 2])
    return torch.stack([lum / 100.0, (a + 100.0) / 200.0, (b + 100.0) / 200.0], dim=1).clamp(0.0, 0.9999)


def joint_histogram(x: torch.Tensor, bins: tuple[int, int, int]) -> torch.Tensor:
    """[B,3,H,W] in [0,1) -> normalised joint histogram [B, b0*b1*b2].

    A scatter-add of ones at each pixel's bin (ONNX ScatterElements with reduction "add"): ten to
    thirty times faster than one-hot products, which matters because it runs on every indexed photo.
    """
    bsz = x.shape[0]
    flat = x.reshape(bsz, 3, -1)
    nb = torch.tensor(bins, dtype=x.dtype).view(1, 3, 1)
    q = torch.minimum(torch.floor(flat * nb), nb - 1).clamp_min(0)
    idx = ((q[:, 0] * bins[1] + q[:, 1]) * bins[2] + q[:, 2]).long()
    h = torch.zeros(bsz, bins[0] * bins[1] * bins[2], dtype=x.dtype).scatter_add(1, idx, torch.ones_like(q[:, 0]))
    return h / flat.shape[2]


def strip_histograms(x: torch.Tensor, bins: tuple[int, int, int], strips: int = 3) -> torch.Tensor:
    """Joint histograms of ``strips`` horizontal bands (sky on top, ground below), concatenated."""
    h = x.shape[2]
    parts = [joint_histogram(x[:, :, h * i // strips : h * (i + 1) // strips], bins) for i in range(strips)]
    return torch.cat(parts, dim=1) / strips


def _derivative_kernels(sigma: float, orientations: int) -> torch.Tensor:
    """First derivatives of a Gaussian along ``orientations`` directions: [O,1,K,K] (edge energy)."""
    r = int(math.ceil(3 * sigma))
    ax = torch.arange(-r, r + 1, dtype=torch.float32)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    g = torch.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    ks = []
    for k in range(orientations):
        t = math.pi * k / orientations
        d = -(xx * math.cos(t) + yy * math.sin(t)) / sigma**2 * g
        ks.append(d / d.abs().sum())
    return torch.stack(ks).unsqueeze(1)


class Handcrafted(nn.Module):
    """Normalised encoder input [B,3,S,S] -> {name: descriptor [B,D]} (root-histograms, edge energy)."""

    def __init__(
        self,
        grid: int = 4,
        orientations: int = 4,
        scales: tuple[int, ...] = (1, 2),
        norm: tuple[Sequence[float], Sequence[float]] = (IMAGENET_MEAN, IMAGENET_STD),
    ) -> None:
        super().__init__()
        # the encoder input's normalisation (mean, std), undone to get back to pixels
        self.register_buffer("mean", torch.tensor(tuple(norm[0])).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(tuple(norm[1])).view(1, 3, 1, 1))
        # one small kernel; the coarser scales filter a 2x, 4x... averaged image (cheaper than wider kernels)
        self.register_buffer("kernel", _derivative_kernels(1.0, orientations))
        self.scales = scales
        self.grid = grid

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images * self.std + self.mean).clamp(0.0, 0.99999)
        hsv = rgb_to_hsv(x).clamp(0.0, 0.99999)
        lab = rgb_to_lab01(x)
        out = {
            "rgb": joint_histogram(x, (8, 8, 8)).sqrt(),
            "hsv": joint_histogram(hsv, (16, 4, 4)).sqrt(),
            "lab": joint_histogram(lab, (4, 8, 8)).sqrt(),
            "rgb3": strip_histograms(x, (4, 4, 4)).sqrt(),
            "hsv3": strip_histograms(hsv, (8, 3, 3)).sqrt(),
        }
        gray = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
        edges = []
        r = self.kernel.shape[-1] // 2
        for sc in self.scales:
            g = F.avg_pool2d(gray, sc) if sc > 1 else gray
            e = F.conv2d(F.pad(g, (r, r, r, r), mode="replicate"), self.kernel).abs()  # no edge at the border
            cell = (int(g.shape[2]) // self.grid, int(g.shape[3]) // self.grid)  # fixed input size
            edges.append(F.avg_pool2d(e, cell).flatten(1))
        out["gabor"] = torch.cat(edges, dim=1)
        return out
