"""Word-vector readers (GloVe, word2vec binary, fastText .vec, WordLlama) and the OOV text data."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from attalos_desktop.core.subwords import ngram_buckets  # noqa: E402
from trainer.errors import TrainError  # noqa: E402
from trainer.textspace import base_map, compose, fit_ngram_vectors, fit_text_map  # noqa: E402
from trainer.wordvectors import (
    load_word_vectors,
    load_wordllama,
    read_text_vectors,  # noqa: E402
    read_word2vec_binary,
)

WORDS = ["red", "green", "circle"]
VECS = np.array([[1.0, 2.0, 2.0], [0.0, 3.0, 4.0], [-1.0, 0.0, 0.0]], dtype=np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_glove_text(tmp_path: Path) -> None:
    p = tmp_path / "g.txt"
    p.write_text("".join(f"{w} {' '.join(str(x) for x in v)}\n" for w, v in zip(WORDS, VECS)))
    wv = read_text_vectors(p)
    assert wv.words == WORDS and wv.dim == 3
    assert np.allclose(wv.vectors, _unit(VECS))
    assert np.allclose(wv.vector("red green"), _unit(_unit(VECS[0]) + _unit(VECS[1])))  # phrase = mean
    assert wv.vector("blue") is None and wv.vector("red blue") is None


def test_fasttext_vec_has_a_header(tmp_path: Path) -> None:
    p = tmp_path / "f.vec"
    p.write_text("3 3\n" + "".join(f"{w} {' '.join(str(x) for x in v)} \n" for w, v in zip(WORDS, VECS)))
    wv = load_word_vectors(str(p))
    assert wv.words == WORDS and wv.source.startswith("fasttext")
    assert np.allclose(wv.vector("circle"), [-1, 0, 0])


def test_word2vec_binary(tmp_path: Path) -> None:
    p = tmp_path / "w.bin"
    with open(p, "wb") as fh:
        fh.write(b"3 3\n")
        for w, v in zip(WORDS, VECS):
            fh.write(w.encode() + b" " + struct.pack("<3f", *v) + b"\n")
    wv = load_word_vectors(str(p))
    assert wv.words == WORDS and wv.source.startswith("word2vec")
    assert np.allclose(wv.vectors, _unit(VECS))
    truncated = tmp_path / "t.bin"
    truncated.write_bytes(p.read_bytes()[:-9])
    with pytest.raises(TrainError, match="ends early"):
        read_word2vec_binary(truncated)


def test_bad_vector_files(tmp_path: Path) -> None:
    p = tmp_path / "bad.txt"
    p.write_text("red 1 2 3\ngreen 1 2\n")
    with pytest.raises(TrainError, match="bad.txt:2"):
        read_text_vectors(p)
    with pytest.raises(TrainError, match="does not exist"):
        load_word_vectors(str(tmp_path / "missing.txt"))


def test_wordllama_vectors_are_mean_token_embeddings() -> None:
    from safetensors.numpy import load_file

    wv = load_wordllama()
    assert wv.dim == 256
    import importlib.util

    base = Path(list(importlib.util.find_spec("wordllama").submodule_search_locations)[0])
    table = load_file(str(base / "weights/l2_supercat_256.safetensors"))["embedding.weight"].astype(np.float32)
    ids = wv._tokenizer.encode("purple", add_special_tokens=False).ids  # type: ignore[union-attr]
    assert len(ids) >= 1
    assert np.allclose(wv.vector("purple"), _unit(table[ids].mean(axis=0)), atol=1e-6)
    # Geometry that matters here: related words are closer than unrelated ones.
    assert wv.vector("grass") @ wv.vector("lawn") > wv.vector("grass") @ wv.vector("triangle")
    every = wv.everyday_words(500)
    assert len(every) == 500 and all(w.isalpha() and w.islower() and len(w) >= 3 for w in every)
    assert "the" in every[:20]


def test_subword_buckets_compose_known_words() -> None:
    rng = np.random.default_rng(0)
    words = [f"{a}{b}{c}" for a in "bcdfg" for b in "aeiou" for c in "lmnrst"]
    vecs = _unit(rng.normal(size=(len(words), 16))).astype(np.float32)
    n = fit_ngram_vectors(words, vecs, n_min=3, n_max=5, buckets=2048, ridge=1e-3)
    cos = [float(compose(n, w, 3, 5) @ v / np.linalg.norm(compose(n, w, 3, 5))) for w, v in zip(words, vecs)]
    assert np.mean(cos) > 0.9
    assert compose(n, "xyzzy", 3, 5).shape == (16,)
    assert len(ngram_buckets("xyzzy", 3, 5, 2048)) > 0


def test_text_map_fits_and_shrinks_to_the_prior() -> None:
    rng = np.random.default_rng(1)
    p, d = 8, 8
    true = rng.normal(size=(p, d))
    x = rng.normal(size=(200, p))
    m = fit_text_map(x, x @ true + 0.5, np.eye(p), ridge=1e-3)
    assert np.allclose(m[:-1], true, atol=1e-2) and np.allclose(m[-1], 0.5, atol=1e-2)
    few = fit_text_map(x[:2], x[:2] @ true, np.eye(p), ridge=100.0)
    assert np.abs(few[:-1] - np.eye(p)).max() < 0.5  # two words cannot pull the map far from the prior
    proj = base_map(16, 8)
    assert proj.shape == (16, 8)
