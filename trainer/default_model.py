"""The recipe of the shipped default model: one command rebuilds the bundle from ../shared/data.

    python -m trainer.default_model --data ../shared/data --out resources/models/attalos-photo-v2 --seed 0

What it does (every choice is made on a held-out part of the *train* split, never on test):

1. **Data.** Corel-5k train (4,500 photos, ~260 scene words; 500 held out for the choices below)
   and Tiny ImageNet train (50,500 photos, 200 object names; 10 per class held out). Photos are
   decoded once into memory (uint8), so the two cores train instead of decoding JPEGs.
2. **Model.** ResNet-18 cut after its third stage (2.8 M parameters: small enough to ship, fast on
   a laptop CPU) plus a linear projection into the 256-d WordLlama word space. The tag layer is
   one vector per tag, initialised from the word vectors and optimised.
3. **Training: both corpora at once, in one word space.** Every step takes a Corel batch (random
   resized crop, flip, colour jitter; 64 -> 80 -> 96 px by progressive resizing) and a Tiny
   ImageNet batch (the same, two thirds the size). Corel photos: softmax cross-entropy over the
   *whole* vocabulary (Corel words and Tiny ImageNet names: every other tag is a negative, i.e.
   negative sampling with K = V), target spread over the photo's tags. Tiny ImageNet photos:
   cross-entropy over the 200 class names only, since a single object name says nothing about
   the scene words (a "seashore" photo may well show sky and water: those must not become its
   negatives). The extra photos act as a regulariser for the small Corel set instead of a
   separate pretraining stage whose features the Corel stage then overwrites. 30 epochs of one
   cosine cycle, then a second, lower cycle of 10 epochs at 96 px.
4. **Deployment graph** (:mod:`trainer.label_transfer`). The exported ONNX encoder averages the
   embedding of the photo and its mirror image, computes hand-crafted colour, layout and edge
   descriptors of the same input (:mod:`trainer.handcrafted`), and does 2PKNN label transfer over
   the Corel train photos: for every word, the k1 nearest train photos carrying it vote, "nearest"
   being a weighted sum of per-descriptor distances (the CNN's two and the hand-crafted ones,
   PCA-reduced into a float16 bank). It outputs ``[f(x), votes(x), 1, pad]`` at a constant length,
   and each tag's vector in the bundle is ``[a*v_t, a*b*onehot_t, bias_t, 0]``, so the app's
   unchanged ``sigmoid(tag_vectors . e)`` computes ``a*(v_t.f + b*vote_t - beta*log freq_t) + c``:
   model score + label transfer + per-tag frequency calibration (raising rare words for LEAR
   recall / N+), with (a, c) a logistic fit so that the sigmoid reads as a probability. The
   descriptor weights, k1, the kernel width, b and beta are chosen on the held-out Corel photos.
   A version-1 bundle, nothing new for the app to learn.

Training checkpoints every epoch and ``--resume`` continues; the build stage reads the
checkpoint, so ``--stage build`` re-exports without training again.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from torch import nn

from attalos_desktop.core.bundle import TextConfig, write_bundle, update_metrics

from .data import IMAGENET_MEAN, IMAGENET_STD, Record, Vocabulary, crop_tensor, load_rgb, preprocessing_for, read_labels
from .errors import TrainError
from .handcrafted import FEATURES as HANDCRAFTED, VERSION as HANDCRAFTED_VERSION, Handcrafted
from .label_transfer import (Deployed, Neighbourhood, Projection, choose_neighbourhood, combined_distance,
                             fit_projection, fit_word_sigmoids, normalise, per_word_votes)
from .model import Tower
from .textspace import base_map, compose, fit_text_map
from .train import build_text_side
from .wordvectors import load_word_vectors

Log = Callable[[str], None]
COREL = "corel5k"
TINY = "tiny-imagenet-200"
CANVAS = 192  # Corel photos are 192x128 or 128x192


# ----------------------------------------------------------------------------------------------- data
def _decode_all(root: Path, records: Sequence[Record], canvas: int, log: Log) -> tuple[np.ndarray, np.ndarray]:
    pix = np.zeros((len(records), canvas, canvas, 3), dtype=np.uint8)
    hw = np.zeros((len(records), 2), dtype=np.int64)
    t0 = time.perf_counter()
    for i, r in enumerate(records):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(root / r.file).convert("RGB")
        if max(im.size) > canvas:
            s = canvas / max(im.size)
            im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.Resampling.BILINEAR)
        a = np.asarray(im)
        pix[i, : a.shape[0], : a.shape[1]] = a
        hw[i] = a.shape[:2]
    log(f"decoded {len(records)} photos of {root.name} in {time.perf_counter() - t0:.0f} s")
    return pix, hw


def load_corpus(data: Path, name: str, split: str, canvas: int, cache: Path | None, log: Log,
                records: Sequence[Record] | None = None) -> tuple[list[Record], np.ndarray, np.ndarray]:
    root = data / name
    recs = list(records) if records is not None else [r for r in read_labels(root) if r.split == split and r.tags]
    if cache is not None:
        key = cache / f"{name}-{split}-{canvas}-{len(recs)}.npz"
        if key.is_file():
            z = np.load(key)
            return recs, z["pixels"], z["hw"]
    pix, hw = _decode_all(root, recs, canvas, log)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez(key, pixels=pix, hw=hw)
    return recs, pix, hw


def held_out_split(n: int, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng([seed, 77]).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def tiny_held_out(records: Sequence[Record], per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 78])
    by: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by.setdefault(r.tags[0], []).append(i)
    val = []
    for t in sorted(by):
        idx = by[t]
        val.extend(rng.choice(idx, size=min(per_class, len(idx) - 1), replace=False).tolist())
    val_set = set(val)
    return np.array([i for i in range(len(records)) if i not in val_set]), np.array(sorted(val))


# ------------------------------------------------------------------------------------------ augmentation
def random_boxes(rng: np.random.Generator, hw: np.ndarray, scale: tuple[float, float],
                 ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> np.ndarray:
    """RandomResizedCrop boxes (x1, y1, x2, y2) inside each photo's real area."""
    h, w = hw[:, 0].astype(np.float64), hw[:, 1].astype(np.float64)
    n = len(hw)
    area = h * w * rng.uniform(scale[0], scale[1], n)
    r = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), n))
    cw = np.minimum(np.sqrt(area * r), w)
    ch = np.minimum(np.sqrt(area / r), h)
    x0 = rng.uniform(0, 1, n) * (w - cw)
    y0 = rng.uniform(0, 1, n) * (h - ch)
    return np.stack([x0, y0, x0 + cw, y0 + ch], axis=1)


