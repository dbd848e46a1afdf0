"""Export stage: TagProp/2PKNN label transfer over one corpus's train photos, deployed inside the encoder.

Any model the trainer makes can be exported this way (``--label-transfer CORPUS``, or a recipe's
``[export] label_transfer``): the exported ONNX encoder averages the embedding of the photo and its
mirror image, computes hand-crafted colour, layout and edge descriptors of the same input
(:mod:`trainer.handcrafted`) and does 2PKNN label transfer over the bank corpus's train photos
(:mod:`trainer.label_transfer`): for every word, the k1 nearest train photos carrying it vote,
"nearest" being a weighted sum of per-descriptor distances (the CNN's two and the hand-crafted ones,
PCA-reduced into a float16 bank). It outputs ``[f(x), votes(x), 1, pad]`` at a constant length, and
each tag's vector in the bundle is ``[a*v_t, a*b*onehot_t, bias_t, 0]``, so the app's unchanged
``sigmoid(tag_vectors . e)`` computes ``a*(v_t.f + b*vote_t - beta*log freq_t) + c``: model score +
label transfer + per-tag frequency calibration (raising rare words for LEAR recall / N+), with (a, c)
a logistic fit so that the sigmoid reads as a probability. The descriptor weights, k1, the kernel
width, b and beta are chosen on the bank corpus's held-out train photos; the other tags' calibration
on the other corpora's held-out photos. A version-1 bundle, nothing new for the app to learn; the
manifest's ``training.tower_dim`` tells the trainer where f(x) ends, so ``--init`` continues from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from attalos_desktop.core.bundle import Preprocessing

from .augment import crop_tensor
from .data import load_rgb
from .errors import TrainError
from .handcrafted import Handcrafted
from .label_transfer import (
    Deployed,
    Neighbourhood,
    Projection,
    choose_neighbourhood,
    combined_distance,
    fit_projection,
    fit_word_sigmoids,
    normalise,
    per_word_votes,
)
from .model import Tower
from .textspace import fit_text_map

Log = Callable[[str], None]
N_PLUS_SLACK = 0.02  # F1 given up on the held-out photos, at most, for more words with recall
SHARED_OFFSETS = (-0.25, -0.5, -0.75, -1.0, -1.25, -1.5)  # logit steps tried on the shared words (see below)


def app_decoder(pre: Any) -> Callable[[Path], np.ndarray]:
    """The app's own decode rule (attalos_desktop.core.imageio), the trainer's copy as a fallback."""
    try:
        from attalos_desktop.core.imageio import decode_for_model

        return lambda path: decode_for_model(path, pre).tensor
    except ImportError:
        return lambda path: crop_tensor(load_rgb(Path(path), pre), pre)


@torch.no_grad()
def describe(
    tower: Tower,
    paths: Sequence[Path],
    pre: Any,
    batch: int = 128,
    descriptors: bool = True,
    head: torch.nn.Module | None = None,
    flip: bool = True,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each photo decoded as the app decodes it: the flip-averaged embedding, and (``descriptors``) those
    of the label transfer (hand-crafted ones and ``trunk``, the flip-averaged trunk features before the
    projection); with a teacher ``head`` also its class logits (``teacher``)."""
    decode = app_decoder(pre)
    hand = Handcrafted(norm=tower.input_norm).eval() if descriptors else None
    tower.eval()
    out: list[np.ndarray] = []
    feats: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(paths), batch):
        x = torch.from_numpy(np.stack([decode(p) for p in paths[i : i + batch]]))
        if hand is not None:
            for k, v in hand(x).items():
                feats.setdefault(k, []).append(v.numpy())
        x = x.contiguous(memory_format=torch.channels_last)
        t = tower.trunk(x)
        if flip:  # as the deployed encoder does; the projection is linear: f = proj(mean)
            t = (t + tower.trunk(x.flip(3))) * 0.5
        if hand is not None:
            feats.setdefault("trunk", []).append(normalise(t.numpy()))
        if head is not None:
            feats.setdefault("teacher", []).append(head(t).numpy())
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


def lear_f1(scores: np.ndarray, truth: np.ndarray, cols: np.ndarray | None = None) -> tuple[float, int]:
    """LEAR F1 and N+ of 5 words per photo, chosen among ``cols`` (the benchmark's own words, as its
    published methods are scored; None: every tag)."""
    from .evaluate import lear

    if cols is not None:
        scores, truth = scores[:, cols], truth[:, cols]
    r = lear(scores, truth, 5)
    return r["f1"], r["n_plus"]


