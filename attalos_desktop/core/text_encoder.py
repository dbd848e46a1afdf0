"""Any text to a point in the joint image-word space.

Order of resort for one word, so that no query ever fails with a KeyError:
1. a tag the model was trained on: its learned tag vector;
2. a word with a pretrained vector (the bundle's word list): mapped into the joint space;
3. any other string: composed from character n-gram buckets, then mapped the same way.
Multi-word tags ("ana capri") are matched greedily before single words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bundle import ModelBundle
from .subwords import ngram_buckets
from .tags import STOPWORDS, normalize_tag, query_words

MAX_PHRASE = 3


@dataclass(frozen=True)
class WordVector:
    """One embedded piece of a query and how it was obtained ("tag", "word" or "subword")."""

    text: str
    source: str
    vector: np.ndarray


class TextEncoder:
    """Embeds words and queries with a bundle's tag matrix, word list and sub-word table."""

    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle
        self._word_index = {w: i for i, w in enumerate(bundle.words)}
        self._max_phrase = min(max((t.count(" ") + 1 for t in bundle.tags), default=1), MAX_PHRASE)

    def pretrained_vector(self, word: str) -> tuple[np.ndarray, str]:
        """The word's vector in the pretrained space, and whether it was looked up or composed."""
        idx = self._word_index.get(word)
        if idx is not None:
            return self.bundle.word_vectors[idx].astype(np.float32), "word"
        cfg = self.bundle.text
        ids = ngram_buckets(word, cfg.ngram_min, cfg.ngram_max, cfg.buckets)
        return self.bundle.ngram_vectors[ids].astype(np.float32).mean(axis=0), "subword"

    def word_vector(self, word: str) -> WordVector:
        """Joint-space vector of one normalised word or phrase."""
        word = normalize_tag(word)
        if not word:
            raise ValueError("empty word")
        idx = self.bundle.tag_index(word)
        if idx is not None:
            return WordVector(word, "tag", self.bundle.tag_vectors[idx])
        pre, source = self.pretrained_vector(word)
        m = self.bundle.text_map
        return WordVector(word, source, pre @ m[:-1] + m[-1])

    def pieces(self, text: str) -> list[WordVector]:
        """Split a query into known phrases and words, each embedded; stopwords only if nothing else."""
        words = query_words(text)
        out: list[WordVector] = []
        i = 0
        while i < len(words):
            for n in range(min(self._max_phrase, len(words) - i), 1, -1):
                phrase = " ".join(words[i : i + n])
                if self.bundle.tag_index(phrase) is not None:
                    out.append(self.word_vector(phrase))
                    i += n
                    break
            else:
                out.append(self.word_vector(words[i]))
                i += 1
        content = [p for p in out if p.text not in STOPWORDS]
        return content or out

    def encode(self, text: str) -> np.ndarray | None:
        """Unit-length query vector (the mean of unit word vectors), or None if no usable word."""
        pieces = self.pieces(text)
        if not pieces:
            return None
        vecs = np.stack([p.vector / (np.linalg.norm(p.vector) + 1e-12) for p in pieces])
        q = vecs.mean(axis=0)
        norm = float(np.linalg.norm(q))
        return (q / norm).astype(np.float32) if norm > 0 else None