_MEAN = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


def augment(pixels: np.ndarray, hw: np.ndarray, size: int, rng: np.random.Generator,
            scale: tuple[float, float], jitter: float) -> torch.Tensor:
    """Batched random resized crop (roi_align), flip, colour jitter, normalisation -> [N,3,S,S]."""
    from torchvision.ops import roi_align

    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255.0)
    boxes = torch.from_numpy(random_boxes(rng, hw, scale)).float()
    boxes = torch.cat([torch.arange(len(hw), dtype=torch.float32)[:, None], boxes], 1)
    out = roi_align(x, boxes, output_size=size, spatial_scale=1.0, sampling_ratio=2, aligned=True)
    n = len(hw)
    flip = torch.from_numpy(rng.random(n) < 0.5)
    out[flip] = out[flip].flip(3)
    if jitter > 0:
        b = torch.from_numpy(rng.uniform(1 - jitter, 1 + jitter, n)).float().view(n, 1, 1, 1)
        c = torch.from_numpy(rng.uniform(1 - jitter, 1 + jitter, n)).float().view(n, 1, 1, 1)
        s = torch.from_numpy(rng.uniform(1 - jitter, 1 + jitter, n)).float().view(n, 1, 1, 1)
        out = out * b
        m = out.mean(dim=(1, 2, 3), keepdim=True)
        out = (out - m) * c + m
        g = (0.299 * out[:, 0:1] + 0.587 * out[:, 1:2] + 0.114 * out[:, 2:3])
        out = (out - g) * s + g
        out = out.clamp_(0, 1)
    return ((out - _MEAN) / _STD).contiguous(memory_format=torch.channels_last)


# ------------------------------------------------------------------------------------------------ model
def resnet18_l3_tower(dim: int) -> Tower:
    """ResNet-18 through its third stage (256 channels), global average pool, linear to ``dim``."""
    m = torchvision.models.resnet18(weights=None)
    trunk = nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3,
                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Tower(trunk, 256, dim)


def build_tower(backbone: str, dim: int) -> Tower:
    if backbone == "resnet18_l3":
        return resnet18_l3_tower(dim)
    from .model import build_tower as tv_build

    return tv_build(backbone, dim, None)


# -------------------------------------------------------------------------------------------- vocabulary
@dataclass
class Words:
    vocab: Vocabulary
    corel_idx: np.ndarray  # tag ids that are Corel words
    tiny_idx: np.ndarray  # tag ids of the Tiny ImageNet names, in class order
    tag_pretrained: np.ndarray
    tag_known: np.ndarray
    prior: np.ndarray
    text: Any
    source: str


def held_out_words(corel_train: Sequence[Record], n: int, seed: int) -> list[str]:
    """``n`` Corel words (seen at least 8 times in train) kept out of training, for the zero-shot test."""
    from collections import Counter

    if n <= 0:
        return []
    c = Counter(t for r in corel_train for t in r.tags)
    cand = sorted(t for t, k in c.items() if k >= 8)
    rng = np.random.default_rng([seed, 79])
    return sorted(rng.choice(cand, size=min(n, len(cand)), replace=False).tolist())


def build_words(corel_train: Sequence[Record], tiny_train: Sequence[Record], args: argparse.Namespace,
                log: Log, also_words: Sequence[str] = ()) -> Words:
    from collections import Counter

    cc = Counter(t for r in corel_train for t in r.tags)
    tc = Counter(t for r in tiny_train for t in r.tags)
    counts = cc + tc
    tags = sorted(counts, key=lambda t: (-counts[t], t))
    vocab = Vocabulary(tags=tags, freq=np.array([counts[t] for t in tags], dtype=np.int64))
    corel_idx = np.array(sorted(vocab.index[t] for t in cc), dtype=np.int64)
    tiny_idx = np.array(sorted(vocab.index[t] for t in tc), dtype=np.int64)
    wv = load_word_vectors(args.word_vectors)
    # Words for the app's OOV search: tags of the other annotation sets, then everyday words.
    ann = set()
    for sub in ("espgame", "iaprtc12", "vg500"):
        p = Path(args.data) / "annotations" / sub
        if (p / "labels.jsonl").is_file():
            ann |= {t for r in read_labels(p) for t in r.tags}
    vocab_set = set(tags)
    data_words = sorted((ann | set(also_words)) - vocab_set)
    extra = data_words + wv.everyday_words(args.extra_words, exclude=vocab_set | set(data_words))
    ns = argparse.Namespace(ngram_min=3, ngram_max=5, ngram_buckets=args.ngram_buckets)
    text = build_text_side(wv, vocab, extra, ns)
    tag_pre, known = wv.lookup(tags)
    for i in np.flatnonzero(~known):
        tag_pre[i] = compose(text.ngram_vectors, tags[i], 3, 5)
    if args.tag_init == "random":
        rng = np.random.default_rng([args.seed, 5])
        r = rng.normal(size=tag_pre.shape).astype(np.float32)
        tag_pre = r / np.linalg.norm(r, axis=1, keepdims=True)
    prior = base_map(wv.dim, args.dim or wv.dim, args.seed)
    log(f"vocabulary: {len(tags)} tags ({len(corel_idx)} Corel words, {len(tiny_idx)} Tiny ImageNet names, "
        f"{int((~known).sum())} without a word vector); {len(text.words)} extra words for search")
    return Words(vocab, corel_idx, tiny_idx, tag_pre, known, prior, text, wv.source)


# ---------------------------------------------------------------------------------------------- training
def lr_at(step: int, total: int, warmup: int, restart: int = 0, restart_scale: float = 0.3) -> float:
    """Warm-up, one cosine cycle over ``total`` steps, then (``restart`` > 0) a second, lower cycle
    over ``restart`` more steps at full resolution (SGDR): more training for the same schedule shape."""
    if step >= total and restart:
        t = (step - total) / restart
        return restart_scale * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))
    if step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def make_targets(tag_ids: Sequence[np.ndarray], v: int) -> torch.Tensor:
    y = torch.zeros(len(tag_ids), v)
    for i, ids in enumerate(tag_ids):
        y[i, torch.from_numpy(ids)] = 1.0 / len(ids)
    return y


