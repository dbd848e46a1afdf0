"""Tar shards in the WebDataset layout: a converter, a one-pass tag count, and a streaming reader.

    python -m trainer.shards --data DATA --out SHARDS [--shard-size 10000]   # labels.jsonl folder -> shards
    python -m trainer.shards --count SHARDS                                 # (re)write SHARDS/vocab.json
    attalos-desktop-train --data SHARDS --out BUNDLE ...                      # train from the shards

A shard ``train-000123.tar`` holds, per photo, ``KEY.jpg`` (the original file's bytes, its own
extension) then ``KEY.json`` (``{"tags": [...], "file": "..."}``), consecutive members sharing
KEY: the layout ``webdataset.WebDataset(...).decode()`` reads too. Only the train split goes into
shards (evaluate on a folder with ``--evaluate``). ``vocab.json`` beside the shards holds the
one-pass count: every tag with its frequency (most frequent first) and the photos per shard, so
the trainer builds its vocabulary and negative sampler without reading the corpus again.

Plain ``tarfile`` rather than the ``webdataset`` package: reading sequentially needs no more, and
the trainer keeps its dependencies. Each process reads its own shards (rank r: shards r, r+N, ...),
each decoding worker a disjoint part of those; the stream cycles, so every process always has a
batch, and an epoch is the steps that the smallest share of shards fills.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from torch.utils.data import IterableDataset
from attalos_desktop.core.bundle import Preprocessing
from attalos_desktop.core.tags import normalize_tag

from .augment import crop_tensor
from .data import Vocabulary, load_rgb, read_labels
from .errors import TrainError

VOCAB = "vocab.json"
FORMAT = "attalos-shards-1"
SHARD_PATTERN = "train-{:06d}.tar"


def is_shard_dir(path: str | Path) -> bool:
    return (Path(path) / VOCAB).is_file()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # shards repeat byte for byte
    tar.addfile(info, io.BytesIO(data))


def write_shards(
    data_dir: str | Path, out_dir: str | Path, shard_size: int = 10000, log: Any = print
) -> dict[str, Any]:
    """Write the train split of a labels.jsonl folder as shards plus ``vocab.json``; returns the count."""
    if shard_size < 1:
        raise TrainError(f"--shard-size must be at least 1, not {shard_size}")
    root, out = Path(data_dir), Path(out_dir)
    records = [r for r in read_labels(root) if r.split == "train" and r.tags]
    if not records:
        raise TrainError(f"{root} has no tagged train photos to shard")
    out.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    shards: list[dict[str, Any]] = []
    missing = 0
    tar: tarfile.TarFile | None = None
    key = 0
    for r in records:
        path = root / r.file
        try:
            data = path.read_bytes()
        except OSError:
            missing += 1
            continue
        if tar is None or shards[-1]["photos"] >= shard_size:
            if tar is not None:
                tar.close()
            name = SHARD_PATTERN.format(len(shards))
            tar = tarfile.open(out / name, "w")
            shards.append({"file": name, "photos": 0})
        ext = (path.suffix.lower().lstrip(".") or "jpg").replace("jpeg", "jpg")
        _add(tar, f"{key:09d}.{ext}", data)
        _add(tar, f"{key:09d}.json", json.dumps({"tags": r.tags, "file": r.file}).encode())
        counts.update(r.tags)
        shards[-1]["photos"] += 1
        key += 1
    if tar is not None:
        tar.close()
    if missing:
        log(f"{missing} photos listed in labels.jsonl could not be read and were left out")
    return _write_vocab(out, counts, shards)


def _write_vocab(out: Path, counts: Counter[str], shards: list[dict[str, Any]]) -> dict[str, Any]:
    tags = sorted(counts, key=lambda t: (-counts[t], t))
    obj = {
        "format": FORMAT,
        "photos": sum(s["photos"] for s in shards),
        "shards": shards,
        "tags": tags,
        "counts": [counts[t] for t in tags],
    }
    tmp = out / (VOCAB + ".tmp")
    tmp.write_text(json.dumps(obj), encoding="utf-8")
    tmp.replace(out / VOCAB)
    return obj


def _samples(path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) per sample, members grouped by consecutive key (WebDataset rule)."""
    with tarfile.open(path, "r|*") as tar:
        cur: str | None = None
        parts: dict[str, bytes] = {}
        for m in tar:
            if not m.isfile():
                continue
            base = m.name.rsplit("/", 1)[-1]
            if "." not in base:
                continue
            key, ext = base.split(".", 1)
            key = m.name[: len(m.name) - len(base)] + key
            if key != cur and cur is not None:
                yield cur, parts
                parts = {}
            cur = key
            f = tar.extractfile(m)
            parts[ext.lower()] = f.read() if f is not None else b""
        if cur is not None:
            yield cur, parts


