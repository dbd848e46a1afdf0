"""``attalos-desktop-train``: train a joint image-tag embedding and export a model bundle.

    attalos-desktop-train --data DIR --out BUNDLE_DIR [options]   # train, export, evaluate
    attalos-desktop-train --data DIR --evaluate BUNDLE_DIR --json  # metrics of a bundle

Problems with the input end the command with exit status 2 and a one-line reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from .errors import TrainError

NEG_STRATEGIES = ("next-image", "presampled")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Flags of the command; every default is shown by --help."""
    p = argparse.ArgumentParser(
        prog="attalos-desktop-train",
        description="Learn a joint image-tag embedding (Im2Vec: word vectors as the class layer, negative "
                    "sampling) from a folder of tagged photos, and export a model bundle for Attalos Desktop.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("data and output")
    g.add_argument("--data", required=True, metavar="DIR", help="dataset folder with images and labels.jsonl")
    g.add_argument("--out", metavar="BUNDLE_DIR", help="where to write the model bundle")
    g.add_argument("--name", help="model name in the manifest (default: the --out folder name)")
    g.add_argument("--description", default="", help="free text stored in the manifest")
    g.add_argument("--evaluate", metavar="BUNDLE_DIR",
                   help="do not train: evaluate this bundle on the test split (ONNX Runtime, as the app does)")
    g.add_argument("--json", action="store_true", help="print results as JSON")
    g.add_argument("--min-count", type=int, default=1, help="keep train tags seen at least this often")
    g = p.add_argument_group("model")
    g.add_argument("--backbone", default="mobilenet_v3_small",
                   help="torchvision trunk: mobilenet_v3_small, mobilenet_v3_large, resnet18, resnet34, resnet50, "
                        "efficientnet_b0, efficientnet_b1, convnext_tiny, regnet_y_400mf")
    g.add_argument("--image-size", type=int, default=160, help="square input side in pixels")
    g.add_argument("--dim", type=int, default=0, help="joint space dimension (0: that of the word vectors)")
    g.add_argument("--init", default="random",
                   help="tower start: random, imagenet (torchvision's cache), imagenet:PATH (a local state dict), "
                        "or a BUNDLE_DIR to continue from")
    g.add_argument("--tag-layer", default="optimised", choices=("optimised", "optimized", "frozen"),
                   help="learn the tag vectors, or keep them at their word vectors")
    g.add_argument("--tag-optimizer", default="rowwise-adagrad", choices=("rowwise-adagrad", "sgd"),
                   help="sparse optimiser of the CPU tag table")
    g.add_argument("--tag-lr", type=float, default=0.05, help="learning rate of the tag table")
    g = p.add_argument_group("words")
    g.add_argument("--word-vectors", default="wordllama",
                   help="'wordllama' (offline, from the installed wheel) or a GloVe .txt, word2vec .bin, "
                        "or fastText .vec file")
    g.add_argument("--extra-words", type=int, default=5000,
                   help="everyday words shipped with their vectors for searching untrained words")
    g.add_argument("--ngram-buckets", type=int, default=8192, help="sub-word hash buckets for words without a vector")
    g.add_argument("--ngram-min", type=int, default=3, help="shortest character n-gram")
    g.add_argument("--ngram-max", type=int, default=5, help="longest character n-gram")
    g = p.add_argument_group("loss and sampling")
    g.add_argument("--positives", type=int, default=2, help="positive tags drawn per photo and step")
    g.add_argument("--negatives", type=int, default=10, help="negative tags (K) per photo and step")
    g.add_argument("--neg-power", type=float, default=0.75, help="negatives follow tag frequency ** this power")
    g.add_argument("--neg-strategy", default="presampled", choices=NEG_STRATEGIES,
                   help="next-image: the next photo's labels; presampled: a pool drawn once per epoch")
    g = p.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=10, help="passes over the train split")
    g.add_argument("--max-steps", type=int, default=0, help="stop after this many steps in all (0: no limit)")
    g.add_argument("--batch-size", type=int, default=64, help="photos per step")
    g.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate of the tower (cosine schedule)")
    g.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay of the tower")
    g.add_argument("--augment", default="crop", choices=("crop", "flip", "none"),
                   help="training augmentation: jittered crop + flip, flip only, or none")
    g.add_argument("--workers", type=int, default=2, help="photo-decoding worker processes (0: in the main process)")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda (CUDA: bf16 autocast, channels_last)")
    g.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    g.add_argument("--seed", type=int, default=0, help="seed of every random choice (runs repeat on CPU)")
    g = p.add_argument_group("checkpoints and export")
    g.add_argument("--checkpoint", metavar="FILE",
                   help="checkpoint written every epoch and on Ctrl-C (default: BUNDLE_DIR.ckpt.pt beside --out)")
    g.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    g.add_argument("--onnx-exporter", default="auto", choices=("auto", "legacy", "dynamo"),
                   help="torch.onnx exporter (auto: TorchScript exporter, dynamo as fallback)")
    g.add_argument("--tower-dtype", default="float32", choices=("float32", "float16"),
                   help="precision of the tower weights kept in the bundle for --init BUNDLE_DIR")
    g.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    args = p.parse_args(argv)
    if args.tag_layer == "optimized":
        args.tag_layer = "optimised"
    if args.checkpoint is None and args.out:
        out = Path(args.out)
        args.checkpoint = str(out.with_name(out.name + ".ckpt.pt"))
    return args