def _better(f1: float, n_plus: int, best_f1: float, best_n_plus: int) -> bool:
    """More words reached at nearly the same held-out F1 (``N_PLUS_SLACK``), or as many at a higher F1."""
    if f1 < best_f1 - N_PLUS_SLACK:
        return False
    return n_plus > best_n_plus or (n_plus == best_n_plus and f1 > best_f1)


def word_sigmoids(
    logits_bank: np.ndarray,
    bank: dict[str, np.ndarray],
    labels: np.ndarray,
    nb: Neighbourhood,
    b: float,
    prior: np.ndarray,
    s_va: np.ndarray,
    truth: np.ndarray,
    corel_cols: np.ndarray,
    corel_cal: tuple[float, float],
    other_cal: tuple[float, float],
    log: Log,
) -> dict[str, Any]:
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
        return lear_f1(p, truth, corel_cols)

    shared = (np.full(vc, corel_cal[0], np.float32), np.full(vc, corel_cal[1], np.float32))
    base = held_out(*shared)
    best: dict[str, Any] = {
        "a": shared[0],
        "c": shared[1],
        "ridge": None,
        "f1": base[0],
        "n_plus": base[1],
        "shared_f1": base[0],
        "shared_n_plus": base[1],
        "fitted_best_f1": 0.0,
    }
    for rho in (1.0, 3.0, 10.0, 30.0, 100.0, 300.0):
        a, c = fit_word_sigmoids(s_loo, labels.astype(bool), corel_cal[0], corel_cal[1], rho)
        f1, npl = held_out(a, c)
        log(
            f"  per-word sigmoids, ridge {rho:g}: held-out F1 {f1:.3f} N+ {npl} (shared calibration {base[0]:.3f} "
            f"N+ {base[1]})"
        )
        best["fitted_best_f1"] = max(best["fitted_best_f1"], f1)
        if _better(f1, npl, best["f1"], best["n_plus"]):
            best.update(a=a, c=c, ridge=rho, fitted_on="the bank photos, leave-one-out", f1=f1, n_plus=npl)
    # The same on the held-out photos themselves (photos the CNN never saw), cross-fitted: fit on one half,
    # score the other, so the held-out F1 stays an out-of-sample estimate.
    halves = np.array_split(np.random.default_rng(0).permutation(len(s_va)), 2)
    for rho in (3.0, 10.0, 30.0, 100.0):
        scores = other_cal[0] * s_va + other_cal[1]
        for fit, ev in ((halves[0], halves[1]), (halves[1], halves[0])):
            a, c = fit_word_sigmoids(
                s_va[fit][:, corel_cols], truth[fit][:, corel_cols], corel_cal[0], corel_cal[1], rho
            )
            scores[np.ix_(ev, corel_cols)] = a * s_va[ev][:, corel_cols] + c
        f1, npl = lear_f1(scores, truth, corel_cols)
        log(f"  per-word sigmoids on the held-out photos, ridge {rho:g}, cross-fitted: F1 {f1:.3f} N+ {npl}")
        best["fitted_best_f1"] = max(best["fitted_best_f1"], f1)
        if _better(f1, npl, best["f1"], best["n_plus"]):
            a, c = fit_word_sigmoids(s_va[:, corel_cols], truth[:, corel_cols], corel_cal[0], corel_cal[1], rho)
            best.update(a=a, c=c, ridge=rho, fitted_on="held-out photos (cross-fitted estimate)", f1=f1, n_plus=npl)
    log(
        f"per-word sigmoids: {'ridge ' + format(best['ridge'], 'g') if best['ridge'] else 'not used'} "
        f"(held-out F1 {best['f1']:.3f} N+ {best['n_plus']})"
    )
    return best


def deployed_preprocessing(image_size: int, norm: Any = None) -> Preprocessing:
    """Centre crop after resizing the shorter side to the input size, so a 3:2 photo keeps its full
    height and two thirds of its width (the 8/7 rule of ImageNet models would lose half of it).
    ``norm``: the tower's input (mean, std) (``Tower.input_norm``), torchvision's ImageNet one by default."""
    from .data import IMAGENET_MEAN, IMAGENET_STD

    mean, std = norm if norm is not None else (IMAGENET_MEAN, IMAGENET_STD)
    return Preprocessing(input_size=image_size, resize=image_size, mean=tuple(mean), std=tuple(std))