def apply_hold_out(corel_all: Sequence[Record], tr: np.ndarray,
                   args: argparse.Namespace) -> tuple[np.ndarray, list[Record], list[str]]:
    """Remove the held-out words from the train labels (photos left without a tag are dropped)."""
    corel_tr = [corel_all[i] for i in tr]
    hold = held_out_words(corel_tr, getattr(args, "hold_out_words", 0), args.seed)
    if not hold:
        return tr, corel_tr, []
    hs = set(hold)
    keep = [(i, Record(corel_all[i].file, [t for t in corel_all[i].tags if t not in hs], "train", corel_all[i].line))
            for i in tr]
    keep = [(i, r) for i, r in keep if r.tags]
    return np.array([i for i, _ in keep], dtype=np.int64), [r for _, r in keep], hold


def tiny_names(args: argparse.Namespace, tiny_tr: Sequence[Record]) -> list[str]:
    """Tiny ImageNet names as search words when its photos are not trained on (cross-corpus test)."""
    if tiny_tr:
        return []
    return sorted({r.tags[0] for r in read_labels(Path(args.data) / TINY) if r.tags})


def size_at(args: argparse.Namespace, epoch: int) -> int:
    """Progressive resizing: ``--progressive "0.35:64,0.7:80"`` trains the first 35% of the epochs at
    64 px, up to 70% at 80 px and the rest at ``--image-size`` (cheap early epochs, full-size finish)."""
    frac = min(1.0, (epoch + 1) / args.epochs)
    for part in filter(None, (args.progressive or "").split(",")):
        upto, px = part.split(":")
        if frac <= float(upto) + 1e-9:
            return int(px)
    return args.image_size


def train_stage(args: argparse.Namespace, log: Log) -> dict[str, Any]:
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    cache = Path(args.cache) if args.cache else None
    corel_all = [r for r in read_labels(data / COREL) if r.split == "train" and r.tags]
    tr, va = held_out_split(len(corel_all), args.corel_val, args.seed)
    tr, corel_tr, hold = apply_hold_out(corel_all, tr, args)
    tiny_all: list[Record] = []
    if args.tiny_batch:
        tiny_all = [r for r in read_labels(data / TINY) if r.split == "train" and r.tags]
        ttr, _ = tiny_held_out(tiny_all, args.tiny_val_per_class, args.seed)
        tiny_tr = [tiny_all[i] for i in ttr]
    else:
        tiny_tr = []
    words = build_words(corel_tr, tiny_tr, args, log, also_words=hold + tiny_names(args, tiny_tr))
    if hold:
        log(f"{len(hold)} Corel words held out of training for the zero-shot test: {', '.join(hold)}")
    V = len(words.vocab)
    _, cpix, chw = load_corpus(data, COREL, "train", CANVAS, cache, log, corel_all)
    cpix, chw = cpix[tr], chw[tr]
    c_ids = [np.array([words.vocab.index[t] for t in r.tags], dtype=np.int64) for r in corel_tr]
    if tiny_tr:
        _, tpix, thw = load_corpus(data, TINY, "train", 64, cache, log, tiny_all)
        tpix, thw = tpix[ttr], thw[ttr]
        tiny_pos = {int(t): j for j, t in enumerate(words.tiny_idx)}
        t_lab = torch.tensor([tiny_pos[words.vocab.index[r.tags[0]]] for r in tiny_tr])

    dim = args.dim or words.tag_pretrained.shape[1]
    torch.manual_seed(args.seed)
    tower = build_tower(args.backbone, dim).to(memory_format=torch.channels_last)
    init = (words.tag_pretrained @ words.prior).astype(np.float32)
    tags = nn.Parameter(torch.from_numpy(init))
    decay = [p for n, p in tower.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in tower.named_parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if args.tag_layer == "optimised":
        groups.append({"params": [tags], "weight_decay": 0.0})
    else:
        tags.requires_grad_(False)
    opt = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.99))
    bs = args.batch_size
    steps_per_epoch = len(corel_tr) // bs
    total = steps_per_epoch * args.epochs
    warm = min(150, total // 10 + 1)
    ckpt = Path(args.checkpoint)
    start_epoch, history = 0, []
    if args.resume and ckpt.is_file():
        ck = torch.load(ckpt, map_location="cpu", weights_only=False)
        if ck["tags_list"] != words.vocab.tags or ck["backbone"] != args.backbone:
            raise TrainError(f"--resume: {ckpt} was made with other data or another backbone")
        tower.load_state_dict(ck["tower"])
        with torch.no_grad():
            tags.copy_(ck["tags"])
        opt.load_state_dict(ck["opt"])
        start_epoch, history = ck["epoch"], ck["history"]
        log(f"resumed from {ckpt} after epoch {start_epoch}")


    t_start = time.perf_counter()
    tower.train()
    restart = steps_per_epoch * args.restart_epochs
    all_epochs = args.epochs + args.restart_epochs
    for epoch in range(start_epoch, all_epochs):
        rng = np.random.default_rng([args.seed, epoch])
        order = rng.permutation(len(corel_tr))
        t_order = rng.permutation(len(tiny_tr)) if tiny_tr else None
        t0, ep_loss, ep_lt = time.perf_counter(), 0.0, 0.0
        size = size_at(args, epoch)
        tiny_size = max(32, int(round(args.tiny_size * size / args.image_size / 8)) * 8)
        log(f"epoch {epoch + 1}: Corel at {size} px, Tiny ImageNet at {tiny_size} px")
        for s in range(steps_per_epoch):
            step = epoch * steps_per_epoch + s
            for g in opt.param_groups:
                g["lr"] = args.lr * lr_at(step, total, warm, restart)
            idx = np.sort(order[s * bs: (s + 1) * bs])
            x = augment(cpix[idx], chw[idx], size, rng, (args.min_scale, 1.0), args.jitter)
            y = make_targets([c_ids[i] for i in idx], V)
            emb = tower(x)
            logits = emb @ tags.t()
            loss_c = -(y * F.log_softmax(logits, dim=1)).sum(1).mean()
            loss = loss_c
            lt = 0.0
            if tiny_tr:
                tb = args.tiny_batch
                j = t_order[(s * tb) % len(tiny_tr): (s * tb) % len(tiny_tr) + tb]
                if len(j) < tb:
                    j = rng.choice(len(tiny_tr), tb, replace=False)
                j = np.sort(j)
                xt = augment(tpix[j], thw[j], tiny_size, rng, (args.min_scale, 1.0), args.jitter)
                et = tower(xt)
                lt_ = F.cross_entropy(et @ tags[torch.from_numpy(words.tiny_idx)].t(), t_lab[torch.from_numpy(j)],
                                      label_smoothing=0.1)
                loss = loss + args.tiny_weight * lt_
                lt = float(lt_.detach())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ep_loss += float(loss_c.detach())
            ep_lt += lt
            if s % 10 == 0:
                el = time.perf_counter() - t0
                log(f"epoch {epoch + 1}/{all_epochs} step {s}/{steps_per_epoch} corel {ep_loss / (s + 1):.3f} "
                    f"tiny {ep_lt / (s + 1):.3f} {(s + 1) * bs / max(el, 1e-9):.1f} corel photos/s")
        el = time.perf_counter() - t0
        history.append({"epoch": epoch + 1, "size": size, "corel_loss": ep_loss / steps_per_epoch,
                        "tiny_loss": ep_lt / steps_per_epoch, "seconds": round(el, 1)})
        log(f"epoch {epoch + 1} done in {el:.0f} s: corel loss {ep_loss / steps_per_epoch:.3f}, "
            f"tiny loss {ep_lt / steps_per_epoch:.3f}")
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"tower": tower.state_dict(), "tags": tags.detach().clone(), "opt": opt.state_dict(),
                    "epoch": epoch + 1, "history": history, "tags_list": words.vocab.tags,
                    "backbone": args.backbone, "args": vars(args)}, tmp)
        tmp.replace(ckpt)
        if args.stop_after and time.perf_counter() - t_start > args.stop_after:
            log(f"--stop-after {args.stop_after} s reached after epoch {epoch + 1}")
            break
    return {"epochs_done": history[-1]["epoch"] if history else start_epoch, "history": history}


