"""``attalos-desktop-train``: train a joint image-tag embedding and export a model bundle.

    attalos-desktop-train --data DIR --out BUNDLE_DIR [options]   # train, export, evaluate
    attalos-desktop-train --data A --data B:0.5 --out BUNDLE_DIR   # several corpora, one vocabulary
    attalos-desktop-train --recipe trainer/recipes/attalos-photo.toml --data-root DATA --out B  # the default model
    attalos-desktop-train --data DIR --evaluate BUNDLE_DIR --json  # metrics of a bundle
    attalos-desktop-train --library [LIBRARY] [--out BUNDLE_DIR]   # fine-tune on the user's own tags
    torchrun --nproc_per_node N -m trainer.cli --data DIR --out BUNDLE_DIR   # N processes (distributed.py)

Problems with the input end the command with exit status 2 and a one-line reason.
"""

from __future__ import annotations

import argparse
import json
import signal
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
    g.add_argument(
        "--data",
        metavar="DIR[:WEIGHT]",
        action="append",
        help="dataset folder with images and labels.jsonl, or a folder of tar shards with vocab.json "
        "(python -m trainer.shards); not with --library. Repeat for several corpora in one "
        "vocabulary: each gives WEIGHT x --batch-size photos to every step and its loss counts "
        "WEIGHT times (default 1); they are decoded once into memory",
    )
    g.add_argument(
        "--recipe",
        metavar="FILE",
        help="a TOML recipe (trainer/recipes/): its [train] settings are the defaults of every flag, "
        "its [[data]] tables the corpora (paths under --data-root), its [export] the export stages",
    )
    g.add_argument("--data-root", metavar="DIR", help="folder the recipe's corpus paths are relative to")
    g.add_argument("--out", metavar="BUNDLE_DIR", help="where to write the model bundle")
    g.add_argument("--name", help="model name in the manifest (default: the --out folder name)")
    g.add_argument("--description", default="", help="free text stored in the manifest")
    g.add_argument(
        "--evaluate",
        metavar="BUNDLE_DIR",
        help="do not train: evaluate this bundle on the test split (ONNX Runtime, as the app does)",
    )
    g.add_argument("--json", action="store_true", help="print results as JSON")
    g.add_argument("--min-count", type=int, default=1, help="keep train tags seen at least this often")
    g.add_argument(
        "--search-words",
        metavar="DIR",
        action="append",
        help="a labels.jsonl folder whose tags ship as search words only (repeatable)",
    )
    g.add_argument(
        "--label-transfer",
        metavar="CORPUS",
        default="",
        help="export stage: deploy with TagProp/2PKNN label transfer over this corpus's train photos "
        "(its name among the --data corpora; transfer_stage.py)",
    )
    g.add_argument(
        "--preview-min-side",
        type=int,
        default=0,
        metavar="PX",
        help="label-transfer export stage: the app may take a camera JPEG's embedded EXIF preview for the photo "
        "when its shorter side is at least PX (0: the input size); 120 takes the usual 160x120 previews, for "
        "models trained on resampled views (--trunk-features with augmented views)",
    )
    g.add_argument(
        "--test-time-flip",
        default="on",
        choices=("on", "off"),
        help="label-transfer export stage: average each photo's embedding with its mirror image's (on: a little "
        "more accurate; off: the encoder runs the trunk once, twice as fast)",
    )
    g.add_argument(
        "--hypernym-up",
        type=int,
        default=-1,
        metavar="N",
        help="WordNet depth of the corpora that add general words (a recipe's hypernyms.up; 0: none; "
        "-1: as the recipe says)",
    )
    g.add_argument(
        "--cache",
        default="",
        help="folder where corpora decoded into memory are cached between runs (never inside the repo)",
    )
    g = p.add_argument_group("fine-tuning on a library's own tags (--library)")
    g.add_argument(
        "--library",
        nargs="?",
        const="",
        metavar="LIBRARY",
        help="fine-tune the library's current bundle (--init BUNDLE_DIR: another one) on the photos the "
        "user tagged; without a value: $ATTALOS_HOME, else the app's library in the user data dir. "
        "The bundle goes to LIBRARY/models/<base>-personal-<UTC time> unless --out is given",
    )
    g.add_argument(
        "--fine-tune",
        default="head",
        choices=("head", "tower"),
        help="head: train the user's words' tag vectors on the stored embeddings (any bundle, no "
        "re-embedding); tower: also train the image encoder (not available yet: says so, exit 2)",
    )
    g.add_argument(
        "--hold-out",
        type=float,
        default=0.25,
        help="share of each word's photos held out, by photo, to evaluate base, instant and fine-tuned",
    )
    g.add_argument("--min-photos", type=int, default=2, help="a user word is trained when it is on this many photos")
    g.add_argument(
        "--background",
        type=int,
        default=1000,
        help="untagged library photos sampled as background negatives for every user word",
    )
    g.add_argument(
        "--background-share",
        type=float,
        default=0.5,
        help="weight of all background photos together, relative to the tagged training photos",
    )
    g.add_argument(
        "--prior",
        type=float,
        default=0.01,
        help="head mode: L2 pull of each word toward its start vector, in photos' worth",
    )
    g.add_argument(
        "--progress-json",
        action="store_true",
        help="one JSON object per line on stdout: start, progress (phase, done, total), done",
    )
    g = p.add_argument_group("model")
    g.add_argument(
        "--backbone",
        default=None,
        help="torchvision trunk (default: that of an --init BUNDLE_DIR, else mobilenet_v3_small): mobilenet_v2, "
        "mobilenet_v3_small, mobilenet_v3_large, resnet18, resnet34, resnet50, "
        "efficientnet_b0, efficientnet_b1, convnext_tiny, regnet_y_400mf",
    )
    g.add_argument("--image-size", type=int, default=160, help="square input side in pixels")
    g.add_argument(
        "--trunk-features",
        type=int,
        default=0,
        metavar="VIEWS",
        help="keep the (pretrained) trunk fixed and train the projection and tag layer on its pooled features, "
        "computed once per photo for VIEWS views (view 0 as the app decodes it, the rest augmented) and "
        "cached under --cache (default ~/.cache/attalos-desktop/features); 0: train the whole tower on pixels",
    )
    g.add_argument(
        "--teacher",
        default="none",
        choices=("none", "imagenet"),
        help="imagenet: the ImageNet classifier of --init imagenet:FILE teaches its 1000 class words and their "
        "WordNet general words (soft labels; needs --trunk-features)",
    )
    g.add_argument(
        "--teacher-weight", type=float, default=0.02, help="weight of the teacher's loss (summed over its words)"
    )
    g.add_argument(
        "--teacher-up", type=int, default=4, help="WordNet levels above each ImageNet class that give general words"
    )
    g.add_argument(
        "--general-min-photos",
        type=int,
        default=0,
        metavar="N",
        help="a WordNet general word joins the vocabulary only if people put it on at least N photos of the "
        "--search-words tag sets (0: no such condition): 'container' and 'dog', not 'device' or 'covering'",
    )
    g.add_argument(
        "--general-exclude",
        action="append",
        default=[],
        metavar="WORD",
        help="a WordNet general word never given to photos (repeatable): WordNet also files every wheeled "
        "vehicle under 'container'",
    )
    g.add_argument("--dim", type=int, default=0, help="joint space dimension (0: that of the word vectors)")
    g.add_argument(
        "--init",
        default="random",
        help="tower start: random, imagenet (torchvision's cache), imagenet:PATH (a local state dict; for "
        "--backbone mobilenet_v2 an ImageNet MobileNetV2 .tflite or its conversion by python -m "
        "trainer.tflite_import), or a BUNDLE_DIR to continue from",
    )
    g.add_argument(
        "--tag-layer",
        default="optimised",
        choices=("optimised", "optimized", "frozen"),
        help="learn the tag vectors, or keep them at their word vectors",
    )
    g.add_argument(
        "--tag-optimizer",
        default="rowwise-adagrad",
        choices=("rowwise-adagrad", "sgd", "adam"),
        help="sparse optimiser of the CPU tag table",
    )
    g.add_argument("--tag-lr", type=float, default=0.05, help="learning rate of the tag table")
    g = p.add_argument_group("words")
    g.add_argument(
        "--word-vectors",
        default="wordllama",
        help="'wordllama' (offline, from the installed wheel) or a GloVe .txt, word2vec .bin, or fastText .vec file",
    )
    g.add_argument(
        "--extra-words",
        type=int,
        default=5000,
        help="everyday words shipped with their vectors for searching untrained words",
    )
    g.add_argument("--ngram-buckets", type=int, default=8192, help="sub-word hash buckets for words without a vector")
    g.add_argument("--ngram-min", type=int, default=3, help="shortest character n-gram")
    g.add_argument("--ngram-max", type=int, default=5, help="longest character n-gram")
    g = p.add_argument_group("loss and sampling")
    g.add_argument(
        "--loss",
        default="negative-sampling",
        choices=("negative-sampling", "softmax"),
        help="negative-sampling: Im2Vec's (the method); softmax: over every tag of the corpus's scope "
        "(the alternative the model card's ablation measures it against)",
    )
    g.add_argument("--positives", type=int, default=2, help="positive tags drawn per photo and step")
    g.add_argument("--negatives", type=int, default=10, help="negative tags (K) per photo and step")
    g.add_argument("--neg-power", type=float, default=0.75, help="negatives follow tag frequency ** this power")
    g.add_argument(
        "--neg-strategy",
        default="presampled",
        choices=NEG_STRATEGIES,
        help="next-image: the next photo's labels; presampled: a pool drawn once per epoch",
    )
    g = p.add_argument_group("optimisation")
    g.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="passes over the train split (default 10; --library head mode: at most 100 L-BFGS steps)",
    )
    g.add_argument("--max-steps", type=int, default=0, help="stop after this many steps in all (0: no limit)")
    g.add_argument(
        "--batch-size",
        type=int,
        default=64,
        help="photos per step, over all processes under torchrun (each takes an equal share)",
    )
    g.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate of the tower (cosine schedule)")
    g.add_argument("--beta2", type=float, default=0.999, help="AdamW's second-moment decay (tower and adam tag table)")
    g.add_argument("--warmup-steps", type=int, default=0, help="linear warm-up (0: a tenth of the steps, at most 100)")
    g.add_argument("--lr-floor", type=float, default=0.05, help="the cosine ends at this fraction of --lr")
    g.add_argument(
        "--restart-epochs",
        type=int,
        default=0,
        help="the last N of --epochs run a second cosine cycle peaking at 0.3x --lr (SGDR)",
    )
    g.add_argument(
        "--progressive",
        default="",
        help="in-memory corpora: FRACTION:PIXELS,... of the first cycle at smaller inputs, e.g. 0.35:64,0.7:80",
    )
    g.add_argument("--min-scale", type=float, default=0.3, help="in-memory corpora: smallest random-crop area")
    g.add_argument("--jitter", type=float, default=0.3, help="in-memory corpora: brightness/contrast/saturation jitter")
    g.add_argument("--weight-decay", type=float, default=1e-4, help="AdamW weight decay of the tower")
    g.add_argument(
        "--augment",
        default="crop",
        choices=("crop", "flip", "none"),
        help="training augmentation: jittered crop + flip, flip only, or none",
    )
    g.add_argument("--workers", type=int, default=2, help="photo-decoding worker processes (0: in the main process)")
    g.add_argument("--device", default="auto", help="auto, cpu or cuda (CUDA: bf16 autocast, channels_last)")
    g.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    g.add_argument("--seed", type=int, default=0, help="seed of every random choice (runs repeat on CPU)")
    g = p.add_argument_group("checkpoints and export")
    g.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="checkpoint written every epoch and on Ctrl-C (default: BUNDLE_DIR.ckpt.pt beside --out)",
    )
    g.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    g.add_argument(
        "--onnx-exporter",
        default="auto",
        choices=("auto", "legacy", "dynamo"),
        help="torch.onnx exporter (auto: TorchScript exporter, dynamo as fallback)",
    )
    g.add_argument(
        "--tower-dtype",
        default="float32",
        choices=("float32", "float16"),
        help="precision of the tower weights kept in the bundle for --init BUNDLE_DIR",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    args = p.parse_args(argv)
    if args.recipe:
        from .recipe import apply_recipe

        args = apply_recipe(p, args, argv)
    _resolve_data(args)
    if args.backbone is None:  # an init bundle's own backbone, else the small default
        args.backbone = _bundle_backbone(args.init) or "mobilenet_v3_small"
    if args.epochs is None and not (args.library is not None and args.fine_tune == "head"):
        args.epochs = 10
    if args.tag_layer == "optimized":
        args.tag_layer = "optimised"
    if args.checkpoint is None and args.out:
        out = Path(args.out)
        args.checkpoint = str(out.with_name(out.name + ".ckpt.pt"))
    return args


def _bundle_backbone(init: str) -> str | None:
    """The backbone a bundle given to --init was trained with (None for any other --init)."""
    try:
        manifest = json.loads((Path(init) / "manifest.json").read_text(encoding="utf-8"))
        backbone = manifest.get("training", {}).get("backbone")
    except (OSError, ValueError, AttributeError):
        return None
    return backbone if isinstance(backbone, str) else None


def _resolve_data(args: argparse.Namespace) -> None:
    """``--data`` given once stays a folder path (file or shard loading); several become corpora in memory."""
    from .corpora import parse_data_arg

    given = args.data or []
    if not getattr(args, "corpora", None):
        args.corpora = None
        # A fixed trunk trains from features of photos in memory: one corpus is enough for that.
        if len(given) > 1 or any(parse_data_arg(d).weight != 1.0 for d in given) or (given and args.trunk_features):
            root = Path(args.data_root) if args.data_root else None
            args.corpora = [parse_data_arg(d, root) for d in given]
    args.data = str(args.corpora[0].path) if args.corpora else (given[0] if given else None)
    if args.hypernym_up >= 0:
        for spec in args.corpora or []:
            if spec.hypernyms:
                spec.hypernyms = {**spec.hypernyms, "up": args.hypernym_up}


def _check_library_args(args: argparse.Namespace) -> None:
    if args.data is not None:
        raise TrainError("give either --data DIR (a dataset) or --library (the user's tagged photos), not both")
    if args.evaluate is not None or args.resume:
        raise TrainError("--evaluate and --resume work with --data, not with --library")
    if not 0.0 <= args.hold_out < 1.0:
        raise TrainError(f"--hold-out must lie in [0, 1), not {args.hold_out}")
    for flag, value, low in (
        ("--min-photos", args.min_photos, 2),
        ("--background", args.background, 0),
        ("--negatives", args.negatives, 1),
        ("--epochs", args.epochs or 1, 1),
    ):
        if value < low:
            raise TrainError(f"{flag} must be at least {low}, not {value}")
    if args.prior < 0 or args.background_share < 0:
        raise TrainError("--prior and --background-share cannot be negative")


def _check_args(args: argparse.Namespace) -> None:
    from .model import BACKBONES

    if args.data is None:
        raise TrainError("give --data DIR (a dataset folder with labels.jsonl) or --library [LIBRARY]")
    if args.backbone not in BACKBONES:
        raise TrainError(f"unknown backbone {args.backbone!r}; choose one of {', '.join(BACKBONES)}")
    if args.evaluate is None and not args.out and not args.checkpoint:
        raise TrainError("nothing to write: give --out BUNDLE_DIR (or --checkpoint FILE), or --evaluate BUNDLE_DIR")
    names = [c.name for c in args.corpora or []]
    if args.label_transfer and args.evaluate is None and args.label_transfer not in names:
        # checked before training, not after hours of it
        raise TrainError(
            f"--label-transfer {args.label_transfer}: not one of the corpora "
            f"({', '.join(names) or 'none: give several --data or a recipe'})"
        )
    for flag, value, low in (
        ("--epochs", args.epochs, 1),
        ("--batch-size", args.batch_size, 1),
        ("--positives", args.positives, 1),
        ("--negatives", args.negatives, 1),
        ("--min-count", args.min_count, 1),
        ("--image-size", args.image_size, 16),
        ("--ngram-buckets", args.ngram_buckets, 1),
        ("--workers", args.workers, 0),
        ("--dim", args.dim, 0),
        ("--extra-words", args.extra_words, 0),
        ("--trunk-features", args.trunk_features, 0),
        ("--preview-min-side", args.preview_min_side, 0),
        ("--general-min-photos", args.general_min_photos, 0),
    ):
        if value < low:
            raise TrainError(f"{flag} must be at least {low}, not {value}")
    if args.preview_min_side > args.image_size:  # checked before training: the app would refuse the bundle
        raise TrainError(f"--preview-min-side {args.preview_min_side} is larger than --image-size {args.image_size}")
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
    parts = [
        f"LEAR P {m.get('lear_precision', 0):.3f} R {m.get('lear_recall', 0):.3f} "
        f"F1 {m.get('lear_f1', 0):.3f} N+ {m.get('lear_n_plus', 0)}"
    ]
    if "prior_lear_f1" in m:
        parts.append(f"(frequency prior F1 {m['prior_lear_f1']:.3f})")
    if "map_tags" in m:
        parts.append(f"mAP tags {m['map_tags']:.3f}")
    if m.get("zero_shot_words"):
        parts.append(f"zero-shot AUC {m['zero_shot_auc']:.3f} over {m['zero_shot_words']} words")
    return ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    """The command's work; TrainError propagates to ``main``."""
    if args.library is not None:
        _check_library_args(args)
        from .finetune import run_library

        return run_library(args)
    _check_args(args)
    from .evaluate import evaluate_bundle

    log = (lambda s: None) if (args.quiet or args.json) else (lambda s: print(s, file=sys.stderr, flush=True))
    if args.evaluate:
        from .evaluate import words_headline

        # --data may be a corpus the bundle was not trained on: its test words the bundle lacks score zero-shot.
        metrics = evaluate_bundle(args.evaluate, args.data, threads=args.threads)
        _print(
            args,
            metrics,
            "\n".join(["bundle tags: " + _headline(metrics), words_headline(metrics), metrics["words_summary"]]),
        )
        return 0
    from .train import train

    result = train(args, log=log)
    if result.interrupted:
        return 130
    if not result.main_process:  # under torchrun only rank 0 exports and evaluates
        return 0
    if not args.out:
        log(f"trained; checkpoint in {args.checkpoint} (no --out, so no bundle)")
        return 0
    from attalos_desktop.core.bundle import update_metrics

    from .export import export_bundle

    name = args.name or Path(args.out).name
    if args.label_transfer:
        from .transfer_stage import export_with_label_transfer

        path, diff = export_with_label_transfer(result, args.out, name=name, description=args.description, log=log)
    else:
        path, diff = export_bundle(
            result,
            args.out,
            name=name,
            description=args.description,
            exporter=args.onnx_exporter,
            tower_dtype=args.tower_dtype,
        )
    log(f"bundle written to {path} (ONNX parity max abs diff {diff:.2e})")
    metrics: dict[str, Any] = {}
    if result.setup.test_records:
        metrics = evaluate_bundle(path, args.data, threads=args.threads)
        update_metrics(path, {k: v for k, v in metrics.items() if k not in ("bundle", "split")})
        log("test split: " + _headline(metrics))
    _print(
        args,
        {"bundle": str(path), "onnx_parity_max_abs": diff, "training": result.summary, "metrics": metrics},
        f"done: {path}",
    )
    return 0


def _sigterm_as_sigint(signum: int, frame: Any) -> None:
    """SIGTERM (the app's Cancel) stops the run exactly as Ctrl-C does."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except TrainError as exc:  # a bad recipe or --data
        print(f"attalos-desktop-train: error: {exc}", file=sys.stderr)
        return 2
    old_term = None
    if args.library is not None:
        try:
            old_term = signal.signal(signal.SIGTERM, _sigterm_as_sigint)
        except ValueError:  # not the main thread
            old_term = None
    try:
        return run(args)
    except TrainError as exc:
        print(f"attalos-desktop-train: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("attalos-desktop-train: interrupted", file=sys.stderr)
        return 130
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


if __name__ == "__main__":
    sys.exit(main())