def export_with_label_transfer(
    result: Any, out_dir: str | Path, *, name: str, description: str, log: Log
) -> tuple[Path, float]:
    """Choose the label transfer on held-out photos, build the deployed encoder and write the bundle."""
    from .evaluate import truth_matrix
    from .export import write_model_bundle

    setup = result.setup
    args: argparse.Namespace = setup.args
    corpora = setup.corpora or []
    bank_c = next((c for c in corpora if c.name == args.label_transfer), None)
    if bank_c is None:
        raise TrainError(
            f"--label-transfer {args.label_transfer}: not one of the corpora "
            f"({', '.join(c.name for c in corpora) or 'none: give several --data or a recipe'})"
        )
    if not bank_c.held_out:
        raise TrainError(
            f"--label-transfer {bank_c.name}: the corpus needs held-out train photos (held_out) "
            "to choose the label transfer on"
        )
    vocab = setup.vocab
    tags = vocab.tags
    dim = setup.dim
    tower: Tower = result.tower.to("cpu").float().to(memory_format=torch.channels_last).eval()
    tag_w = result.table.weight.numpy().astype(np.float32)
    pre = dataclasses.replace(
        deployed_preprocessing(args.image_size, getattr(tower, "input_norm", None)),
        preview_min_side=getattr(args, "preview_min_side", 0),
    )
    root = bank_c.spec.path
    bank_all = list(bank_c.train) + list(bank_c.held_out)
    tr = np.arange(len(bank_c.train))
    va = np.arange(len(bank_c.train), len(bank_all))
    others_va = [(c.spec.path, r) for c in corpora if c is not bank_c for r in c.held_out]
    t0 = time.perf_counter()
    head = _teacher_head(setup)
    flip = getattr(args, "test_time_flip", "on") != "off"
    emb_bank, hand = describe(tower, [root / r.file for r in bank_all], pre, head=head, flip=flip)
    emb_other, other_hand = (
        describe(tower, [p / r.file for p, r in others_va], pre, descriptors=False, head=head, flip=flip)
        if others_va
        else (np.zeros((0, dim), np.float32), {})
    )
    # the teacher's logits on the held-out photos: the bank's, then the other corpora's
    teacher_logits = (
        np.concatenate(
            [hand.pop("teacher")[va_slice(bank_c)], *([other_hand["teacher"]] if "teacher" in other_hand else [])]
        )
        if head is not None
        else None
    )
    log(f"described {len(emb_bank) + len(emb_other)} bank and held-out photos in {time.perf_counter() - t0:.0f} s")
    bank_ids = np.unique(np.concatenate(bank_c.ids))  # the words the bank's photos carry
    bank_pos = {int(t): j for j, t in enumerate(bank_ids)}
    labels = np.zeros((len(bank_all), len(bank_ids)), dtype=np.uint8)
    for i, r in enumerate(bank_all):
        for t in r.tags:
            j = vocab.index.get(t)
            if j is not None and int(j) in bank_pos:
                labels[i, bank_pos[int(j)]] = 1
    # --- the descriptors of the bank: PCA-reduced hand-crafted ones and the normalised embedding
    proj = {n: fit_projection(v, 128) for n, v in hand.items()}
    desc = {n: proj[n](v) for n, v in hand.items()}
    desc["cnn"] = normalise(emb_bank)
    proj["cnn"] = Projection(np.zeros(dim, np.float32), None)
    # --- choices on the held-out bank photos: bank = the trained photos
    truth = truth_matrix([bank_all[i] for i in va], tags)
    # The deployed embedding carries f(x) at a fixed length (label_transfer.Deployed), so the model's
    # own scores are computed on that rescaled f throughout.
    f_scale = float(np.linalg.norm(emb_bank, axis=1).mean())
    f_fixed = f_scale * normalise(emb_bank)
    logits = f_fixed[va] @ tag_w.T
    logf = np.log(vocab.freq.astype(np.float64))
    vc = len(bank_ids)
    onehot = np.zeros((vc, len(tags)), dtype=np.float32)
    onehot[np.arange(vc), bank_ids] = 1.0
    base_f1, base_np = lear_f1(logits, truth, bank_ids)
    bank_truth, bank_logf = truth[:, bank_ids], logf[bank_ids]

    def votes_f1(v: np.ndarray) -> float:
        return max(lear_f1(v - beta * bank_logf, bank_truth)[0] for beta in (0.0, 0.0025, 0.005, 0.01))

    log(f"choosing the label-transfer neighbourhood on the {len(va)} held-out {bank_c.name} photos:")
    nb, nb_f1, nb_record = choose_neighbourhood(
        {n: d[va] for n, d in desc.items()}, {n: d[tr] for n, d in desc.items()}, labels[tr], votes_f1, log
    )
    votes_raw_va = per_word_votes(
        combined_distance({n: desc[n][va] for n in nb.weights}, {n: desc[n][tr] for n in nb.weights}, nb),
        labels[tr],
        nb.k1,
        nb.tau,
    )
    votes_va = votes_raw_va @ onehot
    results = []
    # score = lam * model logits + votes - gamma * log frequency, written below as
    # logits + b * votes - beta * log frequency (b = 1/lam, beta = gamma/lam) for the tag matrix
    for lam in (1.0, 0.25, 0.06, 0.03, 0.015, 0.008, 0.004, 0.002, 0.001, 0.0005):
        for gamma in (0.0, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03):
            f1, npl = lear_f1(lam * logits + votes_va - gamma * logf, truth, bank_ids)
            results.append((f1, npl, 1.0 / lam, gamma / lam))
    results.sort(key=lambda r: (-r[0], -r[1]))
    # Within two points of the best F1 (inside the 500 held-out photos' noise), the setting that reaches the
    # most words: N+ is what a person notices (a word the model never says is a word lost).
    near = [r for r in results if r[0] >= results[0][0] - N_PLUS_SLACK]
    f1, npl, b, beta = max(near, key=lambda r: (r[1], r[0]))
    log(
        f"held-out {bank_c.name}: model alone F1 {base_f1:.3f} N+ {base_np}; label transfer alone {nb_f1:.3f}; "
        f"model + label transfer + calibration F1 {f1:.3f} N+ {npl} (b={b:g}, beta={beta:g})"
    )
    # --- sigmoid calibration per tag group, on held-out photos
    s_va = logits + b * votes_va - beta * logf
    a_c, c_c = fit_logistic(s_va[:, bank_ids].ravel(), truth[:, bank_ids].ravel())
    other_only = np.array(sorted(set(range(len(tags))) - set(bank_ids.tolist())), dtype=np.int64)
    a_t, c_t = a_c, c_c
    if len(other_only) and len(emb_other):
        s_t = f_scale * normalise(emb_other) @ tag_w.T - beta * logf  # no label-transfer column for these tags
        t_truth = truth_matrix([r for _, r in others_va], tags)
        s_all = np.concatenate([s_t[:, other_only].ravel(), s_va[:, other_only].ravel()])
        y_all = np.concatenate([t_truth[:, other_only].ravel(), np.zeros(s_va[:, other_only].size, bool)])
        a_t, c_t = fit_logistic(s_all, y_all)
        # The other corpora's names are fitted on their own photos, where one of them is always right; on a
        # bank photo their diffuse probabilities would take the top-5 slots of weakly voted words. Lower
        # their offset (their order among themselves does not change) until the held-out bank photos lose
        # nothing against the uncalibrated scores.
        raw_f1 = lear_f1(s_va, truth, bank_ids)[0]

        def with_offset(delta: float) -> float:
            p = a_t * s_va + (c_t - delta)
            p[:, bank_ids] = a_c * s_va[:, bank_ids] + c_c
            return lear_f1(p, truth, bank_ids)[0]

        delta = next(
            (d for d in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0) if with_offset(d) >= raw_f1 - 0.002), 8.0
        )
        log(
            f"other tags' offset lowered by {delta:g}: held-out F1 {with_offset(0.0):.3f} -> {with_offset(delta):.3f} "
            f"(uncalibrated {raw_f1:.3f})"
        )
        c_t -= delta
    log(f"calibration: {bank_c.name} words sigmoid({a_c:.3f}*s{c_c:+.3f}), other tags sigmoid({a_t:.3f}*s{c_t:+.3f})")
    word_cal = word_sigmoids(
        f_fixed[tr] @ tag_w[bank_ids].T,
        {n: desc[n][tr] for n in nb.weights},
        labels[tr],
        nb,
        b,
        beta * logf[bank_ids],
        s_va,
        truth,
        bank_ids,
        (a_c, c_c),
        (a_t, c_t),
        log,
    )
    # --- the deployed tag matrix over [f, votes, 1, pad]
    A = np.full(len(tags), a_t, dtype=np.float64)
    C = np.full(len(tags), c_t, dtype=np.float64)
    teacher_cal: dict[str, Any] = {}
    penalty = beta * logf  # the frequency calibration, per tag
    if teacher_logits is not None:
        # The teacher's words are calibrated against its probabilities, which already carry how common a
        # word is: no frequency penalty for them, only the model's score, per word.
        cols = np.setdiff1d(setup.teacher.word_ids, bank_ids)
        penalty[cols] = 0.0
        f_held = f_scale * normalise(np.concatenate([emb_bank[va], emb_other]))
        A[cols], C[cols], teacher_cal = teacher_word_sigmoids(
            f_held @ tag_w[cols].T,
            setup.teacher,
            cols,
            teacher_logits,
            log,
        )
    A[bank_ids], C[bank_ids] = word_cal["a"], word_cal["c"]
    V = np.zeros(len(tags), dtype=np.float64)  # each tag's weight on its label-transfer vote
    V[bank_ids] = A[bank_ids] * b
    tag_vectors = tag_matrix(tag_w, A, V, A * (-penalty) + C, bank_ids, vc)
    if teacher_logits is not None:
        tag_vectors, teacher_cal["shared_words"] = _teacher_for_shared_words(
            tag_vectors,
            tag_w,
            setup.teacher,
            bank_ids,
            np.hstack([f_fixed[va], votes_raw_va]),
            f_held,
            teacher_logits,
            truth,
            tags,
            log,
        )
    known = setup.tag_known
    text_map = fit_text_map(setup.tag_pretrained[known], tag_vectors[known, :dim], setup.prior, ridge=1.0)
    text_map = np.hstack([text_map, np.zeros((text_map.shape[0], vc + 2), dtype=np.float32)])
    deployed = Deployed(
        tower.float().to(memory_format=torch.contiguous_format), nb, proj, desc, labels, f_scale=f_scale, flip=flip
    ).eval()
    x = torch.from_numpy(np.stack([app_decoder(pre)(root / bank_all[i].file) for i in va[:16]]))
    v_np = per_word_votes(combined_distance({n: desc[n][va[:16]] for n in nb.weights}, desc, nb), labels, nb.k1, nb.tau)
    deployment = {
        "test_time_flip": flip,
        "label_transfer": f"2PKNN per-word neighbours over {bank_c.name}",
        "label_transfer_k1": nb.k1,
        "label_transfer_tau": nb.tau,
        "label_transfer_descriptors": {
            n: {"weight": w, "scale": nb.scale[n], "dims": int(desc[n].shape[1])} for n, w in nb.weights.items()
        },
        "label_transfer_weight": b,
        "frequency_calibration_beta": beta,
        "label_transfer_bank": f"{len(bank_all)} {bank_c.name} train photos (descriptors and tags, no pixels)",
        "sigmoid_bank_words": [a_c, c_c],
        "sigmoid_other": [a_t, c_t],
        "per_word_sigmoids": {
            k: word_cal.get(k)
            for k in ("ridge", "fitted_on", "f1", "n_plus", "shared_f1", "shared_n_plus", "fitted_best_f1")
        },
        "teacher_word_sigmoids": teacher_cal or None,
        "f_scale": f_scale,
        "embedding_layout": f"[f(x) {dim}, label-transfer votes {vc}, constant 1, norm pad 1]",
        "held_out_choice": {
            "model_only_f1": base_f1,
            "model_only_n_plus": base_np,
            "f1": f1,
            "n_plus": npl,
            "label_transfer_f1": nb_record,
            "grid_top5": [list(r) for r in results[:5]],
        },
    }
    return write_model_bundle(
        result,
        out_dir,
        name=name,
        description=description,
        encoder=deployed,
        pre=pre,
        sample=x,
        float16=True,
        tag_vectors=tag_vectors,
        text_map=text_map,
        extra_training={"deployment": deployment},
        log=log,
        check_columns=(dim, v_np),
        tower_dtype=args.tower_dtype,
        exporter="legacy",
    )


