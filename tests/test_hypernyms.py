"""General words from WordNet (trainer.hypernyms): a tiny hand-written WordNet, then the real one.

The real-data tests need Debian's wordnet-base (/usr/share/wordnet); scripts/test.sh installs it.
Without it they fail with the loader's install hint instead of passing silently.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from trainer.data import Record
from trainer.errors import TrainError
from trainer.hypernyms import Expansion, WordNet, expand_records, general_words, wnid_of

ENTITY, PHYSICAL, OBJECT, WHOLE, LIVING, ORGANISM = 1740, 1930, 2684, 3553, 4258, 4475
ANIMAL, DOMESTIC, CANINE, DOG, HUNTING, RETRIEVER, GOLDEN = 15388, 1317541, 2083346, 2084071, 2087122, 2099029, 2099601
HOUSE_DOG, LASSIE, PERSON, FRUMP, DOGMAN = 2084500, 9999001, 7846, 10114209, 9999002

# offset -> (lemmas, [(pointer symbol, target offset)])
SYNSETS: dict[int, tuple[list[str], list[tuple[str, int]]]] = {
    ENTITY: (["entity"], [("~", PHYSICAL)]),
    PHYSICAL: (["physical_entity"], [("@", ENTITY), ("~", OBJECT)]),
    OBJECT: (["object", "physical_object"], [("@", PHYSICAL)]),
    # 11 lemmas: the word count is hexadecimal ("0b"), and the pointers come after all of them
    WHOLE: (["whole", "unit"] + [f"whole_{i}" for i in range(9)], [("@", OBJECT)]),
    LIVING: (["living_thing", "animate_thing"], [("@", WHOLE)]),
    ORGANISM: (["organism", "being"], [("@", LIVING), ("~", ANIMAL)]),
    ANIMAL: (["animal", "animate_being", "beast"], [("@", ORGANISM)]),
    DOMESTIC: (["domestic_animal"], [("@", ANIMAL), ("~", DOG)]),
    CANINE: (["canine", "canid"], [("@", ANIMAL)]),
    DOG: (["dog", "domestic_dog", "Canis_familiaris"], [("@", CANINE), ("@", DOMESTIC), ("~", HUNTING), ("%m", 1)]),
    HOUSE_DOG: (["house_dog", "dog"], [("@", DOG)]),
    HUNTING: (["hunting_dog"], [("@", DOG)]),
    RETRIEVER: (["retriever"], [("@", HUNTING)]),
    GOLDEN: (["golden_retriever"], [("@", RETRIEVER)]),
    LASSIE: (["Lassie"], [("@i", DOG)]),
    PERSON: (["person", "individual"], [("@", ORGANISM)]),
    FRUMP: (["frump", "dog"], [("@", PERSON)]),
    DOGMAN: (["dogman"], [("@", DOG), ("@", PERSON)]),  # two parents: breadth first interleaves their lines
}
INDEX = {"dog": [DOG, FRUMP, HOUSE_DOG], "golden_retriever": [GOLDEN], "lassie": [LASSIE], "canine": [CANINE]}
HEADER = "  1 This software and database is being provided to you, the LICENSEE, by  \n  2 Princeton University\n"


def _data_line(offset: int, lemmas: list[str], ptrs: list[tuple[str, int]]) -> str:
    words = " ".join(f"{w} 0" for w in lemmas)
    pointers = " ".join(f"{sym} {t:08d} n 0000" for sym, t in ptrs)
    return f"{offset:08d} 05 n {len(lemmas):02x} {words} {len(ptrs):03d} {pointers} | a gloss; with | a bar  \n"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data.noun and index.noun in WordNet 3.0's format (offsets are fields, not byte positions)."""
    root = tmp_path_factory.mktemp("wordnet")
    (root / "data.noun").write_text(HEADER + "".join(_data_line(o, *SYNSETS[o]) for o in sorted(SYNSETS)))
    index = "".join(
        f"{w} n {len(offs)} 2 @ ~ {len(offs)} 1 {' '.join(f'{o:08d}' for o in offs)}  \n"
        for w, offs in sorted(INDEX.items())
    )
    (root / "index.noun").write_text(HEADER + index)
    return root


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> WordNet:
    return WordNet.load(tiny_dir)


def everything(word: str) -> bool:
    return True


