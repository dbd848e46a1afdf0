"""The shipped default model (resources/models/DEFAULT): it loads, verifies, and tags a photo."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from attalos_desktop.core.bundle import DEFAULT_MODEL_ENV, default_bundle_path, load_bundle, resources_models_dir
from attalos_desktop.core.encoder import ImageEncoder, top_tags
from attalos_desktop.core.imageio import decode_for_model
from attalos_desktop.core.text_encoder import TextEncoder

DEFAULT = resources_models_dir() / "DEFAULT"


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> Path:
    assert DEFAULT.is_file(), "the app ships a default model: resources/models/DEFAULT names it"
    monkeypatch.delenv(DEFAULT_MODEL_ENV, raising=False)
    return default_bundle_path()


def test_default_model_loads_verifies_and_tags_a_photo(shipped: Path, tmp_path: Path) -> None:
    from attalos_desktop.synthetic import render_photo

    assert shipped.name == DEFAULT.read_text(encoding="utf-8").strip()
    bundle = load_bundle(shipped)  # checksums and shapes verified
    size = sum(f.stat().st_size for f in shipped.iterdir() if f.is_file())
    # 40 MB: the model with its label-transfer bank, plus its tower in float16, which lets every user fine-tune it
    assert size <= 40_000_000, f"the default bundle is {size / 1e6:.1f} MB, over the 40 MB budget"
    photo, _ = render_photo(random.Random(3), size=(320, 240))
    path = tmp_path / "photo.jpg"
    photo.save(path, quality=90)
    enc = ImageEncoder(bundle, providers=["CPUExecutionProvider"], threads=1)
    vec = enc.embed(decode_for_model(path, bundle.preprocessing).tensor[None])[0]
    assert vec.shape == (bundle.dim,) and np.isfinite(vec).all()
    tags = top_tags(bundle, vec, 5)
    assert len(tags) == 5
    assert all(t in bundle.tags and 0.0 <= s <= 1.0 for t, s in tags)
    assert [s for _, s in tags] == sorted((s for _, s in tags), reverse=True)
    # every query embeds, in-vocabulary, everyday and made-up words alike
    text = TextEncoder(bundle)
    for q in ("beach", "dog on a beach", "zxqvbnm"):
        v = text.encode(q)
        assert v is not None and v.shape == (bundle.dim,) and np.isfinite(v).all()


def test_default_model_has_headline_metrics(shipped: Path) -> None:
    metrics = load_bundle(shipped).manifest.get("metrics", {})
    assert 0.0 < metrics["corel5k_lear_f1"] <= 1.0
    assert metrics["corel5k_lear_n_plus"] > 0
