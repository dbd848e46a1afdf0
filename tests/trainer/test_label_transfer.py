"""The default model's label transfer: hand-crafted descriptors and per-word neighbour votes,
checked in numpy and through the exported ONNX graph the app runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from trainer.data import IMAGENET_MEAN, IMAGENET_STD
from trainer.export import export_onnx
from trainer.handcrafted import Handcrafted, rgb_to_hsv, rgb_to_lab01
from trainer.label_transfer import (
    Deployed,
    Neighbourhood,
    choose_neighbourhood,
    combined_distance,
    fit_projection,
    normalise,
    per_word_votes,
)
from trainer import transfer_stage
from trainer.evaluate import lear
from trainer.model import Tower

MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def normalised(rgb: torch.Tensor) -> torch.Tensor:
    return (rgb - MEAN) / STD


def test_colour_spaces_of_known_colours() -> None:
    px = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]).T.reshape(1, 3, 2, 2)
    hsv = rgb_to_hsv(px).reshape(3, 4).T
    assert torch.allclose(hsv[0], torch.tensor([0.0, 1.0, 1.0]), atol=1e-5)  # red
    assert torch.allclose(hsv[1], torch.tensor([1 / 3, 1.0, 1.0]), atol=1e-5)  # green
    assert torch.allclose(hsv[2, 1:], torch.tensor([0.0, 1.0]), atol=1e-5)  # white: no saturation
    lab = rgb_to_lab01(px).reshape(3, 4).T
    assert lab[2, 0] > 0.99 and abs(lab[2, 1] - 0.5) < 0.01 and abs(lab[2, 2] - 0.5) < 0.01  # white
    assert lab[3, 0] < 0.01  # black
    assert lab[0, 1] > 0.75  # red is far along +a


def test_histograms_sum_to_one_and_find_the_colour() -> None:
    img = torch.zeros(2, 3, 48, 48)
    img[0, 0] = 0.9  # a red photo
    img[1, 2, 24:] = 0.9  # black above, blue below
    d = Handcrafted()(normalised(img))
    for name in ("rgb", "hsv", "lab", "rgb3", "hsv3"):
        assert torch.allclose((d[name] ** 2).sum(1), torch.ones(2), atol=1e-4), name  # root-histograms
    red_bin = (7 * 8 + 0) * 8 + 0
    assert d["rgb"][0, red_bin] == pytest.approx(1.0, abs=1e-5)
    # layout: the top strip of photo 2 is all black, the bottom all blue
    top, bottom = d["rgb3"][1, :64], d["rgb3"][1, 128:]
    assert top[0] > 0.5 and bottom[3] > 0.5 and top[3] == 0 and bottom[0] == 0
    assert d["gabor"][0].abs().sum() < 1e-4 < d["gabor"][1].abs().sum()  # only photo 2 has an edge


def test_per_word_votes_let_a_rare_word_win_against_a_frequent_one() -> None:
    # 30 "sky" photos near the query, one "tiger" photo nearer still: a plain 10-NN vote says sky, sky, sky
    rng = np.random.default_rng(0)
    bank = np.concatenate([rng.normal(0.5, 0.05, (30, 4)), [[0.02, 0, 0, 0]], rng.normal(3, 0.1, (10, 4))])
    labels = np.zeros((41, 3), np.uint8)
    labels[:30, 0] = 1  # sky
    labels[30, 1] = 1  # tiger
    labels[31:, 2] = 1  # far away word
    d = np.linalg.norm(np.zeros((1, 4)) - bank, axis=1)[None]
    votes = per_word_votes(d.astype(np.float32), labels, k1=3, tau=0.2)
    assert votes.sum() == pytest.approx(1.0, abs=1e-5)
    assert votes[0, 1] > 0.3 and votes[0, 2] < 1e-3  # the tiger is suggested, the far word is not


def test_neighbourhood_search_trusts_the_informative_descriptor() -> None:
    rng = np.random.default_rng(1)
    n, v = 400, 8
    centres = rng.normal(size=(v, 6)) * 3
    word = rng.integers(0, v, n)
    labels = np.eye(v, dtype=np.uint8)[word]
    good = (centres[word] + rng.normal(size=(n, 6))).astype(np.float32)
    noise = rng.normal(size=(n, 6)).astype(np.float32) * 4
    desc = {"good": good, "noise": noise}
    q, b = {k: x[:100] for k, x in desc.items()}, {k: x[100:] for k, x in desc.items()}

    def score(votes: np.ndarray) -> float:
        return lear(votes, labels[:100].astype(bool), 1)["f1"]

    nb, best, record = choose_neighbourhood(q, b, labels[100:], score, lambda s: None, rounds=1)
    assert best > 0.8
    assert record["good alone"] > record["noise alone"]
    assert nb.weights.get("good", 0) > nb.weights.get("noise", 0)


def tiny_tower() -> Tower:
    trunk = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Tower(trunk, 8, 5)


def test_exported_graph_computes_the_numpy_votes(tmp_path: Path) -> None:
    import onnxruntime as ort

    torch.manual_seed(0)
    tower = tiny_tower().eval()
    gen = torch.Generator().manual_seed(1)
    photos = normalised(torch.rand(40, 3, 32, 32, generator=gen))
    with torch.no_grad():
        f = ((tower(photos) + tower(photos.flip(3))) * 0.5).numpy()
        hand = {k: v.numpy() for k, v in Handcrafted()(photos).items()}
        hand["trunk"] = normalise(((tower.trunk(photos) + tower.trunk(photos.flip(3))) * 0.5).numpy())
    proj = {k: fit_projection(v[:30], 6) for k, v in hand.items()}
    desc = {k: proj[k](v) for k, v in hand.items()}
    desc["cnn"] = normalise(f)
    from trainer.label_transfer import Projection

    proj["cnn"] = Projection(np.zeros(5, np.float32), None)
    labels = (np.random.default_rng(2).random((30, 7)) < 0.3).astype(np.uint8)
    labels[:, 6] = 0
    labels[0, 6] = 1  # a word with one photo: fewer than k1 neighbours
    scale = {k: float(np.mean(np.linalg.norm(d[:30, None] - d[None, :30], axis=2))) for k, d in desc.items()}
    nb = Neighbourhood({"rgb": 1.0, "hsv3": 0.5, "gabor": 1.0, "trunk": 1.0, "cnn": 2.0}, scale, k1=3, tau=0.2)
    bank = {k: d[:30] for k, d in desc.items()}
    labels[:20, 5] = 1  # a common word: with group widths 4 and 8 the words fall into three groups
    want = per_word_votes(combined_distance({k: d[30:] for k, d in desc.items()}, bank, nb), labels, 3, 0.2)
    model = Deployed(tower, nb, proj, bank, labels, group_widths=(4, 8), f_scale=3.0).eval()
    assert model.n_groups == 3
    path = tmp_path / "encoder.onnx"
    export_onnx(model, 32, path, "legacy")  # type: ignore[arg-type]
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        ["embeddings"], {"images": photos[30:].numpy()}
    )[0]
    assert got.shape == (10, 5 + 7 + 2)
    np.testing.assert_allclose(got[:, :5], 3.0 * normalise(f[30:]), atol=1e-4)
    np.testing.assert_allclose(got[:, 5:12], want, atol=2e-3)  # float16 bank
    np.testing.assert_allclose(got[:, 12], 1.0)
    # every embedding has the same length, so the app's cosine search ranks as the tag scores do
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), np.sqrt(9.0 + 2.0), rtol=1e-4)


def test_per_word_sigmoids_lift_a_rare_word_whose_scores_run_low() -> None:
    from trainer.label_transfer import fit_word_sigmoids

    rng = np.random.default_rng(3)
    n = 2000
    y = np.zeros((n, 2), bool)
    y[:600, 0] = True  # common word, raw scores around 1 when right, noisy
    y[1000:1040, 1] = True  # rare word: right when its score is merely 0.3 instead of 0
    s = np.stack([y[:, 0] * 1.0 + rng.normal(0, 0.5, n), y[:, 1] * 0.3 + rng.normal(0, 0.05, n)], 1)
    a, c = fit_word_sigmoids(s, y, a0=4.0, c0=-2.0, rho=1.0)
    shared, fitted = 4.0 * s - 2.0, a * s + c
    rare, common = np.flatnonzero(y[:, 1]), np.flatnonzero(y[:, 0])
    # on the rare word's photos, the shared calibration often puts the common word first; per word, less often
    # (0.725 -> 0.825 of them with this seed)
    assert (fitted[rare, 1] > fitted[rare, 0]).mean() >= (shared[rare, 1] > shared[rare, 0]).mean() + 0.08
    assert (fitted[common, 1] > fitted[common, 0]).mean() < 0.05  # and it does not take the common word's photos
    # a strong ridge keeps both words at the shared calibration
    a2, c2 = fit_word_sigmoids(s, y, a0=4.0, c0=-2.0, rho=1e9)
    np.testing.assert_allclose(a2, 4.0, atol=1e-3)
    np.testing.assert_allclose(c2, -2.0, atol=1e-3)


@pytest.mark.parametrize(
    "curve,want",
    [
        # (offset -> held-out F1, N+); before: F1 0.47, N+ 177
        ({0.0: (0.473, 177)}, 0.0),  # the shared words cost no word: no offset
        ({0.0: (0.473, 172), -0.25: (0.474, 174), -0.5: (0.474, 176), -0.75: (0.473, 178)}, -0.75),
        ({0.0: (0.473, 172), -0.25: (0.466, 174), -0.5: (0.440, 180)}, -0.25),  # F1 would fall past the slack
        ({d: (0.47, 170) for d in (0.0, *transfer_stage.SHARED_OFFSETS)}, transfer_stage.SHARED_OFFSETS[-1]),
    ],
)
def test_shared_words_are_lowered_until_they_cost_no_word(curve: dict, want: float) -> None:
    asked: list[float] = []

    def evaluate(delta: float) -> tuple[float, int]:
        asked.append(delta)
        return curve[delta]

    after, offset = transfer_stage.shared_offset(evaluate, (0.47, 177))
    assert offset == want and after == curve[want]
    assert asked == sorted(asked, reverse=True) and asked[0] == 0.0  # from 0 down, stopping once it is enough
