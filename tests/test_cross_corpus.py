"""Cross-corpus evaluation: ``attalos-desktop-train --evaluate BUNDLE --data OTHER`` on a corpus the bundle
was not trained on. The bundle is the committed stand-in (trained on generated shape photos, corpus A);
corpus B is freshly generated photos whose tags partly differ: some are renamed to words the bundle ships
vectors for, one to a made-up word only sub-words can place. Nothing is trained here: a few seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from attalos_desktop.core.bundle import load_bundle, resources_models_dir
from attalos_desktop.core.text_encoder import TextEncoder
from attalos_desktop.synthetic import make_dataset
from trainer.cli import main
from trainer.data import read_labels
from trainer.errors import TrainError
from trainer.evaluate import embed_photos, evaluate_bundle, word_scores

BUNDLE = resources_models_dir() / "synthetic-shapes-v1"
# Corpus B's own words for some of corpus A's concepts: three the bundle has word vectors for, one it has
# nothing for but sub-words.
RENAME = {"water": "sea", "circle": "ball", "brick": "wall", "star": "zqxvorb"}
WORD_SOURCE = {"sea": "word", "ball": "word", "wall": "word", "zqxvorb": "subword"}
EXTRA_KEYS = (
    "words_total",
    "words_known",
    "words_zero_shot",
    "words_lear_precision",
    "words_lear_recall",
    "words_lear_f1",
    "words_lear_n_plus",
    "words_lear_tags_evaluated",
    "words_map_words",
    "words_map_images",
    "words_known_map_words",
    "words_known_map_count",
    "words_zero_shot_map_words",
    "words_zero_shot_map_count",
    "words_zero_shot_sources",
    "words_summary",
)

pytestmark = pytest.mark.skipif(not (BUNDLE / "manifest.json").is_file(), reason="stand-in bundle not present")


def _corpus(root: Path, seed: int, rename: dict[str, str]) -> Path:
    make_dataset(root, 60, seed=seed, size=(80, 60), test_fraction=0.7)
    rows = [json.loads(x) for x in (root / "labels.jsonl").read_text().splitlines()]
    for r in rows:
        r["tags"] = [rename.get(t, t) for t in r["tags"]]
    (root / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


@pytest.fixture(scope="module")
def corpus_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _corpus(tmp_path_factory.mktemp("corpus-b") / "data", 21, RENAME)


@pytest.fixture(scope="module")
def corpus_same(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Fresh photos in the bundle's own vocabulary (the in-corpus case)."""
    return _corpus(tmp_path_factory.mktemp("corpus-a") / "data", 22, {})


@pytest.fixture(scope="module")
def cross(corpus_b: Path) -> dict:
    return evaluate_bundle(BUNDLE, corpus_b, threads=1)


def _test_words(root: Path) -> set[str]:
    return {t for r in read_labels(root) if r.split == "test" for t in r.tags}


def test_counts_of_known_and_zero_shot_words(cross: dict, corpus_b: Path) -> None:
    bundle = load_bundle(BUNDLE)
    words = _test_words(corpus_b)
    known = {w for w in words if bundle.tag_index(w) is not None}
    unknown = words - known
    assert unknown == set(RENAME.values())  # the data really exercise every renamed word
    assert cross["words_total"] == len(words)
    assert cross["words_known"] == len(known) and cross["words_zero_shot"] == len(unknown)
    assert cross["words_known"] + cross["words_zero_shot"] == cross["words_total"]
    assert cross["words_known_map_count"] == len(known) and cross["words_zero_shot_map_count"] == len(unknown)
    sources: dict[str, int] = {}
    for w in unknown:
        sources[WORD_SOURCE[w]] = sources.get(WORD_SOURCE[w], 0) + 1
    assert cross["words_zero_shot_sources"] == sources
    assert cross["words_summary"].startswith(
        f"the bundle knew {len(known)} of {len(words)} test words; {len(unknown)} scored zero-shot through the text encoder"
    )
    # The older keys are still there (annotation over the bundle's own tags).
    assert cross["test_tags_outside_vocabulary"] == len(unknown)
    assert {"lear_f1", "map_tags", "prior_lear_f1", "zero_shot_words"} <= set(cross)


