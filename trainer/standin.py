"""Build the stand-in default model: ``python -m trainer.standin``.

Until a model trained on real photos ships, the app's default bundle is this synthetic
stand-in: the project's own trainer, run on generated photos of coloured shapes on textured
backgrounds (``attalos_desktop.synthetic``). It knows 8 colours, 6 shapes and 6 backgrounds, nothing
else; its manifest says so. It is small (MobileNetV3-small at 64 px, a few thousand extra words
in fp16) so the app indexes fast on a CPU and the repository stays light. The defaults are those of
the committed bundle (5,000 photos, 14 epochs: about 10 CPU-minutes). Shapes are its weak point: a
small CNN trained from scratch needs many distinct photos to learn them (``--images`` larger helps).

Writes ``resources/models/synthetic-shapes-v1/`` and, unless DEFAULT already names another installed
bundle (a model trained on real photos), ``resources/models/DEFAULT``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from attalos_desktop.synthetic import make_dataset, render_photo

NAME = "synthetic-shapes-v1"
DESCRIPTION = (
    "Synthetic stand-in model: trained only on generated photos of coloured shapes on textured "
    "backgrounds (8 colours, 6 shapes, 6 backgrounds). It does not know real-world photo content; "
    "replace it with a model trained on real photos."
)
MODELS_DIR = Path(__file__).resolve().parents[1] / "resources" / "models"


def search_check(bundle_dir: Path, n_per_kind: int = 6, seed: int = 7) -> dict[str, Any]:
    """Render photos of known content and check that text queries rank the matching photos first.

    For each query "<colour> <shape>" among a gallery of single-object photos, the precision of the
    top ``n_per_kind`` results (photos showing exactly that coloured shape) is measured.
    """
    import onnxruntime as ort

    from attalos_desktop.core.bundle import load_bundle
    from attalos_desktop.core.text_encoder import TextEncoder

    from .augment import crop_tensor

    bundle = load_bundle(bundle_dir)
    sess = ort.InferenceSession(str(bundle.encoder_path), providers=["CPUExecutionProvider"])
    rng = random.Random(seed)
    kinds = [(c, s) for c in ("red", "blue", "yellow", "green") for s in ("circle", "square", "triangle")]
    images, labels = [], []
    for c, s in kinds:
        for _ in range(n_per_kind):
            img, _tags = render_photo(rng, size=(160, 120), spec={"objects": [(c, s)]})
            images.append(crop_tensor(img, bundle.preprocessing))
            labels.append((c, s))
    emb = sess.run(["embeddings"], {"images": np.stack(images)})[0]
    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    enc = TextEncoder(bundle)
    precisions = {}
    for c, s in kinds:
        q = enc.encode(f"{c} {s}")
        assert q is not None
        top = np.argsort(-(emb @ q))[:n_per_kind]
        precisions[f"{c} {s}"] = float(np.mean([labels[i] == (c, s) for i in top]))
    return {
        "search_precision_at_%d" % n_per_kind: float(np.mean(list(precisions.values()))),
        "search_check_queries": precisions,
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m trainer.standin",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--out", default=str(MODELS_DIR / NAME), help="bundle folder to write")
    p.add_argument("--images", type=int, default=5000, help="synthetic photos to generate (80%% train)")
    p.add_argument("--epochs", type=int, default=14, help="training epochs")
    p.add_argument("--image-size", type=int, default=64, help="encoder input side")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--seed", type=int, default=0, help="seed of data and training")
    p.add_argument("--workdir", help="where to put the generated photos (default: a temporary folder)")
    p.add_argument("--no-default", action="store_true", help="do not point resources/models/DEFAULT at it")
    p.add_argument(
        "--force-default",
        action="store_true",
        help="point DEFAULT at the stand-in even when it names another installed bundle",
    )
    args = p.parse_args(argv)

    from .cli import run
    from .cli import parse_args as train_args

    with tempfile.TemporaryDirectory(prefix="attalos-standin-") as tmp:
        data = Path(args.workdir or tmp) / "synthetic-shapes"
        print(f"generating {args.images} synthetic photos in {data}", file=sys.stderr, flush=True)
        make_dataset(data, args.images, seed=args.seed, size=(160, 120), test_fraction=0.2)
        out = Path(args.out)
        targs = train_args(
            [
                "--data",
                str(data),
                "--out",
                str(out),
                "--name",
                NAME,
                "--description",
                DESCRIPTION,
                "--checkpoint",
                str(Path(args.workdir or tmp) / "standin.ckpt.pt"),
                "--backbone",
                "mobilenet_v3_small",
                "--image-size",
                str(args.image_size),
                "--epochs",
                str(args.epochs),
                "--batch-size",
                "32",
                "--lr",
                "5e-3",
                "--positives",
                "4",
                "--negatives",
                "10",
                "--extra-words",
                "3000",
                "--ngram-buckets",
                "4096",
                "--tower-dtype",
                "float16",
                "--workers",
                "0",
                "--threads",
                str(args.threads),
                "--seed",
                str(args.seed),
            ]
        )
        code = run(targs)
        if code != 0:
            return code
    from attalos_desktop.core.bundle import update_metrics

    check = search_check(out)
    update_metrics(out, check)
    print(json.dumps(check, indent=2), file=sys.stderr)
    marker = out.parent / "DEFAULT"
    current = marker.read_text(encoding="utf-8").strip() if marker.is_file() else ""
    if args.no_default:
        pass
    elif (
        current
        and current != out.name
        and (out.parent / current / "manifest.json").is_file()
        and not args.force_default
    ):
        print(
            f"{marker} names {current}, a real model: left as is (use --force-default to replace it)", file=sys.stderr
        )
    else:
        marker.write_text(out.name + "\n", encoding="utf-8")
    out.chmod(0o755)  # write_bundle's temporary folder is private; a shipped model is world-readable
    size = sum(f.stat().st_size for f in out.iterdir())
    print(f"stand-in bundle {out} ({size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
