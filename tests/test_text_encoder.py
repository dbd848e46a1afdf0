"""Any text finds a place in the joint space: tags, known words, phrases and never-seen strings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attalos_desktop.core.bundle import Preprocessing, TextConfig, load_bundle, write_bundle
from attalos_desktop.core.subwords import fnv1a_32, ngram_buckets
from attalos_desktop.core.tags import normalize_tag, query_words
from attalos_desktop.core.text_encoder import TextEncoder

D = P = 4


@pytest.fixture()
def encoder(tmp_path: Path) -> TextEncoder:
    enc = tmp_path / "enc.onnx"
    enc.write_bytes(b"x")
    eye = np.eye(D, dtype=np.float32)
    bucket_vecs = np.zeros((32, P), dtype=np.float32)
    bucket_vecs[:, 3] = 1.0  # every composed word points along axis 3
    out = write_bundle(
        tmp_path / "b",
        name="t",
        encoder_onnx=enc,
        preprocessing=Preprocessing(32, 32, (0, 0, 0), (1, 1, 1)),
        text=TextConfig(3, 5, 32, P, "unit"),
        tags=["red", "blue", "ana capri"],
        tag_vectors=eye[:3],
        tag_freq=np.array([1, 1, 1]),
        words=["crimson"],
        word_vectors=np.array([[2.0, 0.0, 0.0, 0.0]]),
        ngram_vectors=bucket_vecs,
        # identity map plus a small bias, so the test can see that the map was applied
        text_map=np.vstack([eye, np.array([[0.0, 0.0, 0.5, 0.0]])]),
    )
    return TextEncoder(load_bundle(out))


def test_known_tag_uses_its_learned_vector(encoder: TextEncoder) -> None:
    w = encoder.word_vector("Blue")
    assert w.source == "tag" and np.allclose(w.vector, [0, 1, 0, 0])


def test_word_with_pretrained_vector_is_mapped(encoder: TextEncoder) -> None:
    w = encoder.word_vector("crimson")
    assert w.source == "word" and np.allclose(w.vector, [2.0, 0.0, 0.5, 0.0])
    q = encoder.encode("crimson")
    assert q is not None and float(q @ np.array([1, 0, 0, 0])) > 0.9  # lands near "red"


def test_unknown_string_is_composed_from_subwords(encoder: TextEncoder) -> None:
    for text in ("zxqvbnm", "Ωmega", "naïve café", "x", "O'Neill-style"):
        q = encoder.encode(text)
        assert q is not None and abs(float(np.linalg.norm(q)) - 1.0) < 1e-5, text
    assert encoder.encode("🙂") is None  # no word characters at all: no vector, and no exception
    w = encoder.word_vector("zxqvbnm")
    assert w.source == "subword" and np.allclose(w.vector, [0, 0, 0.5, 1.0])


def test_multi_word_tag_matches_as_one_phrase(encoder: TextEncoder) -> None:
    pieces = encoder.pieces("Ana+Capri at dusk")
    assert [p.text for p in pieces] == ["ana capri", "dusk"]


def test_stopwords_are_ignored_unless_they_are_all_there_is(encoder: TextEncoder) -> None:
    assert [p.text for p in encoder.pieces("a red in the")] == ["red"]
    assert [p.text for p in encoder.pieces("the")] == ["the"]


def test_query_vector_is_unit_length_and_empty_query_is_none(encoder: TextEncoder) -> None:
    q = encoder.encode("red blue")
    assert q is not None and abs(float(np.linalg.norm(q)) - 1.0) < 1e-5
    assert np.allclose(q, np.array([1, 1, 0, 0]) / np.sqrt(2), atol=1e-5)
    assert encoder.encode("  ,.;  ") is None


def test_tag_normalisation_rules() -> None:
    assert normalize_tag("  New_York ") == "new york"
    assert normalize_tag("ana+capri") == "ana capri"
    assert normalize_tag("ＲＥＤ") == "red"  # NFKC folds full-width letters
    assert normalize_tag("+_+") == ""
    assert query_words("Dog on a beach!") == ["dog", "on", "a", "beach"]


def test_subword_hash_matches_fasttext_fnv1a() -> None:
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968
    ids = ngram_buckets("dog", 3, 5, 1000)
    assert ids.dtype == np.int64 and len(ids) > 0 and ids.max() < 1000
    assert np.array_equal(ids, ngram_buckets("dog", 3, 5, 1000))
