"""The loss ablation of the model card: the method against its alternative, at one training budget.

    python bench/loss_ablation.py ../shared/data --out bench/out/loss-ablation.json

Every row trains the default recipe (``trainer/recipes/attalos-photo.toml``) with the same budget
(``--epochs`` passes over Corel-5k at ``--size`` px, no second cycle, the same seed and photos), changing
only the loss, the negative strategy, the tag layer or the WordNet depth, and exports the bare model
(no label transfer: that stage is the same for every row and would hide the differences). Each bundle
is then measured as the app runs it:

- Corel-5k test: LEAR F1 / N+ over 5 tags per photo, and mAP over words;
- Tiny ImageNet test (official validation photos): mAP over the 200 names;
- general words on the recipe's *held-out* Tiny ImageNet train photos (never trained on): mAP over
  WordNet general words of their classes (dog, cat, vehicle...), scored with the tag vector when the
  model has the word, else zero-shot through its text encoder, as the app's search would. This is
  the column that chooses the WordNet depth.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "trainer" / "recipes" / "attalos-photo.toml"
# name -> flags over the recipe
VARIANTS: dict[str, list[str]] = {
    "softmax, optimised tag layer, WordNet up 4 (recipe)": ["--loss", "softmax"],
    "negative sampling II presampled, optimised": ["--loss", "negative-sampling", "--neg-strategy", "presampled"],
    "negative sampling I next-image, optimised": ["--loss", "negative-sampling", "--neg-strategy", "next-image"],
    "negative sampling II presampled, frozen tag layer": [
        "--loss",
        "negative-sampling",
        "--neg-strategy",
        "presampled",
        "--tag-layer",
        "frozen",
    ],
}
DEPTHS = {"softmax, no WordNet words (up 0)": 0, "softmax, WordNet up 6": 6}


def held_out_general_words(data: Path, up: int = 6) -> tuple[list[Any], list[str]]:
    """The recipe's held-out Tiny ImageNet photos with their general words (deepest candidate depth)."""
    sys.path.insert(0, str(ROOT))
    from trainer.corpora import CorpusSpec, held_out_indices
    from trainer.data import Record, read_labels
    from trainer.hypernyms import WordNet, expand_records
    from trainer.prepare import _keep_general_word
    from trainer.wordvectors import load_word_vectors

    spec = CorpusSpec(path=data / "tiny-imagenet-200", held_out=10, held_out_per_class=True)
    train = [r for r in read_labels(spec.path) if r.split == "train" and r.tags]
    held = [train[i] for i in held_out_indices(train, spec, 0)]
    keep = _keep_general_word(load_word_vectors("wordllama"), 20000)
    expanded, _ = expand_records(held, WordNet.load(), up=up, min_root_depth=5, keep=keep)
    names = {t for r in held for t in r.tags}
    general = sorted({t for r in expanded for t in r.tags} - names)
    return [Record(r.file, r.tags, "test", r.line) for r in expanded], general


def measure(bundle_dir: Path, data: Path, held: Sequence[Any], general: list[str], threads: int) -> dict[str, Any]:
    from attalos_desktop.core.bundle import load_bundle
    from trainer.evaluate import average_precision, embed_photos, evaluate_bundle, truth_matrix, word_scores

    corel = evaluate_bundle(bundle_dir, data / "corel5k", threads=threads)
    tiny = evaluate_bundle(bundle_dir, data / "tiny-imagenet-200", threads=threads)
    bundle = load_bundle(bundle_dir)
    emb, used, _ = embed_photos(bundle, data / "tiny-imagenet-200", held, threads=threads)
    scores, sources = word_scores(emb, general, bundle)
    truth = truth_matrix(used, general)
    aps = [average_precision(scores[:, j], truth[:, j]) for j in range(len(general)) if truth[:, j].any()]
    known = sum(s == "tag" for s in sources)
    return {
        "corel_f1": corel["lear_f1"],
        "corel_n_plus": corel["lear_n_plus"],
        "corel_map_words": corel["map_tags"],
        "tiny_map_words": tiny["words_map_words"],
        "general_words": len(aps),
        "general_known": known,
        "general_map": float(np.mean(aps)) if aps else None,
        "final_loss": bundle.manifest["training"].get("final_loss"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "loss-ablation.json")
    ap.add_argument("--work", type=Path, default=Path("/tmp/attalos-ablation"))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--size", type=int, default=64, help="training input size of every epoch")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="run only these rows (substring match)")
    args = ap.parse_args(argv)
    held, general = held_out_general_words(args.data)
    rows = json.loads(args.out.read_text()) if args.out.is_file() else {}
    plan = {k: v for k, v in VARIANTS.items()}
    plan.update({k: ["--loss", "softmax", "--hypernym-up", str(up)] for k, up in DEPTHS.items()})
    for name, flags in plan.items():
        if args.only and not any(o in name for o in args.only):
            continue
        out = args.work / f"row{list(plan).index(name)}"
        cmd = [
            sys.executable,
            "-m",
            "trainer.cli",
            "--recipe",
            str(RECIPE),
            "--data-root",
            str(args.data),
            "--out",
            str(out),
            "--checkpoint",
            str(out) + ".ckpt.pt",
            "--epochs",
            str(args.epochs),
            "--restart-epochs",
            "0",
            "--progressive",
            f"1.0:{args.size}",
            "--label-transfer",
            "",
            "--cache",
            "/tmp/attalos-cache",
            "--threads",
            str(args.threads),
            "--quiet",
            *flags,
        ]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT)
        took = time.perf_counter() - t0
        rows[name] = {"flags": flags, "seconds": round(took), **measure(out, args.data, held, general, args.threads)}
        print(json.dumps({name: rows[name]}), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
