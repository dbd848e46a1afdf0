"""The encoder's precision and input size, chosen by measurement: speed on this CPU against quality, one run.

    python bench/encoder_precision.py ../shared/data BUNDLE [--out bench/out/precision.json]

Variants of the bundle's encoder.onnx, each written into a copy of the bundle (checksums updated) and run
exactly as the app runs it (ONNX Runtime, CPU, the app's decoder):

- ``float16 weights`` (as shipped: weights stored in half precision, computed in float32);
- ``float32`` (the same weights widened: the file doubles, the arithmetic is the same);
- ``int8 QDQ`` (onnxruntime.quantization, static, per-channel: the convolutions and matrix products in
  8 bits, calibrated on 64 Corel train photos).

For each: file size, the latency of tagging one new photo (batch 1: decode excluded, median of 40),
batched throughput (batch 32), Corel-5k test LEAR F1 / N+ and the share of photos whose top-5 suggestions
hold a right word on 500 Tiny ImageNet test photos (class name or its WordNet general words). The
baseline is the shipped variant, measured in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from attalos_desktop.core.bundle import load_bundle  # noqa: E402
from attalos_desktop.core.imageio import decode_for_model  # noqa: E402
from model_report import corel_lear, top5_named, with_general_words  # noqa: E402
from trainer.data import read_labels  # noqa: E402
from trainer.evaluate import embed_photos  # noqa: E402


def rewrite(bundle: Path, out: Path, make: Callable[[Path, Path], None]) -> Path:
    """A copy of ``bundle`` whose encoder ``make(src, dst)`` wrote; the manifest's checksum follows."""
    shutil.copytree(bundle, out)
    make(bundle / "encoder.onnx", out / "encoder.onnx")
    m = json.loads((out / "manifest.json").read_text())
    data = (out / "encoder.onnx").read_bytes()
    m["files"]["encoder.onnx"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (out / "manifest.json").write_text(json.dumps(m, indent=2))
    return out


def widen(src: Path, dst: Path) -> None:
    """float16-stored weights back to float32 initialisers (the Casts become identities ORT folds)."""
    import onnx
    from onnx import TensorProto, numpy_helper

    m = onnx.load(str(src))
    for init in m.graph.initializer:
        if init.data_type == TensorProto.FLOAT16:
            init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), init.name))
    for node in m.graph.node:
        if node.op_type == "Cast" and node.name.endswith("__cast"):
            node.op_type = "Identity"
            del node.attribute[:]
    onnx.save(m, str(dst))


def int8(calibration: list[np.ndarray]) -> Callable[[Path, Path], None]:
    def make(src: Path, dst: Path) -> None:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

        tmp = Path(tempfile.mkdtemp())
        widen(src, tmp / "f32.onnx")

        class Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self.it = iter([{"images": x[None]} for x in calibration])

            def get_next(self) -> Any:
                return next(self.it, None)

        quantize_static(
            str(tmp / "f32.onnx"),
            str(dst),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            op_types_to_quantize=["Conv"],
        )
        shutil.rmtree(tmp, ignore_errors=True)

    return make


def speed(bundle: Path, sample: np.ndarray, threads: int) -> dict[str, float]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    s = ort.InferenceSession(str(bundle / "encoder.onnx"), opts, providers=["CPUExecutionProvider"])
    one = sample[:1]
    for _ in range(5):
        s.run(None, {"images": one})
    lat = []
    for _ in range(40):
        t = time.perf_counter()
        s.run(None, {"images": one})
        lat.append(time.perf_counter() - t)
    batch = np.concatenate([sample] * (32 // len(sample) + 1))[:32]
    s.run(None, {"images": batch})
    t = time.perf_counter()
    for _ in range(3):
        s.run(None, {"images": batch})
    return {"latency_ms_p50": 1000 * float(np.median(lat)), "photos_per_s_batch32": 96 / (time.perf_counter() - t)}


def quality(bundle: Path, data: Path, threads: int) -> dict[str, float]:
    b = load_bundle(bundle)
    corel = [r for r in read_labels(data / "corel5k") if r.split == "test" and r.tags]
    emb, used, _ = embed_photos(b, data / "corel5k", corel, threads=threads)
    le = corel_lear(b, emb, used, sorted({t for r in read_labels(data / "corel5k") for t in r.tags}))
    tiny = [r for r in read_labels(data / "tiny-imagenet-200") if r.split == "test" and r.tags][::4]
    t_emb, t_used, _ = embed_photos(b, data / "tiny-imagenet-200", tiny, threads=threads)
    named = top5_named(b, t_emb, [set(r.tags) for r in with_general_words(t_used, data)])
    return {"corel_f1": le["f1"], "corel_n_plus": le["n_plus"], "tiny_top5_named": named}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("bundle", type=Path)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "precision.json")
    args = ap.parse_args()
    b = load_bundle(args.bundle)
    train = [r for r in read_labels(args.data / "corel5k") if r.split == "train"][:64]
    calib = [decode_for_model(args.data / "corel5k" / r.file, b.preprocessing).tensor for r in train]
    sample = np.stack(calib[:8])
    work = Path(tempfile.mkdtemp(prefix="precision-"))
    variants = {
        "float16 weights (shipped)": args.bundle,
        "float32": rewrite(args.bundle, work / "f32", widen),
        "int8 QDQ": rewrite(args.bundle, work / "int8", int8(calib)),
    }
    out: dict[str, Any] = {"bundle": b.name, "input_size": b.preprocessing.input_size, "variants": {}}
    for name, path in variants.items():
        r = {"encoder_bytes": (path / "encoder.onnx").stat().st_size, **speed(path, sample, args.threads)}
        r.update(quality(path, args.data, args.threads))
        out["variants"][name] = r
        print(
            f"{name:28s} {r['encoder_bytes'] / 1e6:6.1f} MB  one photo {r['latency_ms_p50']:6.1f} ms  "
            f"batch {r['photos_per_s_batch32']:6.1f} photos/s  Corel F1 {r['corel_f1']:.3f} N+ {r['corel_n_plus']}  "
            f"Tiny top-5 named {r['tiny_top5_named']:.3f}",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
