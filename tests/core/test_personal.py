"""Personal suggestions: a word the user put on a few photos is suggested for look-alikes, at once.

A real library of generated photos: 20 photos of one kind (a yellow star on water) and 60 random
others. The user tags five of the 20 with "zorbl", a word no model knows; the other 15 are held out.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from attalos_desktop.core.library import Library, LibraryError
from attalos_desktop.core.personal import PersonalVotes, merge_suggestions, user_words_in
from core_helpers import make_photos, make_spec_photo

WORD = "zorbl"


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path], list[Path]]:
    base = tmp_path_factory.mktemp("personal")
    root = base / "photos"
    kind = [make_spec_photo(root / f"z{i:02d}.jpg", "water", [("yellow", "star")], seed=i) for i in range(20)]
    others = make_photos(root, 60, seed=3, prefix="o")
    with Library.open(base / "lib") as lib:
        lib.index([root])
    return base / "lib", kind, others


@pytest.fixture()
def library(indexed: tuple[Path, list[Path], list[Path]], tmp_path: Path):
    """A fresh copy of the indexed library for each test (tags start empty)."""
    home = tmp_path / "lib"
    shutil.copytree(indexed[0], home)
    with Library.open(home) as lib:
        yield lib, indexed[1], indexed[2]


def _score(lib: Library, path: Path, word: str = WORD) -> float:
    row = lib.photo_by_path(path)
    hits = {t.tag: t for t in lib.suggest_tags(row.id, top=50)}
    return hits[word].score if word in hits else 0.0


def _auc(pos: list[float], neg: list[float]) -> float:
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((p > n) + 0.5 * (p == n)).mean())


def test_new_word_is_suggested_for_lookalikes_well_above_chance(library) -> None:
    lib, kind, others = library
    assert all(_score(lib, p) == 0.0 for p in kind[5:])  # nobody used the word yet
    lib.edit_tags(kind[:5], add=[WORD])
    held, neg = [_score(lib, p) for p in kind[5:]], [_score(lib, p) for p in others]
    assert _auc(held, neg) >= 0.9, (held, neg)
    assert np.mean(held) >= 0.5 and np.mean(neg) <= 0.15
    row = lib.photo_by_path(kind[6])
    mine = [t for t in lib.suggest_tags(row.id, top=50) if t.tag == WORD]
    assert mine and mine[0].source == "personal" and 0.0 < mine[0].score <= 1.0
    # The photo's own tags are never suggested back to it.
    assert WORD not in {t.tag for t in lib.suggest_tags(lib.photo_by_path(kind[0]).id, top=50)}


def test_suggestions_follow_each_accept_and_reject_without_a_rebuild(library) -> None:
    lib, kind, others = library
    lib.edit_tags(kind[:1], add=[WORD])
    assert max(_score(lib, p) for p in kind[5:]) == 0.0  # one photo is not enough to suggest a word
    lib.edit_tags(kind[1:4], add=[WORD])
    scores = {p: _score(lib, p) for p in kind[5:]}
    assert np.mean(list(scores.values())) > 0.3
    target_path = max(scores, key=scores.get)
    target = lib.photo_by_path(target_path).id
    lib.reject_tags(target, [WORD])
    assert WORD not in {t.tag for t in lib.suggest_tags(target, top=50)}  # rejected stays rejected
    lib.accept_tags(target, [WORD])  # accepting after all: it becomes the user's tag, not a suggestion
    assert WORD in lib.user_tags(target) and WORD not in {t.tag for t in lib.suggest_tags(target, top=50)}
    lib.remove_user_tags(target, [WORD])
    assert lib.user_tags(target) == []
    assert _score(lib, target_path) > 0.0  # suggested again from its neighbours


def test_tags_from_another_process_show_at_the_next_call(library) -> None:
    lib, kind, _ = library
    assert _score(lib, kind[9]) == 0.0
    with Library.open(lib.paths.home) as other:  # e.g. attalos-tag --add while the GUI is open
        other.edit_tags(kind[:5], add=[WORD])
    assert _score(lib, kind[9]) > 0.3


def test_search_for_a_user_word_ranks_carriers_then_lookalikes(library) -> None:
    lib, kind, others = library
    lib.edit_tags(kind[:5], add=[WORD])
    hits = lib.search(WORD, limit=20)
    names = [Path(h.path).name for h in hits]
    assert set(names[:5]) == {p.name for p in kind[:5]} and all(h.score == 1.0 for h in hits[:5])
    rest = names[5:]
    assert sum(n.startswith("z") for n in rest) >= 0.8 * len(rest), names
    assert [h.score for h in hits[5:]] == sorted((h.score for h in hits[5:]), reverse=True)
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    # A query that contains the word: the carriers still come first, scored by the other words too.
    mixed = lib.search(f"{WORD} on water", limit=8)
    assert {Path(h.path).name for h in mixed[:5]} == {p.name for p in kind[:5]}
    assert mixed[0].score > 0.5  # they are on water
    # Multi-word user tags are found as phrases, and words the model knows still search as before.
    lib.edit_tags(others[:2], add=["grandma's house"])
    assert {Path(h.path).name for h in lib.search("Grandma's House", limit=2)} == {p.name for p in others[:2]}
    assert lib.search("red circle", limit=3)


def test_edit_tags_checks_everything_before_writing(library, tmp_path: Path) -> None:
    lib, kind, _ = library
    stranger = make_photos(tmp_path / "elsewhere", 1)[0]
    with pytest.raises(LibraryError, match="not in the library"):
        lib.edit_tags([kind[0], stranger], add=[WORD])
    with pytest.raises(LibraryError, match="no letters or digits"):
        lib.edit_tags([kind[0]], add=["ok", " _+ "])
    assert lib.user_tags(lib.photo_by_path(kind[0]).id) == []  # nothing was written


def test_votes_are_probabilities_and_merge_keeps_the_higher_score() -> None:
    rng = np.random.default_rng(0)
    centre = rng.normal(size=16)
    near = centre + 0.1 * rng.normal(size=(6, 16))
    far = rng.normal(size=(400, 16))
    pv = PersonalVotes.build(
        np.arange(3), near[:3], [{"rex"}] * 3, background=far, background_ids=np.arange(1000, 1400)
    )
    s = pv.scores(np.vstack([near[3:], far[:5]]))
    assert pv.words == ["rex"] and s.shape == (8, 1)
    assert (s[:3, 0] > 0.6).all() and (s[3:, 0] < 0.2).all() and ((s >= 0) & (s <= 1)).all()
    assert pv.scores(near[0], exclude_ids=[0]).shape == (1,)
    merged = merge_suggestions([("dog", 0.4), ("sky", 0.9)], [("dog", 0.7), ("rex", 0.5)], top=3)
    assert merged == [("sky", 0.9, "model"), ("dog", 0.7, "personal"), ("rex", 0.5, "personal")]


def test_user_words_are_found_as_phrases_longest_first() -> None:
    tags = ["rex", "grandma's house", "house"]
    assert user_words_in("Rex on Grandma's House", tags) == (["rex", "grandma's house"], "on")
    assert user_words_in("a house by the sea", tags) == (["house"], "a by the sea")
    assert user_words_in("sunset", tags) == ([], "sunset")
    assert user_words_in("rex", []) == ([], "rex")
