"""Character n-gram hashing (fastText style) shared by the trainer and the app.

The trainer fits one vector per hash bucket so that a word's n-grams add up to its pretrained
vector; the app composes a vector for a word nobody has a vector for (typos, names, rare words)
from the same buckets. Both sides must hash identically, hence this one module.
"""

from __future__ import annotations

import numpy as np

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619


def fnv1a_32(data: bytes) -> int:
    """32-bit FNV-1a, the hash fastText uses for its n-gram buckets (stable across runs)."""
    h = FNV_OFFSET
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & 0xFFFFFFFF
    return h


def ngram_buckets(word: str, n_min: int, n_max: int, buckets: int) -> np.ndarray:
    """Bucket ids of the character n-grams of ``<word>`` plus the whole marked word.

    Returns an int64 array, never empty for a non-empty word, so every word composes.
    """
    marked = f"<{word}>"
    grams = {marked}
    for n in range(n_min, n_max + 1):
        for i in range(0, max(len(marked) - n + 1, 0)):
            grams.add(marked[i : i + n])
    ids = sorted(fnv1a_32(g.encode("utf-8")) % buckets for g in grams)
    return np.asarray(ids, dtype=np.int64)
