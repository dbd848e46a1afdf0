"""The user's own words on real photos: base model vs instant personal suggestions vs fine-tuned bundle.

A simulation of a person tagging their library, built from ../shared/data (nothing is copied: the
library's folder holds symbolic links to the test photos of Tiny ImageNet and Corel-5k):

- **new words** (``--new-words`` N): N Tiny ImageNet classes get a made-up name no model knows
  (a pet's name, "grandma's house"); the user tags ``--per-word`` of each class's 10 test photos with it.
- **everyday words**: words the single-label corpora never teach as such, tagged on photos of the
  classes they cover (dog on the six dog breeds, cat on the three cats, ...); "cat" is in the default
  model's vocabulary (from Corel: big cats), the others reach it only through their word vectors.

Every other photo of the library (the class's untagged photos are the positives, the rest negatives)
is then scored for each word by three systems, in the same run:

- base: the bundle alone (its tag score, or the text encoder's vector for a word it never saw);
- instant: what the app shows right after tagging (``Library.suggest_tags``: model + personal votes);
- fine-tuned: ``attalos-desktop-train --library`` (head mode), then the app on the new bundle
  (the fine-tuned tag layer alone, and with the personal votes as the app shows it).

Metrics per word, averaged over words: AP of the ranking (what search shows) and, LEAR-style, whether
the word is among the photo's 5 best suggestions (per-word precision/recall, F1 of the means).

    python bench/personal_bench.py ../shared/data [--model BUNDLE] [--per-word 5] [--new-words 30]
        [--out bench/out/personal.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from attalos_desktop.core.bundle import default_bundle_path, load_bundle  # noqa: E402
from attalos_desktop.core.encoder import tag_scores  # noqa: E402
from attalos_desktop.core.library import Library  # noqa: E402
from attalos_desktop.core.text_encoder import TextEncoder  # noqa: E402

EVERYDAY = {
    "dog": [
        "chihuahua",
        "german shepherd",
        "golden retriever",
        "labrador retriever",
        "standard poodle",
        "yorkshire terrier",
    ],
    "cat": ["egyptian cat", "persian cat", "tabby"],
    "car": ["convertible", "sports car", "limousine", "beach wagon"],
    "bird": ["albatross", "black stork", "goose", "king penguin"],
    "insect": ["bee", "cockroach", "dragonfly", "fly", "grasshopper", "ladybug", "mantis", "walking stick"],
    "monkey": ["baboon", "chimpanzee", "gorilla", "orangutan"],
    "bridge": ["steel arch bridge", "suspension bridge", "viaduct"],
    "bottle": ["beer bottle", "pill bottle", "pop bottle", "water jug"],
}
TOP = 5


def read_test(corpus: Path) -> list[tuple[Path, list[str]]]:
    out = []
    for line in (corpus / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("split") == "test":
            out.append((corpus / rec["file"], rec["tags"]))
    return out


def build_library(data: Path, work: Path, model: Path) -> tuple[Path, dict[str, list[str]]]:
    """Symlink the test photos into one folder and index it; return the library and each photo's class."""
    photos = work / "photos"
    photos.mkdir(parents=True)
    classes: dict[str, list[str]] = {}
    for name in ("tiny-imagenet-200", "corel5k"):
        for src, tags in read_test(data / name):
            dst = photos / f"{name[:4]}-{src.name}"
            os.symlink(src.resolve(), dst)
            classes[str(dst)] = tags if name == "tiny-imagenet-200" else []
    home = work / "library"
    t0 = time.time()
    with Library.open(home, model) as lib:
        rep = lib.index([photos])
    print(f"indexed {rep.new} photos in {time.time() - t0:.0f} s ({rep.failed} failed)", flush=True)
    return home, classes


def scenario(classes: dict[str, list[str]], rng: random.Random, new_words: int, per_word: int) -> dict[str, dict]:
    """word -> {"positives": [paths], "tagged": [paths]} for both kinds of words."""
    by_class: dict[str, list[str]] = {}
    for path, tags in classes.items():
        for t in tags:
            by_class.setdefault(t, []).append(path)
    everyday_classes = {c for cs in EVERYDAY.values() for c in cs}
    pool = sorted(c for c in by_class if c not in everyday_classes)
    words: dict[str, dict] = {}
    for i, cls in enumerate(rng.sample(pool, new_words)):
        pos = sorted(by_class[cls])
        words[f"zq{i:02d}{cls.split()[0][:3]}"] = {
            "kind": "new",
            "class": cls,
            "positives": pos,
            "tagged": rng.sample(pos, per_word),
        }
    for word, cs in EVERYDAY.items():
        pos = sorted(p for c in cs for p in by_class.get(c, []))
        # A person tags a few photos of the word, spread over what it covers.
        words[word] = {
            "kind": "everyday",
            "class": "+".join(cs),
            "positives": pos,
            "tagged": rng.sample(pos, min(len(pos), per_word * 2)),
        }
    return words


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-scores, kind="stable")
    hits = labels[order].astype(np.float64)
    if hits.sum() == 0:
        return 0.0
    prec = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((prec * hits).sum() / hits.sum())


