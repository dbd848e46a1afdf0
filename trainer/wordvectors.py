"""Pretrained word vectors: the starting point of the tag layer and the app's OOV words.

Sources: GloVe text, word2vec binary, fastText ``.vec`` (word2vec text with a header), and the
offline default, WordLlama's token embeddings read straight from the installed wheel (its own
loader tries the network). A phrase or word that a file source lacks is the mean of its known
words; WordLlama covers any string through its tokenizer (mean of token embeddings, WordLlama's
own pooling). Vectors are L2-normalised: cosine geometry is what the sources encode, and a common
scale makes tag initialisation and the OOV map behave the same for every source.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import TrainError

WORDLLAMA = "wordllama"
_WORDLLAMA_WEIGHTS = "weights/l2_supercat_256.safetensors"
_WORDLLAMA_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"
_EVERYDAY = re.compile(r"^[a-z]{3,}$")


def _unit(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


@dataclass
class WordVectors:
    """A table of unit word vectors plus, for WordLlama, a tokenizer that covers any string."""

    source: str
    words: list[str]
    vectors: np.ndarray  # float32 [W, p], unit rows
    _index: dict[str, int] = field(default_factory=dict, repr=False)
    _tokenizer: object | None = field(default=None, repr=False)
    _token_table: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self._index:
            self._index = {}
            for i, w in enumerate(self.words):
                self._index.setdefault(w, i)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1]) if self._token_table is None else int(self._token_table.shape[1])

    def vector(self, text: str) -> np.ndarray | None:
        """Unit vector for a word or phrase, or None when this source knows nothing of it."""
        if self._tokenizer is not None and self._token_table is not None:
            ids = self._tokenizer.encode(text, add_special_tokens=False).ids  # type: ignore[attr-defined]
            if not ids:
                return None
            return _unit(self._token_table[ids].astype(np.float32).mean(axis=0))
        i = self._index.get(text)
        if i is not None:
            return self.vectors[i]
        parts = [self._index.get(p) for p in text.split()]
        known = [p for p in parts if p is not None]
        if len(parts) > 1 and len(known) == len(parts):
            return _unit(self.vectors[known].mean(axis=0))
        return None

    def lookup(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors for many texts: ([n, p] float32 with zero rows for unknown, bool mask of known)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        known = np.zeros(len(texts), dtype=bool)
        for i, t in enumerate(texts):
            v = self.vector(t)
            if v is not None:
                out[i] = v
                known[i] = True
        return out, known

    def everyday_words(self, n: int, exclude: Iterable[str] = ()) -> list[str]:
        """Up to ``n`` common lower-case alphabetic words (length >= 3), most frequent first.

        These ship in the bundle so that the app maps ordinary search words through a real vector.
        For WordLlama: whole-word tokens in merge order (earlier merges are more frequent words);
        for files: the file order (GloVe, word2vec and fastText files are sorted by frequency).
        """
        skip = set(exclude)
        out: list[str] = []
        for w in self.words:
            if len(out) >= n:
                break
            if _EVERYDAY.match(w) and w not in skip:
                out.append(w)
                skip.add(w)
        return out


def _wordllama_dir() -> Path:
    spec = importlib.util.find_spec(WORDLLAMA)
    if spec is None or not spec.submodule_search_locations:
        raise TrainError(
            "the default word vectors need the 'wordllama' package (pip install wordllama), or pass --word-vectors PATH"
        )
    return Path(list(spec.submodule_search_locations)[0])


def load_wordllama() -> WordVectors:
    """WordLlama l2_supercat 256-d token embeddings, read from the installed wheel's files."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    base = _wordllama_dir()
    wpath, tpath = base / _WORDLLAMA_WEIGHTS, base / _WORDLLAMA_TOKENIZER
    if not wpath.is_file() or not tpath.is_file():
        raise TrainError(f"wordllama is installed but lacks {wpath.name} or {tpath.name}")
    table = load_file(str(wpath))["embedding.weight"]
    tok = Tokenizer.from_file(str(tpath))
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    words = [t[1:] for t, _ in vocab if t.startswith("\u2581") and len(t) > 1]
    ids = [i for t, i in vocab if t.startswith("\u2581") and len(t) > 1]
    vectors = _unit(table[ids].astype(np.float32))
    return WordVectors(
        source="wordllama:l2_supercat_256", words=words, vectors=vectors, _tokenizer=tok, _token_table=table
    )


def _finish(source: str, words: list[str], rows: list[np.ndarray], path: Path) -> WordVectors:
    if not rows:
        raise TrainError(f"word vector file {path} holds no vectors")
    return WordVectors(source=source, words=words, vectors=_unit(np.stack(rows)))


def read_text_vectors(path: str | os.PathLike[str], *, limit: int | None = None) -> WordVectors:
    """GloVe text (no header) or word2vec/fastText text (``.vec``, first line ``count dim``)."""
    path = Path(path)
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim: int | None = None
    kind = "glove"
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                parts = line.rstrip("\n").rstrip().split(" ")
                if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    dim, kind = int(parts[1]), "fasttext"
                    continue
                if len(parts) < 2:
                    continue
                if dim is None:
                    dim = len(parts) - 1
                if len(parts) - 1 != dim:
                    raise TrainError(f"{path}:{lineno}: expected {dim} numbers after the word, found {len(parts) - 1}")
                try:
                    vec = np.asarray(parts[1:], dtype=np.float32)
                except ValueError as exc:
                    raise TrainError(f"{path}:{lineno}: not a word vector line ({exc})") from exc
                words.append(parts[0])
                rows.append(vec)
                if limit is not None and len(words) >= limit:
                    break
    except OSError as exc:
        raise TrainError(f"cannot read word vectors {path}: {exc.strerror or exc}") from exc
    return _finish(f"{kind}:{path.name}", words, rows, path)


def read_word2vec_binary(path: str | os.PathLike[str], *, limit: int | None = None) -> WordVectors:
    """word2vec's binary format: header ``count dim\\n``, then ``word<space><dim float32>`` records."""
    path = Path(path)
    words: list[str] = []
    rows: list[np.ndarray] = []
    try:
        with open(path, "rb") as fh:
            header = fh.readline().split()
            if len(header) != 2 or not all(h.isdigit() for h in header):
                raise TrainError(f"{path} is not a word2vec binary file (bad header)")
            count, dim = int(header[0]), int(header[1])
            for _ in range(count if limit is None else min(count, limit)):
                raw = bytearray()
                while True:
                    ch = fh.read(1)
                    if not ch:
                        raise TrainError(f"{path} ends early after {len(words)} of {count} vectors")
                    if ch == b" ":
                        break
                    if ch != b"\n":
                        raw += ch
                data = fh.read(4 * dim)
                if len(data) != 4 * dim:
                    raise TrainError(f"{path} ends early after {len(words)} of {count} vectors")
                words.append(raw.decode("utf-8", errors="replace"))
                rows.append(np.frombuffer(data, dtype="<f4").copy())
    except OSError as exc:
        raise TrainError(f"cannot read word vectors {path}: {exc.strerror or exc}") from exc
    return _finish(f"word2vec:{path.name}", words, rows, path)


def load_word_vectors(spec: str) -> WordVectors:
    """``wordllama`` or a file path (``.bin`` = word2vec binary, anything else = text formats)."""
    if spec == WORDLLAMA:
        return load_wordllama()
    path = Path(spec)
    if not path.is_file():
        raise TrainError(f"word vector file {path} does not exist (use 'wordllama' or a GloVe/word2vec/fastText file)")
    if path.suffix == ".bin":
        return read_word2vec_binary(path)
    return read_text_vectors(path)
