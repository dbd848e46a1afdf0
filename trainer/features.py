"""Frozen-trunk training: each photo's pooled trunk features (and the ImageNet classifier's logits, the
teacher), computed once per corpus and view with ONNX Runtime and cached on disk.

A pretrained trunk that is not trained further gives the same features every epoch, so they are computed
once: view 0 is the photo as the app decodes it, views 1.. are augmented (random resized crop, mirror,
down- and up-sampling and a JPEG re-encode, so the EXIF-preview path and phone JPEGs look familiar). The
tower's projection and the tag layer then train on these features in minutes on two cores, as the original
Attalos trained its tower on precomputed CNN features. The cache lives under ``--cache`` (or
``~/.cache/attalos-desktop/features``), one file per (corpus, view, trunk, size), written in chunks, so a
killed run keeps every finished chunk.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
from PIL import Image

from attalos_desktop.core.bundle import Preprocessing
from attalos_desktop.core.encoder import default_providers  # CUDA only where a GPU and its libraries are

from .data import Record
from .errors import TrainError
from .progress import Bar

Log = Callable[[str], None]
CHUNK = 4096  # photos per cache chunk: a killed run loses at most one


@dataclass
class FeatureSet:
    """A corpus's cached trunk outputs for its train photos."""

    feats: np.ndarray  # float16 [V, N, F]: pooled features, one row per view and photo
    logits: np.ndarray  # float16 [V, N, C]: the teacher's class logits (C = 0 without a teacher)


class _TrunkAndTeacher(torch.nn.Module):
    """images -> (pooled features, class logits): one ONNX graph for both."""

    def __init__(self, trunk: torch.nn.Module, classifier: torch.nn.Module | None) -> None:
        super().__init__()
        self.trunk, self.classifier = trunk, classifier

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.trunk(images)
        logits = self.classifier(f) if self.classifier is not None else f[:, :0]
        return f, logits


def module_digest(*modules: torch.nn.Module | None) -> str:
    """A short hash of the modules' weights: the cache key of what the trunk computes."""
    h = hashlib.sha1()
    for m in modules:
        if m is None:
            continue
        for k, v in sorted(m.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().contiguous().float().numpy().tobytes())
    return h.hexdigest()[:12]


class TrunkRunner:
    """The trunk (and teacher) exported once to ONNX and run by ONNX Runtime, as the app runs encoders:
    on two cores several times faster than eager PyTorch."""

    def __init__(self, trunk: torch.nn.Module, classifier: torch.nn.Module | None, size: int, threads: int = 0) -> None:
        import onnxruntime as ort

        self.digest = module_digest(trunk, classifier)
        model = _TrunkAndTeacher(trunk, classifier).eval().float()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "trunk.onnx"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    model,
                    (torch.zeros(1, 3, size, size),),
                    str(path),
                    input_names=["images"],
                    output_names=["features", "logits"],
                    dynamic_axes={"images": {0: "n"}, "features": {0: "n"}, "logits": {0: "n"}},
                    opset_version=17,
                    dynamo=False,
                )
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
            self.session = ort.InferenceSession(str(path), opts, providers=default_providers())

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, lg = self.session.run(None, {"images": np.ascontiguousarray(images, dtype=np.float32)})
        return np.asarray(f), np.asarray(lg)


def _normalise(im: Image.Image, pre: Preprocessing) -> np.ndarray:
    a = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    a = (a - np.asarray(pre.mean, np.float32)) / np.asarray(pre.std, np.float32)
    return a.transpose(2, 0, 1)


