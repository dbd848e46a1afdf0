"""Datasets: ``labels.jsonl`` parsing, the tag vocabulary, and photos as training tensors.

The vocabulary comes from the train split only (``--min-count``), so test tags never leak into
training. Photos are decoded with the app's own rule (shorter side -> ``resize``, centre crop,
bilinear from the source box), with a mild random crop/flip for training, so the encoder learns on
exactly the pixels it will later see in the app.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageOps

from attalos_desktop.core.bundle import Preprocessing
from attalos_desktop.core.tags import normalize_tag

from .errors import TrainError
from .imagenet import IMAGENET_MEAN, IMAGENET_STD

LABELS = "labels.jsonl"


@dataclass
class Record:
    """One labelled photo of the dataset."""

    file: str
    tags: list[str]
    split: str
    line: int


@dataclass
class Vocabulary:
    """Tags kept for training with their train-split frequencies (most frequent first)."""

    tags: list[str]
    freq: np.ndarray  # int64 [V]
    dropped: dict[str, int] = field(default_factory=dict)  # tag -> count, under --min-count
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.tags)}

    def __len__(self) -> int:
        return len(self.tags)


def read_labels(data_dir: str | Path) -> list[Record]:
    """Parse ``labels.jsonl``; raise TrainError naming the first malformed line."""
    root = Path(data_dir)
    path = root / LABELS
    if not root.is_dir():
        raise TrainError(f"dataset directory {root} does not exist")
    if not path.is_file():
        raise TrainError(f"no {LABELS} in {root} (a dataset is a folder with images and {LABELS})")
    records: list[Record] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrainError(f"cannot read {path}: {exc}") from exc
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise TrainError(f"{path}:{lineno}: malformed line, not JSON ({exc.args[0] if exc.args else exc})") from exc
        if not isinstance(obj, dict):
            raise TrainError(f"{path}:{lineno}: malformed line, expected a JSON object")
        file, tags, split = obj.get("file"), obj.get("tags"), obj.get("split", "train")
        if not isinstance(file, str) or not file:
            raise TrainError(f"{path}:{lineno}: malformed line, 'file' must be a non-empty string")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise TrainError(f"{path}:{lineno}: malformed line, 'tags' must be a list of strings")
        if split not in ("train", "test"):
            raise TrainError(f'{path}:{lineno}: malformed line, \'split\' must be "train" or "test", not {split!r}')
        norm: list[str] = []
        for t in tags:
            n = normalize_tag(t)
            if n and n not in norm:
                norm.append(n)
        records.append(Record(file=file, tags=norm, split=split, line=lineno))
    if not records:
        raise TrainError(f"{path} lists no photos")
    return records


def build_vocabulary(records: Sequence[Record], min_count: int) -> Vocabulary:
    """Tags of the train split seen at least ``min_count`` times, most frequent first."""
    counts = Counter(t for r in records if r.split == "train" for t in r.tags)
    kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    dropped = {t: c for t, c in counts.items() if c < min_count}
    if not kept:
        n_train = sum(1 for r in records if r.split == "train")
        raise TrainError(
            f"empty vocabulary: no tag occurs at least {min_count} times in the {n_train} train photos"
            + (" (lower --min-count)" if counts else "")
        )
    return Vocabulary(tags=kept, freq=np.array([counts[t] for t in kept], dtype=np.int64), dropped=dropped)


def preprocessing_for(image_size: int) -> Preprocessing:
    """The standard rule: shorter side to 8/7 of the input, centre crop (ImageNet's 256 -> 224)."""
    return Preprocessing(
        input_size=image_size, resize=int(math.ceil(image_size * 8 / 7)), mean=IMAGENET_MEAN, std=IMAGENET_STD
    )


def load_rgb(path: Path, pre: Preprocessing) -> Image.Image:
    """Decode like the app: JPEG draft at the smallest scale covering ``resize``, orient, RGB."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        im = Image.open(path)
        if im.format in ("JPEG", "MPO"):
            im.draft("RGB", (pre.resize, pre.resize))
        im.load()
        im = ImageOps.exif_transpose(im)
    if im.mode != "RGB":
        im = im.convert("RGBA").convert("RGB") if "A" in im.mode or im.mode == "P" else im.convert("RGB")
    return im


class PhotoDataset:
    """Photos with their tag ids; a photo that fails to decode yields None (skipped and counted).

    Randomness of an item depends only on (seed, epoch, index), so runs repeat exactly whatever
    the number of workers, and a resumed run sees the same crops as an uninterrupted one.
    """

    def __init__(
        self,
        root: Path,
        records: Sequence[Record],
        tag_ids: Sequence[np.ndarray],
        pre: Preprocessing,
        *,
        train: bool,
        seed: int = 0,
        augment: str = "crop",
    ) -> None:
        self.root = Path(root)
        self.records = list(records)
        self.tag_ids = list(tag_ids)
        self.pre = pre
        self.train = train
        self.seed = seed
        self.augment = augment
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray] | tuple[int, None]:
        from .augment import crop_tensor

        rng = np.random.default_rng([self.seed, self.epoch, i]) if self.train else None
        try:
            im = load_rgb(self.root / self.records[i].file, self.pre)
            return i, crop_tensor(im, self.pre, rng, self.augment)
        except Exception:  # noqa: BLE001 - any unreadable photo is skipped, never fatal
            return i, None


def collate(batch: Sequence[tuple[int, Any]]) -> dict[str, Any]:
    """Stack the photos that decoded; report the indices of those that did not."""
    import torch

    good = [(i, x) for i, x in batch if x is not None]
    bad = [i for i, x in batch if x is None]
    if good:
        images = torch.from_numpy(np.stack([x for _, x in good]))
    else:
        images = torch.empty(0)
    return {"index": [i for i, _ in good], "images": images, "bad": bad}


def split_records(
    records: Sequence[Record], vocab: Vocabulary, split: str
) -> tuple[list[Record], list[np.ndarray], int]:
    """Records of one split whose tags (mapped to ids) are not all outside the vocabulary.

    Returns (records, tag id arrays, number of photos left without any known tag).
    """
    out, ids, empty = [], [], 0
    for r in records:
        if r.split != split:
            continue
        known = np.array([vocab.index[t] for t in r.tags if t in vocab.index], dtype=np.int64)
        if len(known) == 0:
            empty += 1
            continue
        out.append(r)
        ids.append(known)
    return out, ids, empty