# ------------------------------------------------------------------------------------------------ build
def app_decoder(pre: Any) -> Callable[[Path], np.ndarray]:
    """The app's own decode rule (attalos_desktop.core.imageio), the trainer's copy as a fallback."""
    try:
        from attalos_desktop.core.imageio import decode_for_model

        return lambda path: decode_for_model(path, pre).tensor
    except ImportError:
        return lambda path: crop_tensor(load_rgb(Path(path), pre), pre)


@torch.no_grad()
def describe(tower: Tower, paths: Sequence[Path], pre: Any, batch: int = 128,
             descriptors: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each photo decoded as the app decodes it: the flip-averaged embedding, and (``descriptors``) those
    of the label transfer (hand-crafted ones and ``trunk``, the flip-averaged trunk features before the
    projection)."""
    decode = app_decoder(pre)
    hand = Handcrafted().eval() if descriptors else None
    tower.eval()
    out: list[np.ndarray] = []
    feats: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(paths), batch):
        x = torch.from_numpy(np.stack([decode(p) for p in paths[i: i + batch]]))
        if hand is not None:
            for k, v in hand(x).items():
                feats.setdefault(k, []).append(v.numpy())
        x = x.contiguous(memory_format=torch.channels_last)
        t = (tower.trunk(x) + tower.trunk(x.flip(3))) * 0.5  # the projection is linear: f = proj(mean)
        if hand is not None:
            feats.setdefault("trunk", []).append(normalise(t.numpy()))
        out.append(tower.proj(t).numpy())
    return np.concatenate(out).astype(np.float32), {k: np.concatenate(v) for k, v in feats.items()}


def fit_logistic(s: np.ndarray, y: np.ndarray, iters: int = 100) -> tuple[float, float]:
    """1-D logistic regression sigmoid(a*s + c): damped Newton on standardised scores, slope clipped."""
    mu, sd = float(s.mean()), float(s.std()) + 1e-9
    x = np.stack([(s.astype(np.float64) - mu) / sd, np.ones(len(s))], 1)
    y = y.astype(np.float64)
    w = np.array([1.0, 0.0])
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(x @ w, -40, 40)))
        g = x.T @ (p - y) + np.array([1.0, 0.0]) * w[0]  # ridge 1 on the slope
        h = (x * (p * (1 - p))[:, None]).T @ x + np.diag([1.0, 1e-6])
        step = np.linalg.solve(h, g)
        w = w - step / max(1.0, float(np.abs(step).max()))
    a = float(np.clip(w[0], 0.05, 20.0)) / sd
    return a, float(w[1] - a * mu)


def shrink_onnx(path: Path, min_elems: int = 4096) -> None:
    """Store large float32 weights as float16 with a Cast in front (ORT folds it at load time)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(str(path))
    g = m.graph
    inits, casts = [], []
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        if init.data_type == TensorProto.FLOAT and arr.size >= min_elems:
            inits.append(numpy_helper.from_array(arr.astype(np.float16), init.name + "__fp16"))
            casts.append(helper.make_node("Cast", [init.name + "__fp16"], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "__cast"))
        else:
            inits.append(numpy_helper.from_array(arr, init.name))
    nodes = casts + list(g.node)
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, str(path))


def lear_f1(scores: np.ndarray, truth: np.ndarray) -> tuple[float, int]:
    from .evaluate import lear

    r = lear(scores, truth, 5)
    return r["f1"], r["n_plus"]


def deployed_preprocessing(args: argparse.Namespace) -> Any:
    """Centre crop after resizing the shorter side to ``--resize`` (default: the input size, so a
    3:2 Corel photo keeps its full height and two thirds of its width; 8/7 as for ImageNet loses half)."""
    from attalos_desktop.core.bundle import Preprocessing

    p = preprocessing_for(args.image_size)
    return Preprocessing(input_size=p.input_size, resize=args.resize or args.image_size, mean=p.mean, std=p.std)


