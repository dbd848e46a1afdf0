"""The synthetic photo generator: exact tags, forced content, reproducible datasets, no torch."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest

from attalos_desktop.synthetic import ALL_TAGS, BACKGROUNDS, COLOURS, SHAPES, make_dataset, render_photo


def test_render_tags_are_background_colours_and_shapes() -> None:
    rng = random.Random(3)
    for _ in range(40):
        img, tags = render_photo(rng, size=(96, 72))
        assert img.size == (96, 72) and img.mode == "RGB"
        assert tags[0] in BACKGROUNDS
        assert all(t in ALL_TAGS for t in tags) and len(set(tags)) == len(tags)
        assert any(t in COLOURS for t in tags) and any(t in SHAPES for t in tags)


def test_spec_forces_content_and_the_object_is_drawn() -> None:
    img, tags = render_photo(
        random.Random(0), size=(80, 80), spec={"background": "grass", "objects": [("red", "circle")]}
    )
    assert tags == ["grass", "red", "circle"]
    arr = np.asarray(img, dtype=np.int32)
    red = (arr[..., 0] > 170) & (arr[..., 1] < 80) & (arr[..., 2] < 80)
    assert red.sum() > 0.05 * 80 * 80  # a red disc, not just noise
    with pytest.raises(ValueError, match="colour"):
        render_photo(random.Random(0), spec={"objects": [("mauve", "circle")]})
    with pytest.raises(ValueError, match="background"):
        render_photo(random.Random(0), spec={"background": "moon"})


def test_make_dataset_layout_seed_and_hold_out(tmp_path) -> None:
    a = make_dataset(tmp_path / "a", 30, seed=5, hold_out=("purple",))
    b = make_dataset(tmp_path / "b", 30, seed=5, hold_out=("purple",))
    rows = [json.loads(x) for x in (a / "labels.jsonl").read_text().splitlines()]
    assert rows == [json.loads(x) for x in (b / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 30 and all((a / r["file"]).is_file() for r in rows)
    assert all(r["split"] == "test" for r in rows if "purple" in r["tags"])
    assert {r["split"] for r in rows} == {"train", "test"}
    with pytest.raises(ValueError):
        make_dataset(tmp_path / "c", 2, hold_out=("unicorn",))


def test_importing_synthetic_does_not_import_torch() -> None:
    code = "import sys, attalos_desktop.synthetic; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_object_count_bounds() -> None:
    rng = random.Random(9)
    for _ in range(30):
        _, tags = render_photo(rng, size=(64, 48), min_objects=2, max_objects=2)
        colours = [t for t in tags if t in COLOURS]
        shapes = [t for t in tags if t in SHAPES]
        assert 1 <= len(colours) <= 2 and 1 <= len(shapes) <= 2 and len(tags) >= 3
        _, tags = render_photo(rng, size=(64, 48), max_objects=1)
        assert len(tags) == 3
    with pytest.raises(ValueError):
        render_photo(rng, min_objects=3, max_objects=2)
