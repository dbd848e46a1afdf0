"""Does indexing from the embedded EXIF preview change the app's tags? Corel-5k test photos, both ways.

Each Corel-5k test photo (384x256 or 256x384) is upscaled to about 12 MP and saved as a camera would
save it: a JPEG (quality 90) with a 160x120 EXIF preview (black bars around a 3:2 picture, as cameras
write a 3:2 photo's 4:3 preview), portrait photos stored on their side with EXIF orientation 6. Then
the app's decoder makes the model input from the preview (what indexing now does) and from the
photo's own pixels (draft decoding, previews off), the model embeds both, and the app's tag scores
(sigmoid of the tag vectors . embedding, core/encoder.py) are compared:

- agreement: the app's top-5 tags from the preview vs from the photo (mean overlap of the two sets,
  top-1 equal), and the cosine of the two embeddings;
- quality: the LEAR protocol (5 tags a photo; per-word P, R, F1, N+) against the Corel labels, both
  ways, beside the original 384x256 files decoded directly (the model card's figure), with per-photo
  precision/recall at 5, and a paired bootstrap over the photos (1,000 resamples) of the LEAR F1
  difference. LEAR F1 moves by a few thousandths on float-rounding differences alone (rare words have one
  or two test photos), so the interval, not the point difference, says whether quality dropped.

The large files are made in a temporary folder one at a time and deleted after decoding.

    python bench/preview_quality.py [--data /work/shared/data/corel5k] [--model BUNDLE] [--n 499]
        [--out bench/out/preview_quality.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from attalos_desktop.core.bundle import default_bundle_path, load_bundle  # noqa: E402
from attalos_desktop.core.encoder import ImageEncoder, tag_scores  # noqa: E402
from attalos_desktop.core.imageio import decode_for_model  # noqa: E402
from index_bench import camera_exif, camera_preview  # noqa: E402
from trainer.data import read_labels  # noqa: E402
from trainer.evaluate import lear, precision_recall_at_k, truth_matrix  # noqa: E402

DEFAULT_DATA = Path("/work/shared/data/corel5k")


def camera_jpeg(src: Path, dst: Path, megapixels: float = 12.0) -> tuple[int, int]:
    """``src`` upscaled to ~``megapixels`` and saved like a camera JPEG with a 160x120 EXIF preview."""
    with Image.open(src) as im:
        im = im.convert("RGB")
        orientation = 1
        if im.height > im.width:  # a portrait photo: stored on its side, turned by EXIF orientation 6
            im = im.rotate(90, expand=True)
            orientation = 6
        s = math.sqrt(megapixels * 1e6 / (im.width * im.height))
        big = im.resize((round(im.width * s), round(im.height * s)), Image.Resampling.BICUBIC)
    big.save(dst, "JPEG", quality=90, exif=camera_exif(camera_preview(big), orientation))
    return big.size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--n", type=int, default=0, help="first N test photos (default: all)")
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="bench/out/preview_quality.json")
    ap.add_argument("--save-embeddings", type=Path, default=None, help="also write the three embedding sets (.npz)")
    args = ap.parse_args()
    b = load_bundle(args.model or default_bundle_path())
    pre = b.preprocessing
    enc = ImageEncoder(b)
    test = [r for r in read_labels(args.data) if r.split == "test" and r.tags]
    if args.n:
        test = test[: args.n]
    print(
        f"model {b.name} (input {pre.input_size}px, resize {pre.resize}); {len(test)} Corel-5k test photos "
        f"re-saved at ~{args.megapixels:g} MP with a 160x120 EXIF preview",
        flush=True,
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:

        def one(i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, tuple[int, int], float, float]:
            src = args.data / test[i].file
            big = Path(tmp) / f"{i:04d}.jpg"
            size = camera_jpeg(src, big, args.megapixels)
            t = time.perf_counter()
            fast = decode_for_model(big, pre, preview=True)
            t_fast = time.perf_counter() - t
            t = time.perf_counter()
            full = decode_for_model(big, pre, preview=False)
            t_full = time.perf_counter() - t
            orig = decode_for_model(src, pre, preview=False)
            big.unlink()
            return fast.tensor, full.tensor, orig.tensor, fast.from_preview, size, t_fast, t_full

        with ThreadPoolExecutor(args.workers) as ex:
            rows = list(ex.map(one, range(len(test))))
    print(f"made and decoded {len(rows)} photos in {time.perf_counter() - t0:.0f} s", flush=True)
    stack = lambda k: np.stack([r[k] for r in rows])  # noqa: E731
    emb = {
        name: np.concatenate([enc.embed(x[i : i + 64]) for i in range(0, len(x), 64)])
        for name, x in (("preview", stack(0)), ("full_decode", stack(1)), ("original_file", stack(2)))
    }
    if args.save_embeddings:
        np.savez(args.save_embeddings, **emb, **{f"tensor_{k}": stack(i) for i, k in enumerate(emb)})
    scores = {k: np.stack([tag_scores(b, v) for v in e]) for k, e in emb.items()}
    truth = truth_matrix(test, b.tags)
    top5 = {k: np.argsort(-s, axis=1)[:, :5] for k, s in scores.items()}
    overlap = np.array([len(set(a) & set(c)) / 5 for a, c in zip(top5["preview"], top5["full_decode"])])
    top1_same = float((top5["preview"][:, 0] == top5["full_decode"][:, 0]).mean())
    u = {k: e / np.linalg.norm(e, axis=1, keepdims=True) for k, e in emb.items()}
    cos = (u["preview"] * u["full_decode"]).sum(1)
    res = {k: lear(s, truth) for k, s in scores.items()}
    for k, s in scores.items():
        res[k].update(precision_recall_at_k(s, truth, 5))
    rng = np.random.default_rng(0)
    boot: dict[str, list[float]] = {"preview_minus_full_decode": [], "preview_minus_original_file": []}
    for _ in range(1000):
        idx = rng.integers(0, len(rows), len(rows))
        f = {k: lear(s[idx], truth[idx])["f1"] for k, s in scores.items()}
        boot["preview_minus_full_decode"].append(f["preview"] - f["full_decode"])
        boot["preview_minus_original_file"].append(f["preview"] - f["original_file"])
    delta = {
        k: {
            "f1_difference": round(res["preview"]["f1"] - res[k.split("_minus_")[1]]["f1"], 4),
            "bootstrap_95": [round(float(np.percentile(v, 2.5)), 4), round(float(np.percentile(v, 97.5)), 4)],
        }
        for k, v in boot.items()
    }
    used = sum(r[3] for r in rows)
    out = {
        "model": b.name,
        "photos": len(rows),
        "megapixels": args.megapixels,
        "photo_sizes": sorted({f"{r[4][0]}x{r[4][1]}" for r in rows}),
        "inputs_from_preview": int(used),
        "top5_agreement_mean_overlap": round(float(overlap.mean()), 4),
        "top5_identical_sets": round(float((overlap == 1.0).mean()), 4),
        "top1_same": round(top1_same, 4),
        "embedding_cosine_mean": round(float(cos.mean()), 4),
        "embedding_cosine_min": round(float(cos.min()), 4),
        "lear": {k: {m: (round(v, 4) if isinstance(v, float) else v) for m, v in r.items()} for k, r in res.items()},
        "lear_f1_difference": delta,
        "decode_ms_median": {
            "preview": round(1000 * float(np.median([r[5] for r in rows])), 2),
            "full_decode": round(1000 * float(np.median([r[6] for r in rows])), 2),
        },
    }
    print(f"inputs from the preview: {used} of {len(rows)}")
    print(
        f"top-5 tags, preview vs full decode: mean overlap {out['top5_agreement_mean_overlap']:.3f}, "
        f"identical sets {out['top5_identical_sets']:.1%}, same top-1 {top1_same:.1%}; "
        f"embedding cosine mean {cos.mean():.4f} (min {cos.min():.4f})"
    )
    for k, r in res.items():
        print(
            f"LEAR {k:>13}: P {r['precision']:.3f}  R {r['recall']:.3f}  F1 {r['f1']:.3f}  N+ {r['n_plus']};  "
            f"per photo P@5 {r['precision_at_5']:.3f}  R@5 {r['recall_at_5']:.3f}"
        )
    for k, d in delta.items():
        lo, hi = d["bootstrap_95"]
        print(
            f"LEAR F1 {k.replace('_', ' ')}: {d['f1_difference']:+.4f} (paired bootstrap 95%: {lo:+.4f} .. {hi:+.4f})"
        )
    print(
        f"decode time median: preview {out['decode_ms_median']['preview']} ms, "
        f"full (draft) {out['decode_ms_median']['full_decode']} ms"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