def _check_args(args: argparse.Namespace) -> None:
    from .model import BACKBONES

    if args.backbone not in BACKBONES:
        raise TrainError(f"unknown backbone {args.backbone!r}; choose one of {', '.join(BACKBONES)}")
    if args.evaluate is None and not args.out and not args.checkpoint:
        raise TrainError("nothing to write: give --out BUNDLE_DIR (or --checkpoint FILE), or --evaluate BUNDLE_DIR")
    for flag, value, low in (("--epochs", args.epochs, 1), ("--batch-size", args.batch_size, 1),
                             ("--positives", args.positives, 1), ("--negatives", args.negatives, 1),
                             ("--min-count", args.min_count, 1), ("--image-size", args.image_size, 16),
                             ("--ngram-buckets", args.ngram_buckets, 1), ("--workers", args.workers, 0),
                             ("--dim", args.dim, 0), ("--extra-words", args.extra_words, 0)):
        if value < low:
            raise TrainError(f"{flag} must be at least {low}, not {value}")
    if not 1 <= args.ngram_min <= args.ngram_max:
        raise TrainError("--ngram-min must be at least 1 and at most --ngram-max")
    if args.device not in ("auto", "cpu", "cuda"):
        raise TrainError(f"unknown device {args.device!r}; choose auto, cpu or cuda")


def _print(args: argparse.Namespace, obj: dict[str, Any], human: str) -> None:
    if args.json:
        print(json.dumps(obj, indent=2, default=float))
    elif not args.quiet:
        print(human)


def _headline(m: dict[str, Any]) -> str:
    parts = [f"LEAR P {m.get('lear_precision', 0):.3f} R {m.get('lear_recall', 0):.3f} "
             f"F1 {m.get('lear_f1', 0):.3f} N+ {m.get('lear_n_plus', 0)}"]
    if "prior_lear_f1" in m:
        parts.append(f"(frequency prior F1 {m['prior_lear_f1']:.3f})")
    if "map_tags" in m:
        parts.append(f"mAP tags {m['map_tags']:.3f}")
    if m.get("zero_shot_words"):
        parts.append(f"zero-shot AUC {m['zero_shot_auc']:.3f} over {m['zero_shot_words']} words")
    return ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    """The command's work; TrainError propagates to ``main``."""
    _check_args(args)
    from .evaluate import evaluate_bundle

    log = (lambda s: None) if (args.quiet or args.json) else (lambda s: print(s, file=sys.stderr, flush=True))
    if args.evaluate:
        metrics = evaluate_bundle(args.evaluate, args.data, threads=args.threads)
        _print(args, metrics, _headline(metrics))
        return 0
    from .train import train

    result = train(args, log=log)
    if result.interrupted:
        return 130
    if not args.out:
        log(f"trained; checkpoint in {args.checkpoint} (no --out, so no bundle)")
        return 0
    from attalos_desktop.core.bundle import update_metrics

    from .export import export_bundle

    name = args.name or Path(args.out).name
    path, diff = export_bundle(result, args.out, name=name, description=args.description,
                               exporter=args.onnx_exporter, tower_dtype=args.tower_dtype)
    log(f"bundle written to {path} (ONNX parity max abs diff {diff:.2e})")
    metrics: dict[str, Any] = {}
    if result.setup.test_records:
        metrics = evaluate_bundle(path, args.data, threads=args.threads)
        update_metrics(path, {k: v for k, v in metrics.items() if k not in ("bundle", "split")})
        log("test split: " + _headline(metrics))
    _print(args, {"bundle": str(path), "onnx_parity_max_abs": diff, "training": result.summary, "metrics": metrics},
           f"done: {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except TrainError as exc:
        print(f"attalos-desktop-train: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("attalos-desktop-train: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
