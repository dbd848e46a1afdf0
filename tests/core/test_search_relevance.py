"""Search scores a person can read: a relevance in 0..1, the ranking unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attalos_desktop.core.encoder import tag_scores, unit
from attalos_desktop.core.library import Library
from core_helpers import make_photos


def test_relevance_is_a_probability_with_the_cosine_ranking(tmp_path: Path) -> None:
    make_photos(tmp_path / "photos", 30, seed=7)
    with Library.open(tmp_path / "lib") as lib:
        lib.index([tmp_path / "photos"])
        hits = lib.search("water", limit=30)
        assert len(hits) == 30 and all(0.0 <= h.score <= 1.0 for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        enc, b = lib.bundle.encoder_id, lib.bundle
        raw = {h.photo_id: lib.catalog.vector(h.photo_id, enc) for h in hits}
        tag = b.tag_vectors[b.tag_index("water")]
        cosines = [float(unit(tag) @ unit(raw[h.photo_id])) for h in hits]
        assert cosines == sorted(cosines, reverse=True)  # same order as the cosine index
        # For one word it is the tag probability, with the photo's length taken as the library's typical one.
        typical = float(np.median([np.linalg.norm(v) for v in raw.values()]))
        for h in hits[:5]:
            v = raw[h.photo_id]
            expected = tag_scores(b, v * typical / np.linalg.norm(v))[b.tag_index("water")]
            assert abs(h.score - float(expected)) < 0.05
        # Top photos of a word the model knows are likely; a made-up word is not confidently anything.
        assert hits[0].score > 0.9
        assert max(h.score for h in lib.search("qxzvbw", limit=5)) < 0.9
