"""Everyday words through the app's own search: does "dog" find dogs? Several bundles, one run.

    python bench/everyday_words.py ../shared/data attalos-photo-v2=/tmp/v2 attalos-photo-v3=resources/models/attalos-photo-v3

For every bundle a fresh library indexes the same folder (symbolic links to the Tiny ImageNet test
photos and the Corel-5k test photos: 2,519 photos, nothing copied), then ``Library.search(word)`` ranks
the whole library for each word, exactly as the search box does. A photo is relevant when its class
is the word or one of its kinds in WordNet 3.0 (Tiny ImageNet: "golden retriever" is a dog, "tabby" a
cat; the class's WordNet id comes from its train photos' file names), or when its Corel-5k tags carry
the word (or the Corel word for it: people, birds, cars). Reported: average precision per word and
its mean, per bundle.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from attalos_desktop.core.library import Library  # noqa: E402
from trainer.data import read_labels  # noqa: E402
from trainer.hypernyms import WordNet, wnid_of  # noqa: E402

WORDS = ("dog", "cat", "car", "bird", "person", "tree", "water", "sky", "fish", "truck", "boat", "insect", "flower")
COREL_WORDS = {
    "person": ("people",),
    "bird": ("birds",),
    "car": ("cars",),
    "flower": ("flowers",),
    "boat": ("boats",),
    "insect": ("insect",),
}


def library_folder(data: Path, dest: Path) -> dict[str, set[str]]:
    """Links to the test photos; returns each link's name -> its relevant words."""
    wn = WordNet.load()
    tiny = read_labels(data / "tiny-imagenet-200")
    wnid = {r.tags[0]: wnid_of(r.file) for r in tiny if r.split == "train" and wnid_of(r.file)}
    senses = {w: set(wn.noun_synsets(w)) for w in WORDS}
    kinds: dict[str, set[str]] = {}
    for name, wid in wnid.items():
        off = wn.synset_of_wnid(wid or "")
        if off is None:
            continue
        above = {off} | {o for o, _ in wn.ancestors(off, 30)}
        kinds[name] = {w for w in WORDS if senses[w] & above}
    relevant: dict[str, set[str]] = {}
    dest.mkdir(parents=True)
    for r in tiny:
        if r.split == "test" and r.tags:
            link = f"tiny-{Path(r.file).name}"
            os.symlink(data / "tiny-imagenet-200" / r.file, dest / link)
            relevant[link] = set(kinds.get(r.tags[0], set()))
    for r in read_labels(data / "corel5k"):
        if r.split == "test":
            link = f"corel-{Path(r.file).name}"
            os.symlink(data / "corel5k" / r.file, dest / link)
            relevant[link] = {w for w in WORDS if set(r.tags) & {w, *COREL_WORDS.get(w, ())}}
    return relevant


def average_precision(ranked: Sequence[str], relevant: set[str]) -> float:
    hits, total = 0, 0.0
    for i, name in enumerate(ranked, 1):
        if name in relevant:
            hits += 1
            total += hits / i
    return total / max(1, len(relevant))


def run(data: Path, bundles: dict[str, Path]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="attalos-everyday-") as tmp:
        photos = Path(tmp) / "photos"
        relevant = library_folder(data, photos)
        positives = {w: {n for n, ws in relevant.items() if w in ws} for w in WORDS}
        out: dict[str, object] = {
            "photos": len(relevant),
            "positives": {
                w: {"tiny": sum(n.startswith("tiny-") for n in p), "corel": sum(n.startswith("corel-") for n in p)}
                for w, p in positives.items()
            },
        }
        for label, bundle in bundles.items():
            t0 = time.perf_counter()
            with Library.open(Path(tmp) / f"lib-{label}", bundle) as lib:
                lib.index([photos])
                aps = {}
                for w in WORDS:
                    if positives[w]:
                        hits = lib.search(w, limit=len(relevant))
                        aps[w] = average_precision([Path(h.path).name for h in hits], positives[w])
            out[label] = {
                "bundle": str(bundle),
                "ap": aps,
                "map": float(np.mean(list(aps.values()))),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            print(
                f"{label}: mAP {out[label]['map']:.3f}  " + "  ".join(f"{w} {a:.3f}" for w, a in aps.items()),  # type: ignore[index]
                file=sys.stderr,
                flush=True,
            )
        return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("bundles", nargs="+", help="LABEL=BUNDLE_DIR")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "everyday-words.json")
    args = ap.parse_args(argv)
    bundles = {b.split("=", 1)[0]: Path(b.split("=", 1)[1]) for b in args.bundles}
    res = run(args.data.resolve(), bundles)  # the photos are symlinked: a relative target would not resolve
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