def plain_export(args: argparse.Namespace, log: Log, tower: Tower, tag_w: np.ndarray, words: Words,
                 ck: dict[str, Any], hold: list[str], pre: Any) -> dict[str, Any]:
    """A bundle of the bare model (no flip, no label transfer, no calibration): for the ablation runs."""
    from .evaluate import evaluate_bundle
    from .export import export_onnx, onnx_parity

    tower = tower.float().to(memory_format=torch.contiguous_format).eval()
    known = words.tag_known
    text_map = fit_text_map(words.tag_pretrained[known], tag_w[known], words.prior, ridge=1.0)
    ts = words.text
    with tempfile.TemporaryDirectory(prefix="attalos-plain-") as tmp:
        onnx_path = Path(tmp) / "encoder.onnx"
        export_onnx(tower, args.image_size, onnx_path, "legacy")
        diff = onnx_parity(tower, onnx_path, args.image_size)
        path = write_bundle(
            args.out, name=args.name, encoder_onnx=onnx_path, preprocessing=pre,
            text=TextConfig(ngram_min=ts.ngram_min, ngram_max=ts.ngram_max, buckets=ts.ngram_vectors.shape[0],
                            pretrained_dim=words.tag_pretrained.shape[1], source=words.source),
            tags=words.vocab.tags, tag_vectors=tag_w, tag_freq=words.vocab.freq, words=ts.words,
            word_vectors=ts.vectors.reshape(len(ts.words), words.tag_pretrained.shape[1]),
            ngram_vectors=ts.ngram_vectors, text_map=text_map,
            training={"settings": {k: v for k, v in vars(args).items() if k not in ("data", "out", "cache")},
                      "epochs": ck["epoch"], "history": ck["history"], "held_out_words": hold,
                      "onnx_parity_max_abs": diff},
        )
    m = evaluate_bundle(path, Path(args.data) / COREL, threads=args.threads)
    update_metrics(path, {k: v for k, v in m.items() if not isinstance(v, dict)})
    log(f"plain bundle {path}: Corel-5k test F1 {m['lear_f1']:.3f} N+ {m['lear_n_plus']}, "
        f"zero-shot AUC {m.get('zero_shot_auc', float('nan')):.3f} over {m.get('zero_shot_words', 0)} words")
    return {"bundle": str(path), "metrics": m}


def word_sigmoids(logits_bank: np.ndarray, bank: dict[str, np.ndarray], labels: np.ndarray, nb: Neighbourhood,
                  b: float,
                  prior: np.ndarray, s_va: np.ndarray, truth: np.ndarray, corel_cols: np.ndarray,
                  corel_cal: tuple[float, float], other_cal: tuple[float, float], log: Log) -> dict[str, Any]:
    """Per-word sigmoids, kept only if the held-out photos gain: fitted leave-one-out on the bank photos,
    or cross-fitted on the held-out photos themselves (which the CNN never saw).

    Returns ``a`` and ``c`` for the Corel words (the shared calibration when the per-word one
    does not help), the ridge chosen and the held-out F1 / N+ with and without.
    """
    d_loo = combined_distance(bank, bank, nb)
    np.fill_diagonal(d_loo, np.inf)  # each bank photo is tagged by the others
    s_loo = logits_bank + b * per_word_votes(d_loo, labels, nb.k1, nb.tau) - prior
    vc = len(corel_cols)

    def held_out(a: np.ndarray, c: np.ndarray) -> tuple[float, int]:
        p = other_cal[0] * s_va + other_cal[1]
        p[:, corel_cols] = a * s_va[:, corel_cols] + c
        return lear_f1(p, truth)

    shared = (np.full(vc, corel_cal[0], np.float32), np.full(vc, corel_cal[1], np.float32))
    base = held_out(*shared)
    best: dict[str, Any] = {"a": shared[0], "c": shared[1], "ridge": None, "f1": base[0], "n_plus": base[1],
                            "shared_f1": base[0], "shared_n_plus": base[1], "fitted_best_f1": 0.0}
    for rho in (1.0, 3.0, 10.0, 30.0, 100.0, 300.0):
        a, c = fit_word_sigmoids(s_loo, labels.astype(bool), corel_cal[0], corel_cal[1], rho)
        f1, npl = held_out(a, c)
        log(f"  per-word sigmoids, ridge {rho:g}: held-out F1 {f1:.3f} N+ {npl} (shared calibration {base[0]:.3f} "
            f"N+ {base[1]})")
        best["fitted_best_f1"] = max(best["fitted_best_f1"], f1)
        if (f1, npl) > (best["f1"], best["n_plus"]):
            best.update(a=a, c=c, ridge=rho, fitted_on="the bank photos, leave-one-out", f1=f1, n_plus=npl)
    # The same on the held-out photos themselves (photos the CNN never saw), cross-fitted: fit on one half,
    # score the other, so the held-out F1 stays an out-of-sample estimate.
    halves = np.array_split(np.random.default_rng(0).permutation(len(s_va)), 2)
    for rho in (3.0, 10.0, 30.0, 100.0):
        scores = other_cal[0] * s_va + other_cal[1]
        for fit, ev in ((halves[0], halves[1]), (halves[1], halves[0])):
            a, c = fit_word_sigmoids(s_va[fit][:, corel_cols], truth[fit][:, corel_cols], corel_cal[0], corel_cal[1], rho)
            scores[np.ix_(ev, corel_cols)] = a * s_va[ev][:, corel_cols] + c
        f1, npl = lear_f1(scores, truth)
        log(f"  per-word sigmoids on the held-out photos, ridge {rho:g}, cross-fitted: F1 {f1:.3f} N+ {npl}")
        best["fitted_best_f1"] = max(best["fitted_best_f1"], f1)
        if (f1, npl) > (best["f1"], best["n_plus"]):
            a, c = fit_word_sigmoids(s_va[:, corel_cols], truth[:, corel_cols], corel_cal[0], corel_cal[1], rho)
            best.update(a=a, c=c, ridge=rho, fitted_on="held-out photos (cross-fitted estimate)", f1=f1, n_plus=npl)
    log(f"per-word sigmoids: {'ridge ' + format(best['ridge'], 'g') if best['ridge'] else 'not used'} "
        f"(held-out F1 {best['f1']:.3f} N+ {best['n_plus']})")
    return best