def va_slice(bank_c: Any) -> slice:
    """The bank corpus's held-out photos among ``train + held_out``."""
    return slice(len(bank_c.train), len(bank_c.train) + len(bank_c.held_out))


def _teacher_head(setup: Any) -> torch.nn.Module | None:
    """The ImageNet classifier that taught the model (``--teacher imagenet``), for calibrating its words."""
    if setup.teacher is None:
        return None
    from .teacher import imagenet_classifier

    return imagenet_classifier(setup.args.init)


def teacher_word_sigmoids(
    s: np.ndarray, teacher: Any, cols: np.ndarray, logits: np.ndarray, log: Log, rho: float = 10.0
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Per-word sigmoids for the words the ImageNet classifier taught, fitted on held-out photos against its
    probabilities (a soft truth every photo has), so that 0.6 means about the same for "cat" and "zebra".

    ``s`` [N, len(cols)]: the words' raw deployed scores; one shared sigmoid first, then one per word shrunk
    toward it (ridge ``rho``: a word the held-out photos rarely show stays near the shared one).
    """
    from .label_transfer import fit_word_sigmoids

    target = teacher.targets(logits)[:, np.searchsorted(teacher.word_ids, cols)]
    a0, c0 = fit_logistic(s.ravel(), target.ravel())
    a, c = fit_word_sigmoids(s, target, a0, c0, rho)

    def brier(p: np.ndarray) -> float:
        return float(((p - target) ** 2).mean())

    p = 1 / (1 + np.exp(-(a * s + c)))
    shared, per_word = brier(1 / (1 + np.exp(-(a0 * s + c0)))), brier(p)
    # where the teacher is sure (p > 0.5), how sure the calibrated model is, word by word
    sure = target > 0.5
    log(
        f"teacher words: {len(cols)} per-word sigmoids on {len(s)} held-out photos (ridge {rho:g}); "
        f"Brier score vs the teacher {shared:.5f} shared -> {per_word:.5f} per word"
    )
    return (
        a.astype(np.float64),
        c.astype(np.float64),
        {
            "words": int(len(cols)),
            "held_out_photos": int(len(s)),
            "ridge": rho,
            "shared": [float(a0), float(c0)],
            "brier_shared": shared,
            "brier_per_word": per_word,
            "mean_score_where_teacher_sure": float(p[sure].mean()) if sure.any() else None,
        },
    )


def tag_matrix(
    tag_w: np.ndarray, model: np.ndarray, votes: np.ndarray, bias: np.ndarray, bank_ids: np.ndarray, vc: int
) -> np.ndarray:
    """The deployed tag matrix over ``[f, votes, 1, pad]``: row t is ``[model_t v_t, votes_t onehot, bias_t, 0]``."""
    dim = tag_w.shape[1]
    out = np.zeros((len(tag_w), dim + vc + 2), dtype=np.float32)  # the last column (norm pad) stays 0
    out[:, :dim] = model[:, None] * tag_w
    out[bank_ids, dim + np.arange(vc)] = votes[bank_ids]
    out[:, dim + vc] = bias
    return out


def _teacher_for_shared_words(
    tag_vectors: np.ndarray,
    tag_w: np.ndarray,
    teacher: Any,
    bank_ids: np.ndarray,
    deployed_va: np.ndarray,
    f_held: np.ndarray,
    logits: np.ndarray,
    truth: np.ndarray,
    tags: Sequence[str],
    log: Log,
) -> tuple[np.ndarray, dict[str, Any]]:
    """General words both the bank corpus and the teacher speak for ("cat": Corel's are big cats, ImageNet's
    pets too).

    Their score becomes the teacher-calibrated model score plus the label-transfer vote (evidence from both
    adds up), instead of the bank's calibration alone, which leaves a tabby without "cat". Kept only if the
    held-out bank photos lose at most ``N_PLUS_SLACK`` of F1 and 5% of the words reached.
    """
    # General words only: a class name (zebra, lynx) means the same to both, and the bank's calibration and
    # votes already serve it; a general word may not ("cat": Corel's big cats, WordNet's house cats).
    both = np.intersect1d(teacher.word_ids[teacher.general], bank_ids)
    if not len(both):
        return tag_vectors, {"words": 0}
    a, c, _ = teacher_word_sigmoids(f_held @ tag_w[both].T, teacher, both, logits, log)
    hybrid = tag_vectors.copy()
    dim = tag_w.shape[1]
    hybrid[both, :dim] = a[:, None] * tag_w[both]
    hybrid[both, -2] = c  # the vote column keeps the bank's weight; no frequency penalty
    ones = np.ones((len(deployed_va), 1), np.float32)
    x = np.hstack([deployed_va, ones, np.zeros_like(ones)])
    # A word the bank's calibration had the held-out photos find, and the hybrid loses, keeps the bank's.
    hit_before = _hits(x @ tag_vectors.T, truth, bank_ids)
    hit_after = _hits(x @ hybrid.T, truth, bank_ids)
    lost = [t for t in both if hit_before[t] > 0 and hit_after[t] == 0]
    hybrid[lost] = tag_vectors[lost]
    before = lear_f1(x @ tag_vectors.T, truth, bank_ids)
    # Evidence added up makes the shared words win places among a photo's five that rarer words held: their
    # common offset is lowered, in steps, until the held-out photos reach as many words as before (or the
    # steps run out), never below the F1 the bank's calibration had less N_PLUS_SLACK.
    moved = np.setdiff1d(both, lost)
    base = hybrid[moved, -2].copy()

    def with_offset(delta: float) -> tuple[float, int]:
        hybrid[moved, -2] = base + delta
        return lear_f1(x @ hybrid.T, truth, bank_ids)

    after, offset = shared_offset(with_offset, before)
    hybrid[moved, -2] = base + offset
    # A pet cat named "cat" is worth a little of the benchmark: at most N_PLUS_SLACK of held-out F1 and 5% of
    # the bank's words with recall (500 held-out photos: a few words come and go between runs).
    take = after[0] >= before[0] - N_PLUS_SLACK and after[1] >= before[1] - max(1, round(0.05 * labels_n(truth)))
    log(
        f"{len(both)} words shared by the bank and the teacher ({', '.join(tags[i] for i in both[:8])}...; "
        f"{len(lost)} keep the bank's calibration, which found them on held-out photos and the hybrid did not): "
        f"teacher calibration + votes, offset {offset:+.2f}, gives held-out F1 {after[0]:.3f} N+ {after[1]} against {before[0]:.3f} N+ "
        f"{before[1]}: {'taken' if take else 'not taken'}"
    )
    info = {
        "words": int(len(both)),
        "kept_the_bank_calibration": [tags[t] for t in lost],
        "held_out_f1": [before[0], after[0]],
        "held_out_n_plus": [before[1], after[1]],
        "offset": offset,
    }
    return (hybrid if take else tag_vectors), {**info, "taken": bool(take)}


def shared_offset(
    evaluate: Callable[[float], tuple[float, int]], before: tuple[float, int]
) -> tuple[tuple[float, int], float]:
    """The offset of the shared words closest to 0 (of 0 and SHARED_OFFSETS) whose held-out (F1, N+) from
    ``evaluate`` reaches ``before``'s N+; the steps stop where F1 would fall below ``before``'s less
    N_PLUS_SLACK. Returns that (F1, N+) and the offset."""
    after, offset = (0.0, 0), 0.0
    for i, delta in enumerate((0.0, *SHARED_OFFSETS)):
        got = evaluate(delta)
        if i and got[0] < before[0] - N_PLUS_SLACK:
            break
        after, offset = got, delta
        if got[1] >= before[1]:
            break
    return after, offset


def labels_n(truth: np.ndarray) -> int:
    """Words that occur among the held-out photos' labels."""
    return int((truth.sum(0) > 0).sum())


def _hits(scores: np.ndarray, truth: np.ndarray, cols: np.ndarray) -> dict[int, int]:
    """Per tag id of ``cols``: how many photos have it right among their 5 best words of ``cols``."""
    s, t = scores[:, cols], truth[:, cols]
    top = np.argpartition(-s, 4, axis=1)[:, :5]
    pred = np.zeros_like(t, dtype=bool)
    pred[np.arange(len(s))[:, None], top] = True
    return {int(c): int(n) for c, n in zip(cols, (pred & t).sum(0))}