def _tags_of(parts: dict[str, bytes]) -> list[str]:
    if "json" in parts:
        obj = json.loads(parts["json"])
        raw = obj.get("tags", []) if isinstance(obj, dict) else []
    elif "txt" in parts:  # a plain caption/tag list, one tag per line or comma-separated
        raw = parts["txt"].decode("utf-8", "replace").replace(",", "\n").splitlines()
    else:
        raw = []
    out: list[str] = []
    for t in raw:
        n = normalize_tag(t) if isinstance(t, str) else ""
        if n and n not in out:
            out.append(n)
    return out


IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif")


def _image_of(parts: dict[str, bytes]) -> bytes | None:
    return next((parts[e] for e in IMAGE_EXTS if e in parts), None)


def count_shards(shard_dir: str | Path) -> dict[str, Any]:
    """The one-pass count over existing shards (reads only the tags); writes ``vocab.json``."""
    root = Path(shard_dir)
    files = sorted(p for p in root.glob("*.tar"))
    if not files:
        raise TrainError(f"no .tar shards in {root}")
    counts: Counter[str] = Counter()
    shards = []
    for f in files:
        n = 0
        for _, parts in _samples(f):
            tags = _tags_of(parts)
            if tags and _image_of(parts) is not None:
                counts.update(tags)
                n += 1
        shards.append({"file": f.name, "photos": n})
    return _write_vocab(root, counts, shards)