def build_stage(args: argparse.Namespace, log: Log) -> dict[str, Any]:
    from .evaluate import evaluate_bundle, truth_matrix
    from .export import export_onnx

    torch.set_num_threads(args.threads)
    data = Path(args.data)
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    corel_all = [r for r in read_labels(data / COREL) if r.split == "train" and r.tags]
    tr, va = held_out_split(len(corel_all), args.corel_val, args.seed)
    tr, corel_tr, hold = apply_hold_out(corel_all, tr, args)
    tiny_all, tiny_tr, tiny_va = [], [], []
    if args.tiny_batch:
        tiny_all = [r for r in read_labels(data / TINY) if r.split == "train" and r.tags]
        ttr, tva = tiny_held_out(tiny_all, args.tiny_val_per_class, args.seed)
        tiny_tr = [tiny_all[i] for i in ttr]
        tiny_va = [tiny_all[i] for i in tva]
    words = build_words(corel_tr, tiny_tr, args, log, also_words=hold + tiny_names(args, tiny_tr))
    if ck["tags_list"] != words.vocab.tags:
        raise TrainError(f"{args.checkpoint} was trained on another vocabulary")
    dim = args.dim or words.tag_pretrained.shape[1]
    tower = build_tower(args.backbone, dim)
    tower.load_state_dict(ck["tower"])
    tower = tower.to(memory_format=torch.channels_last).eval()
    tag_w = ck["tags"].numpy().astype(np.float32)
    pre = deployed_preprocessing(args)
    if args.plain:
        return plain_export(args, log, tower, tag_w, words, ck, hold, pre)
    t0 = time.perf_counter()
    emb_cache = Path(str(args.checkpoint) + f".desc{HANDCRAFTED_VERSION}-e{ck['epoch']}-{pre.resize}.npz")
    if emb_cache.is_file() and emb_cache.stat().st_mtime >= Path(args.checkpoint).stat().st_mtime:
        z = np.load(emb_cache)
        emb_corel, emb_tiny = z["corel"], z["tiny"]
        hand = {k[5:]: z[k] for k in z.files if k.startswith("hand_") and k[5:] in (*HANDCRAFTED, "trunk")}
    else:
        emb_corel, hand = describe(tower, [data / COREL / r.file for r in corel_all], pre)
        emb_tiny = (describe(tower, [data / TINY / r.file for r in tiny_va], pre, descriptors=False)[0] if tiny_va
                    else np.zeros((0, dim), np.float32))
        np.savez(emb_cache, corel=emb_corel, tiny=emb_tiny, **{f"hand_{k}": v for k, v in hand.items()})
    log(f"described {len(emb_corel) + len(emb_tiny)} held-out/bank photos in {time.perf_counter() - t0:.0f} s")
    tags = words.vocab.tags
    corel_pos = {int(t): j for j, t in enumerate(words.corel_idx)}
    labels = np.zeros((len(corel_all), len(words.corel_idx)), dtype=np.uint8)
    for i, r in enumerate(corel_all):
        for t in r.tags:
            j = words.vocab.index.get(t)
            if j is not None and int(j) in corel_pos:
                labels[i, corel_pos[int(j)]] = 1
    # --- the descriptors of the bank: PCA-reduced hand-crafted ones and the normalised embedding
    proj = {n: fit_projection(v, args.descriptor_dim) for n, v in hand.items()}
    desc = {n: proj[n](v) for n, v in hand.items()}
    desc["cnn"] = normalise(emb_corel)
    proj["cnn"] = Projection(np.zeros(dim, np.float32), None)
    # --- choices on the held-out Corel photos: bank = the other train photos
    val_recs = [corel_all[i] for i in va]
    truth = truth_matrix(val_recs, tags)
    # The deployed embedding carries f(x) at a fixed length (see label_transfer.Deployed), so the
    # model's own scores are computed on that rescaled f throughout.
    f_scale = float(np.linalg.norm(emb_corel, axis=1).mean())
    f_fixed = f_scale * normalise(emb_corel)
    logits = f_fixed[va] @ tag_w.T
    logf = np.log(words.vocab.freq.astype(np.float64))
    onehot = np.zeros((len(words.corel_idx), len(tags)), dtype=np.float32)
    onehot[np.arange(len(words.corel_idx)), words.corel_idx] = 1.0
    base_f1, base_np = lear_f1(logits, truth)
    corel_truth, corel_logf = truth[:, words.corel_idx], logf[words.corel_idx]

    def votes_f1(v: np.ndarray) -> float:
        return max(lear_f1(v - beta * corel_logf, corel_truth)[0] for beta in (0.0, 0.0025, 0.005, 0.01))

    log("choosing the label-transfer neighbourhood on the held-out Corel photos:")
    nb, nb_f1, nb_record = choose_neighbourhood({n: d[va] for n, d in desc.items()}, {n: d[tr] for n, d in desc.items()},
                                     labels[tr], votes_f1, log)
    votes_va = per_word_votes(combined_distance({n: desc[n][va] for n in nb.weights},
                                                {n: desc[n][tr] for n in nb.weights}, nb),
                              labels[tr], nb.k1, nb.tau) @ onehot
    results = []
    # score = lam * model logits + votes - gamma * log frequency, written below as
    # logits + b * votes - beta * log frequency (b = 1/lam, beta = gamma/lam) for the tag matrix
    for lam in (1.0, 0.25, 0.06, 0.03, 0.015, 0.008, 0.004, 0.002, 0.001, 0.0005):
        for gamma in (0.0, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03):
            f1, npl = lear_f1(lam * logits + votes_va - gamma * logf, truth)
            results.append((f1, npl, 1.0 / lam, gamma / lam))
    results.sort(key=lambda r: (-r[0], -r[1]))
    f1, npl, b, beta = results[0]
    log(f"held-out Corel: model alone F1 {base_f1:.3f} N+ {base_np}; label transfer alone {nb_f1:.3f}; "
        f"model + label transfer + calibration F1 {f1:.3f} N+ {npl} (b={b:g}, beta={beta:g})")
    # --- sigmoid calibration per tag group, on held-out photos
    s_va = logits + b * votes_va - beta * logf
    corel_cols = words.corel_idx
    a_c, c_c = fit_logistic(s_va[:, corel_cols].ravel(), truth[:, corel_cols].ravel())
    tiny_only = np.array(sorted(set(words.tiny_idx.tolist()) - set(corel_cols.tolist())), dtype=np.int64)
    a_t, c_t = a_c, c_c
    if len(tiny_only) and len(emb_tiny):
        s_t = f_scale * normalise(emb_tiny) @ tag_w.T - beta * logf  # Tiny-only tags have no label-transfer column
        t_truth = truth_matrix(tiny_va, tags)
        s_all = np.concatenate([s_t[:, tiny_only].ravel(), s_va[:, tiny_only].ravel()])
        y_all = np.concatenate([t_truth[:, tiny_only].ravel(), np.zeros(s_va[:, tiny_only].size, bool)])
        a_t, c_t = fit_logistic(s_all, y_all)
        # The object names are fitted on Tiny ImageNet's own photos, where one of them is always right; on a
        # scene photo their diffuse probabilities would take the top-5 slots of weakly voted scene words. Lower
        # their offset (their order among themselves does not change) until the held-out scene photos lose
        # nothing against the uncalibrated scores.
        raw_f1 = lear_f1(s_va, truth)[0]

        def with_offset(delta: float) -> float:
            p = a_t * s_va + (c_t - delta)
            p[:, corel_cols] = a_c * s_va[:, corel_cols] + c_c
            return lear_f1(p, truth)[0]

        delta = next((d for d in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0) if with_offset(d) >= raw_f1 - 0.002), 8.0)
        log(f"object-name offset lowered by {delta:g}: held-out F1 {with_offset(0.0):.3f} -> {with_offset(delta):.3f} "
            f"(uncalibrated {raw_f1:.3f})")
        c_t -= delta
    log(f"calibration: Corel words sigmoid({a_c:.3f}*s{c_c:+.3f}), other tags sigmoid({a_t:.3f}*s{c_t:+.3f})")
    vc = len(words.corel_idx)
    word_cal = word_sigmoids(f_fixed[tr] @ tag_w[corel_cols].T, {n: desc[n][tr] for n in nb.weights},
                             labels[tr], nb, b, beta * logf[corel_cols], s_va, truth, corel_cols, (a_c, c_c),
                             (a_t, c_t), log)
    # --- the deployed tag matrix over [f, votes, 1, pad]
    A = np.full(len(tags), a_t, dtype=np.float64)
    C = np.full(len(tags), c_t, dtype=np.float64)
    A[corel_cols], C[corel_cols] = word_cal["a"], word_cal["c"]
    tag_vectors = np.zeros((len(tags), dim + vc + 2), dtype=np.float32)  # the last column (norm pad) stays 0
    tag_vectors[:, :dim] = A[:, None] * tag_w
    tag_vectors[corel_cols, dim + np.arange(vc)] = (A[corel_cols] * b)
    tag_vectors[:, dim + vc] = A * (-beta * logf) + C
    known = words.tag_known
    text_map = fit_text_map(words.tag_pretrained[known], tag_vectors[known, :dim], words.prior, ridge=1.0)
    text_map = np.hstack([text_map, np.zeros((text_map.shape[0], vc + 2), dtype=np.float32)])
    deployed = Deployed(tower.float().to(memory_format=torch.contiguous_format), nb, proj, desc, labels,
                        f_scale=f_scale).eval()
    name = args.name
    with tempfile.TemporaryDirectory(prefix="attalos-default-") as tmp:
        onnx_path = Path(tmp) / "encoder.onnx"
        kind = export_onnx(deployed, args.image_size, onnx_path, "legacy")  # type: ignore[arg-type]
        shrink_onnx(onnx_path)
        import onnxruntime as ort

        x = torch.from_numpy(np.stack([app_decoder(pre)(data / COREL / corel_all[i].file) for i in va[:16]]))
        with torch.no_grad():
            ref = deployed(x).numpy()
        got = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(
            ["embeddings"], {"images": x.numpy()})[0]
        f_diff = float(np.abs(got[:, :dim] - ref[:, :dim]).max() / np.abs(ref[:, :dim]).max())
        s_ref, s_got = ref @ tag_vectors.T, got @ tag_vectors.T
        same_top5 = float(np.mean([set(np.argsort(-a)[:5]) == set(np.argsort(-g)[:5]) for a, g in zip(s_ref, s_got)]))
        idx16 = va[:16]
        v_np = per_word_votes(combined_distance({n: desc[n][idx16] for n in nb.weights}, desc, nb), labels,
                              nb.k1, nb.tau)
        v_diff = float(np.abs(got[:, dim:dim + vc] - v_np).max())
        log(f"ONNX (float16 weights) vs torch: relative max diff {f_diff:.2e}, same top-5 tags on {same_top5:.0%}; "
            f"label-transfer votes vs numpy: max abs diff {v_diff:.2e}")
        if f_diff > 0.02:
            raise TrainError(f"exported encoder disagrees with torch (relative diff {f_diff:.3g})")
        ts = words.text
        training = {
            "recipe": "python -m trainer.default_model --data DATA --out " + str(args.out) + f" --seed {args.seed}",
            "settings": {k2: v2 for k2, v2 in vars(args).items() if k2 not in ("data", "out", "checkpoint", "cache")},
            "data": {"corel5k_train": len(corel_tr), "corel5k_held_out": len(va),
                     "tiny_imagenet_train": len(tiny_tr), "tiny_imagenet_held_out": len(tiny_va)},
            "backbone": args.backbone, "image_size": args.image_size, "epochs": ck["epoch"],
            "planned_epochs": ck["args"]["epochs"], "history": ck["history"],
            "word_vectors": words.source, "vocabulary_size": len(tags), "corel_words": vc,
            "tiny_imagenet_names": len(words.tiny_idx), "tag_layer": args.tag_layer, "tag_init": args.tag_init,
            "loss": "softmax cross-entropy over all tags for Corel photos (K = V negatives); over the Tiny ImageNet "
                    "names for Tiny ImageNet photos",
            "deployment": {"test_time_flip": True, "label_transfer": "2PKNN per-word neighbours",
                           "label_transfer_k1": nb.k1, "label_transfer_tau": nb.tau,
                           "label_transfer_descriptors": {n: {"weight": w, "scale": nb.scale[n],
                                                              "dims": int(desc[n].shape[1])}
                                                          for n, w in nb.weights.items()},
                           "label_transfer_weight": b, "frequency_calibration_beta": beta,
                           "label_transfer_bank": f"{len(corel_all)} Corel-5k train photos (descriptors and tags, "
                                                  "no pixels)",
                           "sigmoid_corel": [a_c, c_c], "sigmoid_other": [a_t, c_t],
                           "per_word_sigmoids": {k2: word_cal.get(k2) for k2 in ("ridge", "fitted_on", "f1", "n_plus",
                                                                                 "shared_f1", "shared_n_plus",
                                                                                 "fitted_best_f1")},
                           "f_scale": f_scale,
                           "embedding_layout": f"[f(x) {dim}, label-transfer votes {vc}, constant 1, norm pad 1]"},
            "held_out_choice": {"model_only_f1": base_f1, "model_only_n_plus": base_np, "f1": f1, "n_plus": npl,
                                "label_transfer_f1": nb_record,
                                "grid_top5": [list(r) for r in results[:5]]},
            "onnx_exporter": kind, "onnx_relative_diff": f_diff, "onnx_same_top5": same_top5,
            "onnx_votes_max_abs_diff": v_diff,
            "seconds_training": round(sum(h.get("seconds", 0) for h in ck["history"]), 1),
            "seed": args.seed,
            "note": args.note,
        }
        path = write_bundle(
            args.out, name=name, encoder_onnx=onnx_path, preprocessing=pre,
            text=TextConfig(ngram_min=ts.ngram_min, ngram_max=ts.ngram_max, buckets=ts.ngram_vectors.shape[0],
                            pretrained_dim=words.tag_pretrained.shape[1], source=words.source),
            tags=tags, tag_vectors=tag_vectors, tag_freq=words.vocab.freq, words=ts.words,
            word_vectors=ts.vectors.reshape(len(ts.words), words.tag_pretrained.shape[1]),
            ngram_vectors=ts.ngram_vectors, text_map=text_map, training=training, metrics={},
        )
    mpath = path / "manifest.json"
    manifest = json.loads(mpath.read_text(encoding="utf-8"))
    manifest["description"] = ("Tags everyday photos: 260 Corel-5k scene words and 200 Tiny ImageNet object names, "
                               "trained from scratch on CPU; any other word is searched through WordLlama vectors.")
    mpath.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    m = evaluate_bundle(path, data / COREL, threads=args.threads)
    head = {f"corel5k_{k2}": m[k2] for k2 in ("lear_precision", "lear_recall", "lear_f1", "lear_n_plus",
                                               "map_images", "map_tags") if k2 in m}
    update_metrics(path, head)
    log(f"Corel-5k test (ONNX Runtime, as the app runs it): P {m['lear_precision']:.3f} R {m['lear_recall']:.3f} "
        f"F1 {m['lear_f1']:.3f} N+ {m['lear_n_plus']}")
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    log(f"bundle {path}: {size / 1e6:.1f} MB")
    return {"bundle": str(path), "metrics": head, "bytes": size}


