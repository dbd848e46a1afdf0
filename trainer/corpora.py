"""Several corpora in one run: one vocabulary, photos decoded once into memory, a share of every step.

``--data DIR[:WEIGHT]`` may be given more than once (the recipe's ``[[data]]`` tables say the same with
more settings). Every corpus contributes ``round(WEIGHT x --batch-size)`` photos to each step and its
mean loss counts WEIGHT times; the first corpus defines the epoch. All corpora's tags form one
vocabulary in one word space. A corpus also says which tags its labels speak for (``scope``): a
Corel photo's missing words are negatives, but a Tiny ImageNet photo of a dog says nothing about the
sky, so a single-label corpus sets ``scope = "own"`` and only its own names (and their general words)
are negatives for its photos. Photos are decoded once (cached under ``--cache``) at most ``canvas``
pixels, and cropped in batches by ``augment.augment_batch``.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from PIL import Image

from .data import Record, Vocabulary, read_labels
from .errors import TrainError

Log = Callable[[str], None]
SCOPES = ("all", "labels", "own")


@dataclass
class CorpusSpec:
    """How one corpus takes part (a ``[[data]]`` table of a recipe, or ``--data DIR[:WEIGHT]``)."""

    path: Path
    weight: float = 1.0
    scope: str = "all"  # all: every tag; labels: tags some corpus labels directly; own: this corpus's
    held_out: int = 0  # train photos kept out of training for the export's choices
    held_out_per_class: bool = False  # held_out counts per (first) tag: single-label corpora
    smoothing: float = 0.0  # softmax label smoothing
    crop: int = 0  # crop side at the full image size (0: the image size); follows progressive resizing
    canvas: int = 192  # decoded photos are kept at most this many pixels on their longer side
    hypernyms: dict[str, Any] = field(default_factory=dict)  # {"senses", "up", "min_root_depth"}; {} for none
    views: int = 0  # --trunk-features: views of each photo cached (0: the flag's number)

    @property
    def name(self) -> str:
        return self.path.name


def parse_data_arg(text: str, root: Path | None = None) -> CorpusSpec:
    """``DIR`` or ``DIR:WEIGHT`` (a weight is a number after the last colon)."""
    path, weight = text, 1.0
    head, sep, tail = text.rpartition(":")
    if sep and head:
        try:
            weight = float(tail)
            path = head
        except ValueError:
            pass
    if weight <= 0:
        raise TrainError(f"--data {text}: the weight must be positive")
    p = Path(path)
    return CorpusSpec(path=root / p if root is not None and not p.is_absolute() else p, weight=weight)


@dataclass
class Corpus:
    """One corpus, ready to train: its train photos (tag ids, decoded pixels) and what was held out."""

    spec: CorpusSpec
    train: list[Record]
    ids: list[np.ndarray]
    held_out: list[Record]
    test: list[Record]
    scope: np.ndarray | None = None  # tag ids that may be negatives for its photos (None: all)
    batch: int = 0
    pixels: np.ndarray | None = None  # uint8 [N, canvas, canvas, 3] of ``train``
    hw: np.ndarray | None = None  # [N, 2] real sizes on the canvas
    added_words: dict[str, list[str]] = field(default_factory=dict)  # hypernyms: leaf tag -> general words
    features: Any = None  # --trunk-features: features.FeatureSet of ``train``

    @property
    def name(self) -> str:
        return self.spec.name


def held_out_indices(records: Sequence[Record], spec: CorpusSpec, seed: int) -> np.ndarray:
    """The train photos kept out of training: ``held_out`` at random, or that many of every class."""
    if spec.held_out <= 0:
        return np.zeros(0, dtype=np.int64)
    if not spec.held_out_per_class:
        perm = np.random.default_rng([seed, 77]).permutation(len(records))
        return np.sort(perm[: spec.held_out])
    rng = np.random.default_rng([seed, 78])
    by: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by.setdefault(r.tags[0], []).append(i)
    out: list[int] = []
    for t in sorted(by):
        out.extend(rng.choice(by[t], size=min(spec.held_out, len(by[t]) - 1), replace=False).tolist())
    return np.array(sorted(out), dtype=np.int64)


def _expand(
    splits: list[list[Record]], spec: CorpusSpec, keep: Callable[[str], bool], log: Log
) -> tuple[list[list[Record]], dict[str, list[str]]]:
    """Add general words from WordNet (``hypernyms.py``) to every split of a corpus that asks for them;
    WordNet is read once. Returns the splits and what the first (train) split gained."""
    h = spec.hypernyms
    if not h or int(h.get("up", 0)) <= 0:
        return splits, {}
    from .hypernyms import WordNet, expand_records

    wn = WordNet.load(h.get("wordnet"))
    done = [
        expand_records(
            records,
            wn,
            up=int(h["up"]),
            min_root_depth=int(h.get("min_root_depth", 5)),
            keep=keep,
            senses=str(h.get("senses", "wnid")),
        )
        for records in splits
    ]
    exp = done[0][1]
    n_words = len({w for ws in exp.added.values() for w in ws})
    log(
        f"{spec.name}: WordNet added {n_words} general words to {exp.photos} photos "
        f"(up to {h['up']} levels; e.g. "
        + "; ".join(f"{k} -> {', '.join(v)}" for k, v in list(exp.added.items())[:3])
        + ")"
    )
    return [out for out, _ in done], exp.added


def load_corpora(
    specs: Sequence[CorpusSpec], *, seed: int, min_count: int, keep_word: Callable[[str], bool], log: Log
) -> tuple[list[Corpus], Vocabulary, set[str]]:
    """Read every corpus, hold out, add general words, and build the shared vocabulary.

    Returns the corpora (tag ids and scopes set), the vocabulary, and the words some corpus labels
    directly (the ``labels`` scope; general words added from WordNet are not among them).
    """
    raw: list[tuple[CorpusSpec, list[Record], list[Record], list[Record]]] = []
    for spec in specs:
        if spec.scope not in SCOPES:
            raise TrainError(f"{spec.name}: unknown scope {spec.scope!r}; choose one of {', '.join(SCOPES)}")
        records = read_labels(spec.path)
        train = [r for r in records if r.split == "train" and r.tags]
        if not train:
            raise TrainError(f"{spec.path}: no train photo with tags")
        va = set(held_out_indices(train, spec, seed).tolist())
        held = [r for i, r in enumerate(train) if i in va]
        train = [r for i, r in enumerate(train) if i not in va]
        raw.append((spec, train, held, [r for r in records if r.split == "test"]))
    labels = {t for _, tr, _, _ in raw for r in tr for t in r.tags}
    expanded = []
    for spec, tr, held, test in raw:
        (tr2, held2, test2), added = _expand([tr, held, test], spec, keep_word, log)
        expanded.append((spec, tr2, held2, test2, added))
    counts = Counter(t for _, tr, _, _, _ in expanded for r in tr for t in r.tags)
    kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    if not kept:
        raise TrainError(f"empty vocabulary: no tag occurs at least {min_count} times in the train photos")
    vocab = Vocabulary(
        tags=kept,
        freq=np.array([counts[t] for t in kept], dtype=np.int64),
        dropped={t: c for t, c in counts.items() if c < min_count},
    )
    corpora = []
    for spec, tr, held, test, added in expanded:
        keep_rows = [(r, np.array([vocab.index[t] for t in r.tags if t in vocab.index], dtype=np.int64)) for r in tr]
        keep_rows = [(r, ids) for r, ids in keep_rows if len(ids)]
        c = Corpus(spec, [r for r, _ in keep_rows], [ids for _, ids in keep_rows], held, test, added_words=added)
        if spec.scope == "own":
            c.scope = np.unique(np.concatenate(c.ids))
        elif spec.scope == "labels":
            c.scope = np.array(sorted(vocab.index[t] for t in labels if t in vocab.index), dtype=np.int64)
        corpora.append(c)
    return corpora, vocab, labels


def decode(
    root: Path, records: Sequence[Record], canvas: int, cache: Path | None, log: Log
) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, canvas, canvas, 3] photos (top-left aligned, shrunk to fit) and their sizes, cached."""
    key = None
    if cache is not None:
        key = cache / f"{root.name}-{canvas}-{len(records)}-{_fingerprint(records)}.npz"
        if key.is_file():
            z = np.load(key)
            return z["pixels"], z["hw"]
    pix = np.zeros((len(records), canvas, canvas, 3), dtype=np.uint8)
    hw = np.zeros((len(records), 2), dtype=np.int64)
    t0 = time.perf_counter()
    for i, r in enumerate(records):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im = Image.open(root / r.file).convert("RGB")
        except Exception as exc:  # noqa: BLE001 - a bad photo is a clear error before hours of training
            raise TrainError(f"{root / r.file}: cannot be decoded ({exc})".splitlines()[0]) from exc
        if max(im.size) > canvas:
            s = canvas / max(im.size)
            im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.Resampling.BILINEAR)
        a = np.asarray(im)
        pix[i, : a.shape[0], : a.shape[1]] = a
        hw[i] = a.shape[:2]
    log(f"decoded {len(records)} photos of {root.name} in {time.perf_counter() - t0:.0f} s")
    if key is not None:
        key.parent.mkdir(parents=True, exist_ok=True)
        tmp = key.with_suffix(".tmp.npz")
        np.savez(tmp, pixels=pix, hw=hw)
        tmp.replace(key)
    return pix, hw