def test_metrics_are_in_range(cross: dict) -> None:
    for key in (
        "words_lear_precision",
        "words_lear_recall",
        "words_lear_f1",
        "words_map_words",
        "words_map_images",
        "words_known_map_words",
        "words_zero_shot_map_words",
    ):
        assert 0.0 <= cross[key] <= 1.0, key
    assert 0 <= cross["words_lear_n_plus"] <= cross["words_lear_tags_evaluated"] == cross["words_total"]
    # The bundle sees colours, shapes and backgrounds: its known words rank their photos well above chance.
    assert cross["words_known_map_words"] > 0.5
    json.dumps(cross)  # serialisable as it stands (the CLI prints it, the manifest stores it)


def test_in_corpus_is_the_case_where_every_word_is_known(corpus_same: Path) -> None:
    m = evaluate_bundle(BUNDLE, corpus_same, threads=1)
    bundle = load_bundle(BUNDLE)
    assert m["words_zero_shot"] == 0 and m["words_known"] == m["words_total"]
    assert m["words_zero_shot_map_words"] is None and m["words_zero_shot_sources"] == {}
    assert m["words_summary"].startswith(f"the bundle knew {m['words_total']} of {m['words_total']} test words; 0 ")
    if _test_words(corpus_same) == set(bundle.tags):  # same candidate tags: the same annotation
        assert m["words_lear_f1"] == pytest.approx(m["lear_f1"])
        assert m["words_map_words"] == pytest.approx(m["map_tags"])
        assert m["words_map_images"] == pytest.approx(m["map_images"])


def test_words_score_as_the_app_scores_them(corpus_b: Path) -> None:
    """Known: the tag suggestion's sigmoid(tag . photo); zero-shot: search's relevance for the word as a query."""
    bundle = load_bundle(BUNDLE)
    records = [r for r in read_labels(corpus_b) if r.split == "test"][:12]
    emb, used, _ = embed_photos(bundle, corpus_b, records, threads=1)
    scores, sources = word_scores(emb, ["red", "sea", "zqxvorb"], bundle)
    assert sources == ["tag", "word", "subword"]
    t = bundle.tag_vectors[bundle.tag_index("red")]
    np.testing.assert_allclose(scores[:, 0], 1 / (1 + np.exp(-(emb @ t))), rtol=1e-5)
    enc = TextEncoder(bundle)
    norms = np.linalg.norm(emb, axis=1)
    for j, word in ((1, "sea"), (2, "zqxvorb")):
        q = enc.encode(word)
        cos = (emb / norms[:, None]) @ q
        scale = np.linalg.norm(enc.word_vector(word).vector) * np.median(norms)
        np.testing.assert_allclose(scores[:, j], 1 / (1 + np.exp(-cos * scale)), rtol=1e-5)


def test_cli_prints_the_summary_and_the_json_keys(
    corpus_b: Path, cross: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--evaluate", str(BUNDLE), "--data", str(corpus_b), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert cross["words_summary"] in out.splitlines()
    assert "test words: LEAR P" in out
    assert main(["--evaluate", str(BUNDLE), "--data", str(corpus_b), "--threads", "1", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    for key in EXTRA_KEYS:
        assert key in m, key
    assert m["words_known"] == cross["words_known"] and m["words_zero_shot"] == cross["words_zero_shot"]
    assert m["words_lear_f1"] == pytest.approx(cross["words_lear_f1"])


def _one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("attalos-desktop-train: error: "), cap.err
    assert "Traceback" not in cap.err
    return lines[0]


def test_corpus_without_labels_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "images").mkdir()
    line = _one_line_exit_2(["--evaluate", str(BUNDLE), "--data", str(tmp_path)], capsys)
    assert "labels.jsonl" in line


def test_corpus_with_empty_test_split_is_exit_2(
    corpus_b: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [json.loads(x) for x in (corpus_b / "labels.jsonl").read_text().splitlines()]
    train_only = tmp_path / "train-only"
    train_only.mkdir()
    (train_only / "labels.jsonl").write_text("".join(json.dumps({**r, "split": "train"}) + "\n" for r in rows))
    line = _one_line_exit_2(["--evaluate", str(BUNDLE), "--data", str(train_only), "--json"], capsys)
    assert "no test photos" in line
    with pytest.raises(TrainError):
        evaluate_bundle(BUNDLE, train_only)