# ------------------------------------------------------------------------------------------------- CLI
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m trainer.default_model", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", required=True, help="the shared data folder (corel5k/, tiny-imagenet-200/, ...)")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--name", help="model name (default: the --out folder name)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--stage", default="all", choices=("all", "train", "build"),
                   help="train only, build the bundle from the checkpoint only, or both")
    p.add_argument("--checkpoint", help="default: /tmp/<name>.ckpt.pt")
    p.add_argument("--resume", action="store_true", help="continue training from --checkpoint")
    p.add_argument("--cache", default="/tmp/attalos-default-model-cache",
                   help="where decoded photos are cached between runs ('' for none); never inside the repo")
    p.add_argument("--backbone", default="resnet18_l3")
    p.add_argument("--image-size", type=int, default=96)
    p.add_argument("--resize", type=int, default=0,
                   help="the app resizes the shorter side to this before the centre crop (0: --image-size)")
    p.add_argument("--descriptor-dim", type=int, default=128,
                   help="PCA dimensions kept of each hand-crafted descriptor in the label-transfer bank")
    p.add_argument("--tiny-size", type=int, default=64, help="Tiny ImageNet crop size at the full --image-size")
    p.add_argument("--progressive", default="0.35:64,0.7:80",
                   help="progressive resizing, FRACTION_OF_EPOCHS:PIXELS,... ('' for none)")
    p.add_argument("--epochs", type=int, default=30, help="passes over the Corel train photos")
    p.add_argument("--restart-epochs", type=int, default=10,
                   help="after --epochs, a second cosine cycle (peak 0.3x --lr) of this many epochs at full size")
    p.add_argument("--batch-size", type=int, default=64, help="Corel photos per step")
    p.add_argument("--tiny-batch", type=int, default=32, help="Tiny ImageNet photos per step (0: Corel only)")
    p.add_argument("--tiny-weight", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--min-scale", type=float, default=0.3, help="smallest crop area of random resized crops")
    p.add_argument("--jitter", type=float, default=0.3, help="brightness/contrast/saturation jitter")
    p.add_argument("--tag-layer", default="optimised", choices=("optimised", "frozen"))
    p.add_argument("--tag-init", default="wordvectors", choices=("wordvectors", "random"))
    p.add_argument("--word-vectors", default="wordllama")
    p.add_argument("--dim", type=int, default=0)
    p.add_argument("--extra-words", type=int, default=6000)
    p.add_argument("--ngram-buckets", type=int, default=4096)
    p.add_argument("--corel-val", type=int, default=500, help="Corel train photos held out for the choices")
    p.add_argument("--tiny-val-per-class", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--note", default="", help="free text recorded in the manifest (e.g. how a run deviated)")
    p.add_argument("--hold-out-words", type=int, default=0,
                   help="keep this many Corel words out of training (zero-shot test; ablation runs)")
    p.add_argument("--plain", action="store_true",
                   help="export the bare model (no flip, label transfer or calibration; ablation runs)")
    p.add_argument("--stop-after", type=float, default=0,
                   help="seconds: stop training after the epoch that passes this (0: run all epochs)")
    args = p.parse_args(argv)
    args.name = args.name or Path(args.out).name
    args.checkpoint = args.checkpoint or f"/tmp/{args.name}.ckpt.pt"
    if args.cache == "":
        args.cache = None
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    log: Log = lambda s: print(f"[{time.strftime('%H:%M:%S')}] {s}", file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    try:
        info: dict[str, Any] = {}
        if args.stage in ("all", "train"):
            info["train"] = train_stage(args, log)
        if args.stage in ("all", "build"):
            info["build"] = build_stage(args, log)
    except TrainError as exc:
        print(f"trainer.default_model: error: {exc}", file=sys.stderr)
        return 2
    took = time.perf_counter() - t0
    print(f"done in {took / 60:.1f} min ({took:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
