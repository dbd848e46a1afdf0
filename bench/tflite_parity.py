"""The TFLite MobileNetV2 import checked against the TFLite interpreter (issue 19, item 1).

    .venv/bin/python bench/tflite_parity.py [--data ../shared/data/tiny-imagenet-200] [--weights ../shared/weights]
                                            [--per-class N] [--files a.tflite,b.tflite]

For each ``.tflite`` file: ``trainer.tflite_import`` converts it to a float torchvision network, and the
``ai-edge-litert`` interpreter runs the file as it is (8-bit arithmetic). On Tiny ImageNet's test photos
(64x64, resized to 224 bilinear) whose class is one of ILSVRC's 1000, it reports the top-1 accuracy of
both, how often their top-1 agree, and the cosine between their pooled 1280-d features (the interpreter's
average-pool tensor, dequantised). The float network gets the interpreter's own input, dequantised with
the file's input scale and zero point; ``top1_converted_mean_std`` is the same network fed with
``TFLITE_MEAN``/``TFLITE_STD`` (x/127.5 - 1), as the trainer feeds it. Prints a table; writes
bench/out/tflite_parity.json. tests/trainer/test_tflite_import.py runs the same comparison on a few photos.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.data import read_labels  # noqa: E402
from trainer.hypernyms import wnid_of  # noqa: E402
from trainer.tflite_import import (  # noqa: E402
    TFLITE_MEAN,
    TFLITE_STD,
    ImagenetClass,
    convert_tflite_mobilenet_v2,
    imagenet_classes,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"
FILES = ("mobilenet_v2_1.0_224_quant.tflite", "tf2_mobilenet_v2_1.0_224_ptq.tflite")


def labelled_photos(
    data_dir: str | Path,
    classes: Sequence[ImagenetClass],
    *,
    split: str = "test",
    per_class: int | None = None,
    size: int = 224,
) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [N,size,size,3] resized bilinear, ILSVRC class indices [N]) of a folder with labels.jsonl.

    A photo's class is the WordNet id in its file name or, for files without one (Tiny ImageNet's
    ``val_123.jpg``), the id of other photos with the same first tag. Photos of other classes are left out;
    ``per_class`` keeps the first N of each class in file order.
    """
    data_dir = Path(data_dir)
    records = read_labels(data_dir)
    tag_wnid = {r.tags[0]: w for r in records if r.tags and (w := wnid_of(r.file))}
    by_wnid = {c.wnid: c.index for c in classes}
    images, labels, seen = [], [], {}
    for r in records:
        if r.split != split or not r.tags:
            continue
        cls = by_wnid.get(wnid_of(r.file) or tag_wnid.get(r.tags[0], ""))
        if cls is None or (per_class is not None and seen.get(cls, 0) >= per_class):
            continue
        seen[cls] = seen.get(cls, 0) + 1
        with Image.open(data_dir / r.file) as im:
            images.append(np.asarray(im.convert("RGB").resize((size, size), Image.BILINEAR)))
        labels.append(cls)
    return np.stack(images), np.array(labels, np.int64)


def compare(
    path: str | Path, images: np.ndarray, labels: np.ndarray, *, batch: int = 32, mean_std: bool = True
) -> dict[str, Any]:
    """Interpreter vs converted network on ``images`` (uint8 NHWC): accuracies, agreement, feature cosines.

    ``mean_std``: also the accuracy with TFLITE_MEAN/STD inputs (one more pass of the float network).
    """
    from ai_edge_litert.interpreter import Interpreter

    t0 = time.perf_counter()
    conv = convert_tflite_mobilenet_v2(path)
    t_convert = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "preserve_all_tensors is for debugging": that is what it is for here
        it = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True, num_threads=2)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    details = {d["index"]: d for d in it.get_tensor_details()}
    p_scale, p_zero = details[conv.pooled_tensor]["quantization"]
    ref_feats, ref_top = [], []
    t0 = time.perf_counter()
    for img in images:
        it.set_tensor(inp["index"], img[None].astype(inp["dtype"]))
        it.invoke()
        probs = it.get_tensor(out["index"])[0].astype(np.int64)
        ref_top.append(int(np.argmax(probs[1:] if probs.size == 1001 else probs)))
        pooled = it.get_tensor(conv.pooled_tensor).reshape(-1).astype(np.float32)
        ref_feats.append((pooled - p_zero) * p_scale if p_scale else pooled)
    t_interp = time.perf_counter() - t0
    model = conv.model
    feats, top, top_ms = [], [], []
    mean = torch.tensor(TFLITE_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(TFLITE_STD).view(1, 3, 1, 1)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i : i + batch]).permute(0, 3, 1, 2).float()
            f = model.features((x - conv.input_zero_point) * conv.input_scale).mean((2, 3))
            feats.append(f.numpy())
            top.append(model.classifier(f).argmax(1).numpy())
    t_torch = time.perf_counter() - t0
    with torch.inference_mode():
        for i in range(0, len(images), batch) if mean_std else ():
            x = torch.from_numpy(images[i : i + batch]).permute(0, 3, 1, 2).float()
            top_ms.append(model((x / 255 - mean) / std).argmax(1).numpy())
    a, b = np.stack(ref_feats), np.concatenate(feats)
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    ref_top_a, top_a = np.array(ref_top), np.concatenate(top)
    top_ms_a = np.concatenate(top_ms) if top_ms else np.full_like(labels, -1)
    return {
        "file": Path(path).name,
        "photos": int(len(images)),
        "top1_interpreter": float((ref_top_a == labels).mean()),
        "top1_converted": float((top_a == labels).mean()),
        "top1_converted_mean_std": float((top_ms_a == labels).mean()) if mean_std else float("nan"),
        "top1_agreement": float((ref_top_a == top_a).mean()),
        "feature_cosine_mean": float(cos.mean()),
        "feature_cosine_min": float(cos.min()),
        "seconds_convert": round(t_convert, 3),
        "seconds_interpreter": round(t_interp, 2),
        "seconds_converted": round(t_torch, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=str(SHARED / "data" / "tiny-imagenet-200"))
    ap.add_argument("--weights", default=str(SHARED / "weights"))
    ap.add_argument("--per-class", type=int, default=None, help="photos per class (default: all)")
    ap.add_argument("--files", default=",".join(FILES), help="comma-separated .tflite names in --weights")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "out" / "tflite_parity.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    weights = Path(args.weights)
    t0 = time.perf_counter()
    classes = imagenet_classes(weights / "imagenet_labels.txt")
    t_classes = time.perf_counter() - t0
    t0 = time.perf_counter()
    images, labels = labelled_photos(args.data, classes, per_class=args.per_class)
    print(
        f"{len(images)} photos of {len(set(labels.tolist()))} ILSVRC classes from {args.data} "
        f"({time.perf_counter() - t0:.1f} s to load; WordNet classes {t_classes:.2f} s)"
    )
    rows = [compare(weights / name, images, labels) for name in args.files.split(",") if name]
    head = ("file", "top1_interpreter", "top1_converted", "top1_converted_mean_std", "top1_agreement")
    head += ("feature_cosine_mean", "feature_cosine_min", "seconds_interpreter", "seconds_converted")
    print(" | ".join(head))
    for r in rows:
        print(" | ".join(f"{r[k]:.4f}" if isinstance(r[k], float) else str(r[k]) for k in head))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"photos": len(images), "data": args.data, "results": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