def test_ancestors_are_breadth_first_each_once_within_up(tiny: WordNet) -> None:
    assert tiny.ancestors(GOLDEN, 4) == [(RETRIEVER, 1), (HUNTING, 2), (DOG, 3), (CANINE, 4), (DOMESTIC, 4)]
    assert tiny.ancestors(GOLDEN, 0) == []
    up = tiny.ancestors(DOG, 20)
    assert up == [
        (CANINE, 1),
        (DOMESTIC, 1),
        (ANIMAL, 2),
        (ORGANISM, 3),
        (LIVING, 4),
        (WHOLE, 5),
        (OBJECT, 6),
        (PHYSICAL, 7),
        (ENTITY, 8),
    ]  # animal reached twice, listed once; ~ and %m pointers ignored
    assert tiny.ancestors(DOGMAN, 3) == [
        (DOG, 1),
        (PERSON, 1),
        (CANINE, 2),
        (DOMESTIC, 2),
        (ORGANISM, 2),
        (ANIMAL, 3),
        (LIVING, 3),
    ]
    assert tiny.ancestors(LASSIE, 1) == [(DOG, 1)]  # instance hypernym (@i)
    assert tiny.ancestors(ENTITY, 5) == []


def test_root_depth_is_the_shortest_path(tiny: WordNet) -> None:
    assert [tiny.root_depth(o) for o in (ENTITY, PHYSICAL, OBJECT, WHOLE, LIVING, ORGANISM, ANIMAL)] == list(range(7))
    assert tiny.root_depth(DOG) == 8  # via canine or domestic animal, both at 7
    assert tiny.root_depth(GOLDEN) == 11
    assert tiny.root_depth(LASSIE) == 9


def test_lemmas_wnids_and_index(tiny: WordNet) -> None:
    assert tiny.lemma(DOG) == "dog"
    assert tiny.lemmas(DOG) == ["dog", "domestic dog", "canis familiaris"]
    assert tiny.lemma(LASSIE) == "lassie"
    assert len(tiny.lemmas(WHOLE)) == 11
    assert tiny.synset_of_wnid("n02099601") == GOLDEN
    assert tiny.synset_of_wnid("n01234567") is None
    assert tiny.synset_of_wnid("dog") is None
    assert tiny.noun_synsets("dog") == [DOG, FRUMP, HOUSE_DOG]
    assert tiny.noun_synsets("Golden Retriever") == [GOLDEN]
    assert tiny.noun_synsets("golden_retriever") == [GOLDEN]
    assert tiny.noun_synsets("unicorn") == []


def test_wnid_of() -> None:
    assert wnid_of("images/n01443537_164.jpg") == "n01443537"
    assert wnid_of("n02099601_12.JPEG") == "n02099601"
    assert wnid_of("train/n02099601/images/x.JPEG") == "n02099601"
    assert wnid_of("val/images/val_12.JPEG") is None
    assert wnid_of("holiday/beach.jpg") is None
    assert wnid_of("images/n0209960_1.jpg") is None  # seven digits
    assert wnid_of("images/xn02099601_1.jpg") is None


def test_general_words(tiny: WordNet) -> None:
    assert general_words(tiny, GOLDEN, 4, 5, everything) == [
        "retriever",
        "hunting dog",
        "dog",
        "canine",
        "domestic animal",
    ]
    assert general_words(tiny, DOG, 10, 6, everything) == ["canine", "domestic animal", "animal"]
    assert general_words(tiny, DOG, 10, 0, everything)[-5:] == [
        "living thing",
        "whole",
        "object",
        "physical entity",
        "entity",
    ]
    assert general_words(tiny, GOLDEN, 4, 5, lambda w: " " not in w) == ["retriever", "dog", "canine"]
    assert general_words(tiny, HOUSE_DOG, 3, 5, everything) == [
        "canine",
        "domestic animal",
        "animal",
    ]  # never its own "dog"
    assert general_words(tiny, LASSIE, 1, 5, everything) == ["dog"]