def evaluate(
    name: str, score_matrix: np.ndarray, top5: list[set[str]], words: list[str], truth: np.ndarray, kinds: list[str]
) -> dict:
    """Mean AP and LEAR-style P/R/F1 (word among the photo's 5 best suggestions), per kind of word."""
    out: dict[str, dict] = {}
    for kind in ("new", "everyday", "all"):
        cols = [i for i, k in enumerate(kinds) if kind == "all" or k == kind]
        ap, p, r = [], [], []
        for c in cols:
            ap.append(average_precision(score_matrix[:, c], truth[:, c]))
            pred = np.fromiter((words[c] in s for s in top5), dtype=bool, count=len(top5))
            tp = float((pred & truth[:, c]).sum())
            p.append(tp / pred.sum() if pred.sum() else 0.0)
            r.append(tp / max(truth[:, c].sum(), 1))
        mp, mr = float(np.mean(p)), float(np.mean(r))
        out[kind] = {
            "map": round(float(np.mean(ap)), 4),
            "precision": round(mp, 4),
            "recall": round(mr, 4),
            "f1": round(2 * mp * mr / (mp + mr) if mp + mr else 0.0, 4),
            "words": len(cols),
        }
    print(
        f"{name:<26}"
        + "  ".join(
            f"{k}: mAP {v['map']:.3f} P {v['precision']:.3f} R {v['recall']:.3f} F1 {v['f1']:.3f}"
            for k, v in out.items()
        ),
        flush=True,
    )
    return out


def model_scores(bundle, raw: np.ndarray, words: list[str]) -> np.ndarray:
    enc = TextEncoder(bundle)
    m = np.stack([enc.word_vector(w).vector for w in words], axis=1)
    return 1.0 / (1.0 + np.exp(-np.clip(raw @ m, -60, 60)))


def run_systems(home: Path, words: dict[str, dict], fine_tune: bool, epochs: int) -> dict:
    names = sorted(words)
    kinds = [words[w]["kind"] for w in names]
    with Library.open(home) as lib:
        for w in names:
            lib.edit_tags(words[w]["tagged"], add=[w])
        tagged = {p for w in names for p in words[w]["tagged"]}
        rows = [r for r in lib.photos() if r.path not in tagged]
        enc = lib.bundle.encoder_id
        vec = {int(i): v for ids, vs in lib.catalog.iter_vectors(enc, [r.id for r in rows]) for i, v in zip(ids, vs)}
        rows = [r for r in rows if r.id in vec]
        raw = np.stack([vec[r.id] for r in rows])
        truth = np.array([[r.path in set(words[w]["positives"]) for w in names] for r in rows])
        print(f"{len(rows)} untagged photos scored for {len(names)} words ({int(truth.sum())} positives)", flush=True)
        results: dict[str, dict] = {}

        base = model_scores(lib.bundle, raw, names)
        base_top = [{t for t, _ in _model_top(lib.bundle, v)} for v in raw]
        results["base"] = evaluate("base (model alone)", base, base_top, names, truth, kinds)

        t0 = time.time()
        personal = lib.personal_votes().scores(raw, exclude_ids=[r.id for r in rows], words=names)
        instant = np.maximum(personal, np.where([lib.bundle.tag_index(w) is not None for w in names], base, 0.0))
        inst_top = [{t.tag for t in lib.suggest_tags(r.id, top=TOP)} for r in rows]
        per_photo_ms = (time.time() - t0) / len(rows) * 1000
        results["instant"] = evaluate("instant (model+personal)", instant, inst_top, names, truth, kinds)
        results["instant"]["ms_per_photo"] = round(per_photo_ms, 2)

        if fine_tune:
            from trainer.cli import main as train_main

            out_dir = home / "models" / "bench-fine-tuned"
            t0 = time.time()
            code = train_main(["--library", str(home), "--out", str(out_dir), "--epochs", str(epochs), "--quiet"])
            secs = time.time() - t0
            if code != 0:
                raise SystemExit(f"fine-tuning failed with exit status {code}")
            ft = load_bundle(out_dir)
            tuned = model_scores(ft, raw, names)
            tuned_top = [{t for t, _ in _model_top(ft, v)} for v in raw]
            results["fine_tuned"] = evaluate("fine-tuned bundle alone", tuned, tuned_top, names, truth, kinds)
            results["fine_tuned"]["seconds"] = round(secs, 1)
            lib.set_model(out_dir)
            both = np.maximum(tuned, lib.personal_votes().scores(raw, exclude_ids=[r.id for r in rows], words=names))
            both_top = [{t.tag for t in lib.suggest_tags(r.id, top=TOP)} for r in rows]
            results["fine_tuned_app"] = evaluate("fine-tuned + personal", both, both_top, names, truth, kinds)
    return results


def _model_top(bundle, raw: np.ndarray) -> list[tuple[str, float]]:
    s = tag_scores(bundle, raw)
    idx = np.argsort(-s)[:TOP]
    return [(bundle.tags[i], float(s[i])) for i in idx]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="the shared data folder (tiny-imagenet-200/, corel5k/)")
    ap.add_argument("--model", type=Path, default=None, help="bundle (default: the app's default model)")
    ap.add_argument("--per-word", type=int, default=5, help="photos the user tags with each new word")
    ap.add_argument("--new-words", type=int, default=30, help="made-up words (one Tiny ImageNet class each)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-fine-tune", action="store_true", help="skip the trainer (no torch needed)")
    ap.add_argument("--epochs", type=int, default=100, help="fine-tuning steps (head mode: L-BFGS steps)")
    ap.add_argument("--work", type=Path, default=None, help="keep the library here (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=Path("bench/out/personal.json"))
    args = ap.parse_args(argv)
    model = (args.model or default_bundle_path()).resolve()
    work = args.work or Path(tempfile.mkdtemp(prefix="attalos-personal-"))
    if work.exists() and any(work.iterdir()):
        shutil.rmtree(work)
    home, classes = build_library(args.data, work, model)
    words = scenario(classes, random.Random(args.seed), args.new_words, args.per_word)
    results = run_systems(home, words, not args.no_fine_tune, args.epochs)
    report = {
        "model": load_bundle(model).name,
        "per_word": args.per_word,
        "new_words": args.new_words,
        "everyday_words": {w: v["class"] for w, v in words.items() if v["kind"] == "everyday"},
        "tagged_photos": sum(len(v["tagged"]) for v in words.values()),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