def augmented_view(path: Path, pre: Preprocessing, rng: np.random.Generator) -> np.ndarray:
    """[3,S,S] float32: a random resized crop (a third of the photo or more), mirrored half the time,
    then resampled through a smaller size and re-encoded as JPEG at a random quality, as a camera's
    embedded preview or a messaging app would have it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        im = Image.open(path)
        im.draft("RGB", (pre.resize, pre.resize))
        im = im.convert("RGB")
    w, h = im.size
    area = w * h * rng.uniform(0.35, 1.0)
    ratio = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
    cw, ch = min(w, round(np.sqrt(area * ratio))), min(h, round(np.sqrt(area / ratio)))
    x0, y0 = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    im = im.crop((x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    s = pre.input_size
    if rng.random() < 0.5:  # a smaller preview, scaled back up
        small = max(32, int(s * rng.uniform(0.45, 0.9)))
        im = im.resize((small, small), Image.Resampling.BILINEAR)
    im = im.resize(
        (s, s), [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS][int(rng.integers(3))]
    )
    if rng.random() < 0.6:  # JPEG at the quality of a preview or a forwarded photo
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=int(rng.integers(35, 95)))
        buf.seek(0)
        im = Image.open(buf).convert("RGB")
    return _normalise(im, pre)


def _app_view(pre: Preprocessing) -> Callable[[Path], np.ndarray]:
    from attalos_desktop.core.imageio import decode_for_model

    return lambda path: decode_for_model(path, pre, preview=False).tensor


def _batches(
    paths: Sequence[Path], pre: Preprocessing, view: int, seed: int, batch: int
) -> Iterator[tuple[int, np.ndarray]]:
    """(first index, images) batches, decoded by two threads a batch ahead of the model."""
    app = _app_view(pre)

    def one(i: int) -> np.ndarray:
        try:
            if view == 0:
                return app(paths[i])
            return augmented_view(paths[i], pre, np.random.default_rng([seed, view, i]))
        except Exception as exc:  # noqa: BLE001 - a bad photo stops the run before hours of training
            raise TrainError(f"{paths[i]}: cannot be decoded ({exc})".splitlines()[0]) from exc

    with ThreadPoolExecutor(2) as pool:
        starts = list(range(0, len(paths), batch))
        pending = None
        for s in starts:
            nxt = pool.map(one, range(s, min(s + batch, len(paths))))
            if pending is not None:
                yield pending[0], np.stack(list(pending[1]))
            pending = (s, nxt)
        if pending is not None:
            yield pending[0], np.stack(list(pending[1]))


def _fingerprint(records: Sequence[Record]) -> str:
    return hashlib.sha1("\n".join(r.file for r in records).encode()).hexdigest()[:10]


def corpus_features(
    name: str,
    root: Path,
    records: Sequence[Record],
    runner: TrunkRunner,
    pre: Preprocessing,
    views: int,
    cache: Path,
    seed: int,
    log: Log,
    quiet: bool = False,
    batch: int = 64,
) -> FeatureSet:
    """Every view of every photo through the trunk, from the cache where it is there."""
    paths = [root / r.file for r in records]
    key = f"{name}-{_fingerprint(records)}-{len(records)}-{runner.digest}-{pre.input_size}"
    feats: list[np.ndarray] = []
    logits: list[np.ndarray] = []
    for v in range(views):
        f, lg = _view_features(
            paths, runner, pre, v, seed, cache / f"{key}-view{v}", f"{name} view {v}", log, quiet, batch
        )
        feats.append(f)
        logits.append(lg)
    return FeatureSet(np.stack(feats), np.stack(logits))


def _view_features(
    paths: Sequence[Path],
    runner: TrunkRunner,
    pre: Preprocessing,
    view: int,
    seed: int,
    stem: Path,
    label: str,
    log: Log,
    quiet: bool,
    batch: int,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(paths)
    n_chunks = (n + CHUNK - 1) // CHUNK
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    todo = []
    for k in range(n_chunks):
        f = stem.parent / f"{stem.name}-{k}.npz"
        if f.is_file():
            try:
                z = np.load(f)
                parts.append((z["feats"], z["logits"]))
                continue
            except Exception:  # noqa: BLE001 - a damaged chunk is recomputed
                pass
        parts.append((np.zeros(0), np.zeros(0)))
        todo.append(k)
    if not todo:
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    stem.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    total = sum(min(CHUNK, n - k * CHUNK) for k in todo)
    bar = Bar(total, f"features: {label}", unit="photo", enabled=not quiet)
    for k in todo:
        lo, hi = k * CHUNK, min(n, (k + 1) * CHUNK)
        fs, ls = [], []
        for _, images in _batches(paths[lo:hi], pre, view, seed + lo, batch):
            f, lg = runner(images)
            fs.append(f.astype(np.float16))
            ls.append(lg.astype(np.float16))
            bar.advance(len(images))
        parts[k] = (np.concatenate(fs), np.concatenate(ls))
        out = stem.parent / f"{stem.name}-{k}.npz"
        tmp = out.with_name(out.name + ".tmp.npz")
        np.savez(tmp, feats=parts[k][0], logits=parts[k][1])
        tmp.replace(out)
    rate = total / max(time.perf_counter() - t0, 1e-9)
    bar.close(f"{total} photos, {rate:.0f} photos/s")
    log(f"features of {label}: {total} photos in {time.perf_counter() - t0:.0f} s ({rate:.0f} photos/s)")
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def default_cache() -> Path:
    return Path.home() / ".cache" / "attalos-desktop" / "features"