def test_expand_by_wnid(tiny: WordNet) -> None:
    records = [
        Record("images/n02099601_1.jpg", ["golden retriever"], "train", 1),
        Record("images/n02099601_2.jpg", ["golden retriever", "dog"], "test", 2),
        Record("holiday/beach.jpg", ["beach"], "train", 3),
        Record("images/n01234567_1.jpg", ["mystery"], "train", 4),  # wnid not in WordNet
        Record("images/n02084071_7.jpg", ["dog"], "train", 5),
    ]
    before = copy.deepcopy(records)
    out, exp = expand_records(records, tiny, up=4, min_root_depth=5, keep=everything)
    assert records == before
    assert [r.tags for r in out] == [
        ["golden retriever", "retriever", "hunting dog", "dog", "canine", "domestic animal"],
        ["golden retriever", "dog", "retriever", "hunting dog", "canine", "domestic animal"],
        ["beach"],
        ["mystery"],
        ["dog", "canine", "domestic animal", "animal", "organism"],
    ]
    assert [(r.file, r.split, r.line) for r in out] == [(r.file, r.split, r.line) for r in records]
    assert all(o is not r and o.tags is not r.tags for o, r in zip(out, records))
    assert exp == Expansion(
        added={
            "golden retriever": ["retriever", "hunting dog", "dog", "canine", "domestic animal"],
            "dog": ["canine", "domestic animal", "animal", "organism"],
        },
        photos=3,
    )


def test_expand_by_first_sense(tiny: WordNet) -> None:
    records = [
        Record("a.jpg", ["golden retriever", "dog"], "train", 1),
        Record("images/n02099601_3.jpg", ["beach"], "train", 2),  # the wnid is ignored in this mode
        Record("b.jpg", ["dog"], "test", 3),
    ]
    before = copy.deepcopy(records)
    out, exp = expand_records(records, tiny, up=4, min_root_depth=5, keep=everything, senses="first")
    assert records == before
    assert out[0].tags == [
        "golden retriever",
        "dog",
        "retriever",
        "hunting dog",
        "canine",
        "domestic animal",
        "animal",
        "organism",
    ]  # dog's first sense, never frump's "person"
    assert out[1].tags == ["beach"]
    assert out[2].tags == ["dog", "canine", "domestic animal", "animal", "organism"]
    assert exp.added == {
        "golden retriever": ["retriever", "hunting dog", "canine", "domestic animal"],
        "dog": ["animal", "organism", "canine", "domestic animal"],
    }
    assert exp.photos == 2
    with pytest.raises(TrainError, match="senses"):
        expand_records(records, tiny, up=4, min_root_depth=5, keep=everything, senses="all")


def test_expansion_is_cached_per_synset(tiny: WordNet) -> None:
    """50k photos must not walk WordNet 50k times: keep() runs once per candidate word per synset."""
    calls: list[str] = []

    def keep(word: str) -> bool:
        calls.append(word)
        return True

    records = [Record(f"images/n02099601_{i}.jpg", ["golden retriever"], "train", i) for i in range(2000)]
    out, exp = expand_records(records, tiny, up=4, min_root_depth=5, keep=keep)
    assert len(calls) == 5 and exp.photos == 2000 and len(out) == 2000


def test_missing_wordnet_names_the_package(tmp_path: Path, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TrainError, match="wordnet-base") as info:
        WordNet.load(tmp_path / "nowhere")
    assert "\n" not in str(info.value)
    (tmp_path / "data.noun").write_text((tiny_dir / "data.noun").read_text())
    with pytest.raises(TrainError, match="index.noun"):
        WordNet.load(tmp_path)
    monkeypatch.setenv("WNSEARCHDIR", str(tiny_dir))
    assert WordNet.load().lemma(LASSIE) == "lassie"


@pytest.fixture(scope="module")
def real() -> WordNet:
    try:
        return WordNet.load("/usr/share/wordnet")
    except TrainError as exc:
        pytest.fail(f"{exc} (scripts/test.sh installs it)")


@pytest.mark.parametrize("wnid, word", [("n02099601", "dog"), ("n02124075", "cat"), ("n03930630", "truck")])
def test_real_wordnet_general_words(real: WordNet, wnid: str, word: str) -> None:
    offset = real.synset_of_wnid(wnid)
    assert offset is not None, wnid
    words = general_words(real, offset, 4, 5, everything)
    assert word in words, (real.lemma(offset), words)
    assert not {"entity", "object", "whole", "physical entity"} & set(words)


def test_real_wordnet_index(real: WordNet) -> None:
    assert real.noun_synsets("golden retriever") == [GOLDEN]
    assert real.noun_synsets("Dog")[0] == DOG
    assert real.lemma(DOG) == "dog" and real.root_depth(ENTITY) == 0
