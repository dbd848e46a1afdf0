"""Synthetic multi-object photos with exact tags, for tests, demos and the stand-in model.

Each photo shows one to three coloured shapes on a textured background; its tags are the
background word plus every object's colour and shape word. Content is known exactly, so a
test can tell whether a model really learned to see (and not merely the tag frequencies).

Only Pillow and numpy are needed (no torch): the app's tests import this module too.

Objects are placed inside the centred square of the photo, because the models centre-crop
to a square (like a photographer centring the subject); a tag is never cropped away.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (215, 30, 35),
    "green": (35, 165, 45),
    "blue": (35, 65, 215),
    "yellow": (245, 215, 35),
    "orange": (245, 135, 25),
    "purple": (135, 45, 175),
    "white": (248, 248, 248),
    "black": (18, 18, 18),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "diamond")
BACKGROUNDS: tuple[str, ...] = ("grass", "sand", "water", "sky", "brick", "wood")
# Colours an object never has on a background, so that every object stays clearly visible.
_CLASHES: dict[str, frozenset[str]] = {
    "grass": frozenset({"green"}),
    "sand": frozenset({"yellow", "orange"}),
    "water": frozenset({"blue"}),
    "sky": frozenset({"blue", "white"}),
    "brick": frozenset({"red", "orange"}),
    "wood": frozenset({"orange"}),
}
ALL_TAGS: tuple[str, ...] = tuple(COLOURS) + SHAPES + BACKGROUNDS
MAX_OBJECTS = 3


def _noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    return rng.normal(0.0, scale, size=(h, w, 1))


def _background(name: str, w: int, h: int, rng: random.Random) -> Image.Image:
    """A textured background; texture (not only hue) tells the backgrounds apart."""
    nrng = np.random.default_rng(rng.getrandbits(32))
    jitter = np.array([rng.uniform(-12, 12) for _ in range(3)])
    yy = np.linspace(0.0, 1.0, h)[:, None, None]
    if name == "grass":
        arr = np.array([60, 140, 50]) + jitter + _noise(nrng, h, w, 18)
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(img)
        for _ in range(w * h // 40):
            x, y = rng.uniform(0, w), rng.uniform(0, h)
            g = rng.randint(90, 190)
            d.line([(x, y), (x + rng.uniform(-2, 2), y - rng.uniform(3, 8))], fill=(30, g, 25), width=1)
        return img
    if name == "sand":
        arr = np.array([214, 188, 138]) + jitter + _noise(nrng, h, w, 10)
        arr = arr + nrng.normal(0, 25, size=(h, w, 1)) * (nrng.random((h, w, 1)) < 0.08)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if name == "water":
        xx = np.linspace(0.0, 1.0, w)[None, :, None]
        phase = rng.uniform(0, 6.28)
        waves = np.sin(yy * rng.uniform(40, 60) + np.sin(xx * 9 + phase) * 2.0) * 22
        arr = np.array([35, 105, 160]) + jitter + waves * np.array([0.6, 0.9, 1.0]) + _noise(nrng, h, w, 6)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if name == "sky":
        top, bottom = np.array([95, 155, 230]), np.array([195, 222, 250])
        arr = top + (bottom - top) * yy + jitter + _noise(nrng, h, w, 3) + np.zeros((h, w, 3))
        img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        clouds = Image.new("L", (w, h), 0)
        d = ImageDraw.Draw(clouds)
        for _ in range(rng.randint(1, 3)):
            cx, cy = rng.uniform(0, w), rng.uniform(0, h * 0.6)
            for _ in range(4):
                rx, ry = rng.uniform(8, 20) * w / 160, rng.uniform(4, 9) * h / 120
                ox, oy = rng.uniform(-12, 12), rng.uniform(-4, 4)
                d.ellipse([cx + ox - rx, cy + oy - ry, cx + ox + rx, cy + oy + ry], fill=200)
        clouds = clouds.filter(ImageFilter.GaussianBlur(3))
        return Image.composite(Image.new("RGB", (w, h), (240, 244, 250)), img, clouds)
    if name == "brick":
        mortar = tuple(int(c) for c in np.array([195, 190, 180]) + jitter / 2)
        img = Image.new("RGB", (w, h), mortar)
        d = ImageDraw.Draw(img)
        bh = max(6, h // rng.randint(9, 13))
        bw = bh * 2.2
        for row, y in enumerate(range(0, h + bh, bh)):
            off = (bw / 2) * (row % 2)
            x = -off
            while x < w:
                c = np.array([150, 62, 42]) + jitter + nrng.normal(0, 12, 3)
                d.rectangle([x + 1, y + 1, x + bw - 1, y + bh - 1], fill=tuple(int(v) for v in np.clip(c, 0, 255)))
                x += bw
        arr = np.asarray(img, dtype=np.float64) + _noise(nrng, h, w, 6)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    if name == "wood":
        xx = np.linspace(0.0, 1.0, w)[None, :, None]
        grain = np.sin((xx * rng.uniform(25, 40) + np.sin(yy * rng.uniform(3, 6)) * 0.8) * 6.28)
        arr = np.array([165, 112, 62]) + jitter + grain * np.array([22, 16, 10]) + _noise(nrng, h, w, 5)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    raise ValueError(f"unknown background {name!r}; choose one of {', '.join(BACKGROUNDS)}")


def _polygon(shape: str, cx: float, cy: float, r: float, rot: float) -> list[tuple[float, float]]:
    def ring(n: int, radii: Sequence[float], start: float) -> list[tuple[float, float]]:
        pts = []
        for i in range(n * len(radii)):
            a = start + rot + 2 * math.pi * i / (n * len(radii))
            rr = radii[i % len(radii)]
            pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
        return pts

    if shape == "square":
        return ring(4, [r], math.pi / 4)
    if shape == "diamond":
        # Taller than wide, so it differs from a rotated square.
        pts = ring(4, [r], -math.pi / 2)
        return [(cx + (x - cx) * 0.62, y) for x, y in pts]
    if shape == "triangle":
        return ring(3, [r * 1.1], -math.pi / 2)
    if shape == "star":
        return ring(5, [r * 1.15, r * 0.45], -math.pi / 2)
    if shape == "cross":
        a, b = r, r * 0.36
        base = [
            (-b, -a),
            (b, -a),
            (b, -b),
            (a, -b),
            (a, b),
            (b, b),
            (b, a),
            (-b, a),
            (-b, b),
            (-a, b),
            (-a, -b),
            (-b, -b),
        ]
        c, s = math.cos(rot), math.sin(rot)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in base]
    raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")


def _draw_object(img: Image.Image, colour: str, shape: str, cx: float, cy: float, r: float, rng: random.Random) -> None:
    base = np.array(COLOURS[colour], dtype=np.float64)
    fill = tuple(int(v) for v in np.clip(base + [rng.uniform(-14, 14) for _ in range(3)], 0, 255))
    d = ImageDraw.Draw(img)
    if shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        rot = rng.uniform(-0.25, 0.25) if shape in ("square", "cross", "diamond") else rng.uniform(-0.15, 0.15)
        d.polygon(_polygon(shape, cx, cy, r, rot), fill=fill)


def _check_spec(spec: Mapping[str, Any]) -> tuple[str | None, list[tuple[str, str]] | None]:
    bg = spec.get("background")
    if bg is not None and bg not in BACKGROUNDS:
        raise ValueError(f"unknown background {bg!r}; choose one of {', '.join(BACKGROUNDS)}")
    objs = spec.get("objects")
    if objs is None:
        return bg, None
    out = []
    for item in objs:
        colour, shape = item
        if colour not in COLOURS:
            raise ValueError(f"unknown colour {colour!r}; choose one of {', '.join(COLOURS)}")
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
        out.append((colour, shape))
    if not 1 <= len(out) <= MAX_OBJECTS:
        raise ValueError(f"a photo holds 1 to {MAX_OBJECTS} objects, not {len(out)}")
    return bg, out


def render_photo(
    rng: random.Random,
    size: tuple[int, int] = (160, 120),
    spec: Mapping[str, Any] | None = None,
    *,
    max_objects: int = MAX_OBJECTS,
    min_objects: int = 1,
) -> tuple[Image.Image, list[str]]:
    """Render one photo; return it with its tags (background, then colours and shapes).

    ``spec`` forces content, e.g. ``{"background": "sand", "objects": [("red", "circle")]}``;
    whatever it leaves out is random. A forced colour that clashes with the background is drawn
    anyway (the caller asked for it). ``min_objects``..``max_objects`` (within 1-3) bound random
    content: e.g. at least 2 objects give every photo 5 or more tags, as the LEAR protocol's
    5 annotations per photo assume.
    """
    if not 1 <= min_objects <= max_objects <= MAX_OBJECTS:
        raise ValueError(f"need 1 <= min_objects <= max_objects <= {MAX_OBJECTS}, not {min_objects}, {max_objects}")
    w, h = int(size[0]), int(size[1])
    if w < 16 or h < 16:
        raise ValueError(f"photo size {size} is too small (at least 16x16)")
    bg, objects = _check_spec(spec or {})
    if bg is None:
        bg = rng.choice(BACKGROUNDS)
    if objects is None:
        allowed = [c for c in COLOURS if c not in _CLASHES[bg]]
        pairs: list[tuple[str, str]] = []
        want = rng.randint(min_objects, max_objects)
        while len(pairs) < want:  # distinct (colour, shape) pairs
            pair = (rng.choice(allowed), rng.choice(SHAPES))
            if pair not in pairs:
                pairs.append(pair)
        objects = pairs
    img = _background(bg, w, h, rng)
    side = min(w, h)
    x0, y0 = (w - side) / 2, (h - side) / 2
    n = len(objects)
    r_max = side * (0.22 if n == 1 else 0.17 if n == 2 else 0.14)
    placed: list[tuple[float, float, float]] = []
    for colour, shape in objects:
        for attempt in range(60):
            r = rng.uniform(r_max * 0.7, r_max)
            cx = rng.uniform(x0 + r * 1.2, x0 + side - r * 1.2)
            cy = rng.uniform(y0 + r * 1.2, y0 + side - r * 1.2)
            # Allow a little overlap only when a free place is hard to find.
            slack = 1.0 if attempt < 40 else 0.7
            if all(math.hypot(cx - px, cy - py) >= (r + pr) * slack for px, py, pr in placed):
                break
        placed.append((cx, cy, r))
        _draw_object(img, colour, shape, cx, cy, r, rng)
    tags = [bg]
    for colour, shape in objects:
        for t in (colour, shape):
            if t not in tags:
                tags.append(t)
    return img, tags


def make_dataset(
    root: str | Path,
    n_images: int,
    *,
    seed: int = 0,
    test_fraction: float = 0.2,
    size: tuple[int, int] = (160, 120),
    hold_out: Iterable[str] = (),
    max_objects: int = MAX_OBJECTS,
    min_objects: int = 1,
) -> Path:
    """Write ``root/images/*.jpg`` and ``root/labels.jsonl`` (the trainer's dataset layout).

    Every photo showing a ``hold_out`` word goes to the test split, so that word never occurs
    in training: the zero-shot setting. The same seed gives the same dataset.
    """
    held = set(hold_out)
    unknown = held - set(ALL_TAGS)
    if unknown:
        raise ValueError(f"hold_out words {sorted(unknown)} are not synthetic tags")
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1], not {test_fraction}")
    root = Path(root)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    lines = []
    for i in range(int(n_images)):
        img, tags = render_photo(rng, size=size, max_objects=max_objects, min_objects=min_objects)
        split = "test" if (held & set(tags)) or rng.random() < test_fraction else "train"
        name = f"images/{i:05d}.jpg"
        img.save(root / name, quality=90)
        lines.append(json.dumps({"file": name, "tags": tags, "split": split}))
    (root / "labels.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