@dataclass
class ShardSource:
    """A shard folder as the trainer sees it: the count, and which shards each process reads."""

    root: Path
    tags: list[str]
    counts: np.ndarray
    shards: list[dict[str, Any]]

    @classmethod
    def open(cls, root: str | Path) -> "ShardSource":
        root = Path(root)
        try:
            obj = json.loads((root / VOCAB).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise TrainError(f"cannot read {root / VOCAB}: {exc}") from exc
        if obj.get("format") != FORMAT:
            raise TrainError(f"{root / VOCAB} is not a shard count of this trainer (format {obj.get('format')!r})")
        for s in obj["shards"]:
            if not (root / s["file"]).is_file():
                raise TrainError(f"shard {s['file']} listed in {VOCAB} is missing from {root}")
        return cls(
            root=root,
            tags=list(obj["tags"]),
            counts=np.asarray(obj["counts"], dtype=np.int64),
            shards=list(obj["shards"]),
        )

    @property
    def photos(self) -> int:
        return sum(int(s["photos"]) for s in self.shards)

    def vocabulary(self, min_count: int) -> Vocabulary:
        keep = self.counts >= min_count
        if not keep.any():
            raise TrainError(
                f"empty vocabulary: no tag occurs at least {min_count} times in the "
                f"{self.photos} photos of {self.root} (lower --min-count)"
            )
        dropped = {t: int(c) for t, c, k in zip(self.tags, self.counts, keep) if not k}
        return Vocabulary(
            tags=[t for t, k in zip(self.tags, keep) if k], freq=self.counts[keep].copy(), dropped=dropped
        )

    def assignment(self, rank: int, world: int) -> list[int]:
        """Shard indices process ``rank`` reads (round robin over the sorted shards)."""
        if len(self.shards) < world:
            raise TrainError(
                f"{len(self.shards)} shards cannot feed {world} processes: write at least one "
                f"shard per process (a smaller --shard-size)"
            )
        return list(range(rank, len(self.shards), world))

    def steps_per_epoch(self, world: int, local_batch: int) -> int:
        """Steps every process can fill from its own shards (the smallest share decides)."""
        least = min(sum(int(self.shards[i]["photos"]) for i in self.assignment(r, world)) for r in range(world))
        return max(1, least // local_batch)


class ShardStream(IterableDataset):
    """An endless stream of (id, image tensor or None, tag ids) from one process's shards.

    Iterable dataset for torch's DataLoader: decoding worker w of W reads shards w, w+W, ... of the
    process's share, in an order reshuffled every pass (keyed by seed, epoch, pass), through a small
    shuffle buffer. ``skip`` batches' worth of samples are passed over undecoded (resuming mid-epoch).
    The id is (shard, sample in shard, pass): it keys the photo's augmentation.
    """

    def __init__(
        self,
        source: ShardSource,
        shard_ids: Sequence[int],
        vocab: Vocabulary,
        pre: Preprocessing,
        *,
        seed: int,
        augment: str,
        local_batch: int,
        shuffle: int = 256,
    ) -> None:
        super().__init__()
        self.source = source
        self.shard_ids = list(shard_ids)
        self.vocab = vocab
        self.pre = pre
        self.seed = seed
        self.augment = augment
        self.local_batch = local_batch
        self.shuffle = shuffle
        self.epoch = 0
        self.skip_batches = 0

    def _worker_share(self) -> tuple[list[int], int, int]:
        import torch.utils.data as tud

        info = tud.get_worker_info()
        w, n = (info.id, info.num_workers) if info is not None else (0, 1)
        mine = self.shard_ids[w::n]
        if not mine:
            raise TrainError(f"decoding worker {w} has no shard: use at most {len(self.shard_ids)} --workers")
        return mine, w, n

    def _raw(self, mine: list[int]) -> Iterator[tuple[tuple[int, int, int], bytes, np.ndarray]]:
        cycle = 0
        while True:
            order = np.random.default_rng([self.seed, self.epoch, 4, cycle]).permutation(len(mine))
            buf: list[tuple[tuple[int, int, int], bytes, np.ndarray]] = []
            rng = np.random.default_rng([self.seed, self.epoch, 5, cycle])
            for j in order:
                sid = mine[j]
                for n, (_, parts) in enumerate(_samples(self.source.root / self.source.shards[sid]["file"])):
                    img = _image_of(parts)
                    ids = np.array(
                        [self.vocab.index[t] for t in _tags_of(parts) if t in self.vocab.index], dtype=np.int64
                    )
                    if img is None or not len(ids):
                        continue
                    buf.append(((sid, n, cycle), img, ids))
                    if len(buf) >= self.shuffle:
                        yield buf.pop(int(rng.integers(len(buf))))
            while buf:
                yield buf.pop(int(rng.integers(len(buf))))
            cycle += 1

    def __iter__(self) -> Iterator[tuple[tuple[int, int, int], np.ndarray | None, np.ndarray]]:
        mine, w, n = self._worker_share()
        # Batches go round robin over the workers: batch b comes from worker b % n.
        skip = sum(1 for b in range(self.skip_batches) if b % n == w) * self.local_batch
        for k, (ident, data, ids) in enumerate(self._raw(mine)):
            if k < skip:
                continue
            rng = np.random.default_rng([self.seed, self.epoch, *ident])
            try:
                im = load_rgb(io.BytesIO(data), self.pre)  # type: ignore[arg-type]
                yield ident, crop_tensor(im, self.pre, rng, self.augment), ids
            except Exception:  # noqa: BLE001 - an unreadable photo is skipped and counted, never fatal
                yield ident, None, ids


def collate_shards(batch: Sequence[tuple[Any, Any, np.ndarray]]) -> dict[str, Any]:
    """Like ``data.collate``, with the photos' tag ids carried along (no index to look them up)."""
    import torch

    good = [(i, x, t) for i, x, t in batch if x is not None]
    images = torch.from_numpy(np.stack([x for _, x, _ in good])) if good else torch.empty(0)
    return {
        "index": [i for i, _, _ in good],
        "images": images,
        "tags": [t for _, _, t in good],
        "bad": [i for i, x, _ in batch if x is None],
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m trainer.shards", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", metavar="DIR", help="a dataset folder with labels.jsonl (its train split is sharded)")
    p.add_argument("--out", metavar="SHARDS_DIR", help="where to write the shards and vocab.json")
    p.add_argument("--shard-size", type=int, default=10000, help="photos per shard")
    p.add_argument("--count", metavar="SHARDS_DIR", help="only count the tags of existing shards into vocab.json")
    args = p.parse_args(argv)
    try:
        if args.count:
            obj = count_shards(args.count)
        elif args.data and args.out:
            obj = write_shards(args.data, args.out, args.shard_size, log=lambda s: print(s, file=sys.stderr))
        else:
            p.error("give --data DIR --out SHARDS_DIR, or --count SHARDS_DIR")
    except TrainError as exc:
        print(f"trainer.shards: error: {exc}", file=sys.stderr)
        return 2
    print(f"{obj['photos']} photos in {len(obj['shards'])} shards, {len(obj['tags'])} tags")
    return 0


if __name__ == "__main__":
    sys.exit(main())
