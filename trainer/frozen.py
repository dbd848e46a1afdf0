"""Training on a fixed pretrained trunk (``--trunk-features VIEWS``): the loop's data side.

``attach_features`` puts every corpus's cached trunk features (``features.py``) beside its photos, gives
the teacher's words their soft frequencies, and ``feature_batches`` hands the training loop batches of
features instead of pixels: each photo in one of its views, drawn per (seed, epoch, step, corpus) like the
pixel crops, plus one batch of the same photos for the teacher (``teacher.py``) with their soft labels.
The loop then trains only the tower's projection and the tag layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from .errors import TrainError
from .features import TrunkRunner, corpus_features, default_cache

Log = Callable[[str], None]


def attach_features(setup: Any, trunk: torch.nn.Module, classifier: torch.nn.Module | None, log: Log) -> None:
    """Compute (or read from the cache) each corpus's features; set the teacher words' frequencies."""
    args = setup.args
    if not setup.corpora:
        raise TrainError("--trunk-features trains from corpora in memory: give --data (or a recipe)")
    cache = Path(args.cache) / "features" if args.cache else default_cache()
    runner = TrunkRunner(trunk, classifier if setup.teacher is not None else None, args.image_size, args.threads)
    for c in setup.corpora:
        views = max(1, int(c.spec.views or args.trunk_features))
        c.features = corpus_features(
            c.name, c.spec.path, c.train, runner, setup.pre, views, cache, args.seed, log, quiet=args.quiet
        )
    if setup.teacher is not None:
        from .teacher import soft_counts

        counts = sum(soft_counts(setup.teacher, c.features.logits[0].astype(np.float32)) for c in setup.corpora)
        ids = setup.teacher.word_ids
        freq = setup.vocab.freq
        # Words only the teacher speaks for count their expected photos; corpus words keep their counts.
        only = freq[ids] <= 0
        freq[ids[only]] = np.maximum(1, np.round(counts[only])).astype(freq.dtype)


def feature_batches(setup: Any, epoch: int, first: int, steps: int, rank: int, world: int) -> Iterator[dict[str, Any]]:
    """Batches in the loop's shape: ``parts`` of (corpus or teacher objective, features, tags or soft labels)."""
    args = setup.args
    corpora = setup.corpora
    teacher = setup.teacher
    for step in range(first, steps):
        parts: list[tuple[int, Any, Any]] = []
        t_feats, t_logits = [], []
        for c, corpus in enumerate(corpora):
            n, b = len(corpus.train), corpus.batch
            order = np.random.default_rng([args.seed, epoch, 0, c]).permutation(n)
            idx = np.sort(order[np.arange(step * b, (step + 1) * b) % n])
            lb = b // world
            idx = idx[rank * lb : (rank + 1) * lb]
            fs = corpus.features
            view = np.random.default_rng([args.seed, epoch, step, c, 1]).integers(0, len(fs.feats), size=len(idx))
            x = torch.from_numpy(fs.feats[view, idx].astype(np.float32))
            parts.append((c, x, [corpus.ids[i] for i in idx]))
            if teacher is not None:
                t_feats.append(x)
                t_logits.append(fs.logits[view, idx])
        if teacher is not None:
            soft = torch.from_numpy(teacher.targets(np.concatenate(t_logits)))
            parts.append((len(corpora), torch.cat(t_feats), soft))
        yield {"parts": parts, "index": list(range(sum(len(x) for _, x, _ in parts[: len(corpora)]))), "bad": []}
