"""The trainer really learns: LEAR F1 on held-out synthetic photos, far above the frequency prior;
a held-out word ranks its photos above chance (zero-shot); the bundle behaves like the model."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from attalos_desktop.core.bundle import load_bundle
from attalos_desktop.core.text_encoder import TextEncoder
from attalos_desktop.synthetic import render_photo

from trainer_testutil import ZERO_SHOT


def test_lear_f1_is_high_and_far_above_the_frequency_prior(trained: dict[str, Any]) -> None:
    m = trained["metrics"]
    assert m["lear_f1"] >= 0.6, m  # the bar, on held-out synthetic photos
    assert m["prior_lear_f1"] < 0.2
    assert m["lear_f1"] >= 4 * m["prior_lear_f1"]
    assert m["lear_n_plus"] >= 16  # nearly every one of the 20 trained tags is found sometimes
    assert m["map_tags"] > 0.6


def test_held_out_words_rank_above_chance(trained: dict[str, Any]) -> None:
    """Words never trained on (only test photos carry them) find their photos through word vectors."""
    m = trained["metrics"]
    bundle = load_bundle(trained["bundle"])
    assert m["zero_shot_words"] == len(ZERO_SHOT)
    for word in ZERO_SHOT:
        detail = m["zero_shot_detail"][word]
        assert bundle.tag_index(word) is None  # truly never trained as a tag
        assert detail["source"] == "word"  # placed through its pretrained vector and the text map
        assert detail["auc"] > 0.65, (word, detail)
        assert detail["ap"] > 1.5 * detail["chance_ap"], (word, detail)


def test_onnx_matches_torch_within_1e4(trained: dict[str, Any]) -> None:
    import onnxruntime as ort
    import torch
    from safetensors.torch import load_file

    from trainer.model import build_tower

    bundle = load_bundle(trained["bundle"])
    assert trained["manifest"]["metrics"]["onnx_parity_max_abs"] <= 1e-4
    tower = build_tower("mobilenet_v3_small", bundle.dim)
    tower.load_state_dict(load_file(str(Path(trained["bundle"]) / "tower.safetensors")))
    tower.eval()
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(5, 3, 80, 80)).astype(np.float32))
    with torch.no_grad():
        ref = tower(x).numpy()
    sess = ort.InferenceSession(str(bundle.encoder_path), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["images"]
    assert [o.name for o in sess.get_outputs()] == ["embeddings"]
    out = sess.run(["embeddings"], {"images": x.numpy()})[0]
    assert out.shape == (5, bundle.dim)
    assert float(np.abs(out - ref).max()) <= 1e-4
    one = sess.run(["embeddings"], {"images": x.numpy()[:1]})[0]  # dynamic batch
    assert float(np.abs(one - ref[:1]).max()) <= 1e-4


def test_search_ranks_matching_photos_first(trained: dict[str, Any]) -> None:
    """Text query -> TextEncoder -> nearest photo embeddings, as the app searches."""
    import onnxruntime as ort

    from trainer.augment import crop_tensor

    bundle = load_bundle(trained["bundle"])
    sess = ort.InferenceSession(str(bundle.encoder_path), providers=["CPUExecutionProvider"])
    rng = random.Random(5)
    specs = [("grass", "white"), ("grass", "yellow"), ("water", "white"), ("water", "yellow")]
    imgs, labels = [], []
    for bg, colour in specs:
        for _ in range(5):
            img, _ = render_photo(rng, size=(80, 60), spec={"background": bg, "objects": [(colour, "circle")]})
            imgs.append(crop_tensor(img, bundle.preprocessing))
            labels.append((bg, colour))
    emb = sess.run(["embeddings"], {"images": np.stack(imgs)})[0]
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    enc = TextEncoder(bundle)
    for bg in ("grass", "water"):
        q = enc.encode(f"a photo of {bg}")
        top = np.argsort(-(emb @ q))[:10]
        assert sum(labels[i][0] == bg for i in top) >= 9


def test_oov_words_get_a_place_through_the_text_encoder(trained: dict[str, Any]) -> None:
    bundle = load_bundle(trained["bundle"])
    enc = TextEncoder(bundle)
    assert enc.word_vector("grass").source == "tag"
    assert enc.word_vector("lawn").source == "word"
    typo = enc.word_vector("zqxjvbw")  # no vector anywhere: composed from sub-word buckets
    assert typo.source == "subword" and np.isfinite(typo.vector).all() and np.linalg.norm(typo.vector) > 0
    # The mapped pretrained vector of an extra word and the composed one are both in the joint space.
    assert enc.encode("ana+capri zqxjvbw") is not None


def test_evaluate_command_prints_json_metrics(trained: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    from trainer.cli import main

    code = main(["--data", str(trained["data"]), "--evaluate", str(trained["bundle"]), "--json", "--threads", "1"])
    assert code == 0
    m = json.loads(capsys.readouterr().out)
    assert abs(m["lear_f1"] - trained["metrics"]["lear_f1"]) < 1e-9  # same numbers as at export time
    for key in (
        "lear_precision",
        "lear_recall",
        "lear_n_plus",
        "precision_at_5",
        "recall_at_5",
        "map_images",
        "map_tags",
        "zero_shot_auc",
        "prior_lear_f1",
    ):
        assert key in m