def _fingerprint(records: Sequence[Record]) -> str:
    import hashlib

    return hashlib.sha1("\n".join(r.file for r in records).encode()).hexdigest()[:10]


def crop_size(spec: CorpusSpec, size: int, image_size: int) -> int:
    """A corpus's crop side this epoch: its ``crop`` scaled as the image size is (multiples of 8)."""
    if not spec.crop:
        return size
    return max(32, int(round(spec.crop * size / image_size / 8)) * 8)


def step_batches(
    corpora: Sequence[Corpus],
    epoch: int,
    step: int,
    seed: int,
    size: int,
    image_size: int,
    rank: int,
    world: int,
    min_scale: float,
    jitter: float,
    norm: Any = None,
) -> Iterator[tuple[int, Any, list[np.ndarray]]]:
    """Each corpus's share of global step ``step``: (corpus number, images, tag ids) for this process.

    Photo order is a permutation per (seed, epoch, corpus); the first corpus is seen once per epoch,
    the others cycle through theirs. Crops are keyed by (seed, epoch, step, corpus).
    """
    from .augment import augment_batch

    for c, corpus in enumerate(corpora):
        n, b = len(corpus.train), corpus.batch
        order = np.random.default_rng([seed, epoch, 0, c]).permutation(n)
        idx = np.sort(order[np.arange(step * b, (step + 1) * b) % n])
        lb = b // world
        rows = slice(rank * lb, (rank + 1) * lb)
        rng = np.random.default_rng([seed, epoch, step, c, 1])
        assert corpus.pixels is not None and corpus.hw is not None
        images = augment_batch(
            corpus.pixels[idx],
            corpus.hw[idx],
            crop_size(corpus.spec, size, image_size),
            rng,
            (min_scale, 1.0),
            jitter,
            rows,
            norm,
        )
        yield c, images, [corpus.ids[i] for i in idx[rows]]
