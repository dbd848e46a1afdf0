"""``attalos-desktop-train --library``: fine-tune a library's bundle on the user's own tags.

Head mode (the default) keeps the image encoder as it is, so the library needs no re-embedding and
every bundle can be fine-tuned, the shipped default included. Only the tag vectors of the user's
words learn, on the photos' stored embeddings:

- a word new to the bundle starts where the bundle's text encoder puts it (its pretrained word vector,
  else its sub-word pieces, mapped into the joint space); a word the bundle knows starts at its row;
- the loss is the trainer's negative-sampling loss (``trainer/loss.py``) with every draw's expected
  weight instead of a draw: positives are a photo's user words; negatives are the other user words
  (weight min(1, K * p(word)), p following frequency ** 0.75, as K sampled negatives would give),
  the words the user rejected on the photo (weight 1), and, for every word, a sample of untagged
  library photos (together worth ``--background-share`` of the tagged photos: they may well show it);
- an L2 pull toward the start vector (``--prior``, in units of "one photo's worth") keeps a word seen
  on three photos from overfitting them.

With the embeddings fixed the problem is convex, so full-batch L-BFGS solves it in seconds on a CPU.
The bundle's other rows, its encoder and its text data are copied unchanged (same encoder id).

Evaluation: the photos held out by ``split_words``; for the user's words only, three systems side
by side: the base bundle (its row, or its text-encoder vector for a new word), the app's instant
personal suggestions (``attalos_desktop.core.personal``, built from the training photos), and the
fine-tuned rows. See ``evaluate`` for the rules.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from attalos_desktop.core.bundle import MANIFEST, REQUIRED_FILES, ModelBundle, write_bundle
from attalos_desktop.core.text_encoder import TextEncoder

from .errors import TrainError
from .library_data import LibraryData, Split, check_library, open_library_bundle, read_tags, read_vectors, split_words
from .loss import negative_sampling_loss
from .progress import Bar

TOWER_WEIGHTS = "tower.safetensors"
PROGRESS_EVERY_S = 0.25
THRESHOLD = 0.5


# -- progress ----------------------------------------------------------------------------------------
class Reporter:
    """Progress as JSON lines on stdout (``--progress-json``, for the app) or bars on stderr."""

    def __init__(self, json_lines: bool, quiet: bool) -> None:
        self.json_lines = json_lines
        self.quiet = quiet
        self._last: dict[str, float] = {}
        self._sent: dict[str, tuple[int, int]] = {}
        self._bar: Any = None
        self._bar_phase = ""

    def _emit(self, obj: dict[str, Any]) -> None:
        print(json.dumps(obj, default=float), flush=True)

    def log(self, text: str) -> None:
        if not self.quiet and not self.json_lines:
            self._close_bar()
            print(text, file=sys.stderr, flush=True)

    def start(self, photos: int, words: int, mode: str) -> None:
        if self.json_lines:
            self._emit({"event": "start", "photos": photos, "words": words, "mode": mode})

    def progress(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        first = phase not in self._last
        if self._sent.get(phase) == (done, total):
            return
        if not first and done < total and now - self._last[phase] < PROGRESS_EVERY_S:
            return
        self._last[phase] = now
        self._sent[phase] = (done, total)
        if self.json_lines:
            self._emit({"event": "progress", "phase": phase, "done": int(done), "total": int(total)})
        elif not self.quiet:
            self._update_bar(phase, done, total)

    def _update_bar(self, phase: str, done: int, total: int) -> None:
        if self._bar_phase != phase:
            self._close_bar()
            self._bar = Bar(total, phase, unit="", leave=False)
            self._bar_phase = phase
        if self._bar is not None:
            self._bar.to(done, total)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._bar_phase = None, ""

    def done(self, bundle: Path, metrics: dict[str, Any]) -> None:
        self._close_bar()
        if self.json_lines:
            self._emit({"event": "done", "bundle": str(bundle), "metrics": metrics})


# -- head mode: the problem and its solution ----------------------------------------------------------
def start_vectors(bundle: ModelBundle, words: list[str]) -> tuple[np.ndarray, list[str]]:
    """Each word's start: its row in the bundle, else the text encoder's vector. Returns (V0, sources)."""
    enc = TextEncoder(bundle)
    vecs, sources = [], []
    for w in words:
        wv = enc.word_vector(w)
        vecs.append(np.asarray(wv.vector, dtype=np.float32))
        sources.append(wv.source)  # "tag" (the bundle's row), "word" (pretrained vector) or "subword"
    return np.stack(vecs).astype(np.float32), sources


@dataclass
class Problem:
    """The head-mode loss as tensors for ``negative_sampling_loss``: one row per photo."""

    emb: torch.Tensor  # [M, d] train photos, then background photos
    pos: torch.Tensor  # [M, P] word indices
    pos_mask: torch.Tensor  # [M, P]
    neg: torch.Tensor  # [M, W] every word
    neg_mask: torch.Tensor  # [M, W] expected weight of each word as a negative (0 for the photo's own)
    prior_scale: float  # mean ||x||^2, so --prior is scale-free


def build_problem(data: LibraryData, split: Split, args: argparse.Namespace) -> Problem:
    words = split.words
    col = {w: i for i, w in enumerate(words)}
    W = len(words)
    train = split.train
    x_train = data.vectors[train]
    pos_lists = [[col[t] for t in sorted(data.tags[i]) if t in col] for i in train]
    P = max(1, max((len(p) for p in pos_lists), default=1))
    # Expected weight of each word as a sampled negative: K draws from freq ** power.
    freq = np.array([sum(1 for i in train if w in data.tags[i]) for w in words], dtype=np.float64)
    p = np.maximum(freq, 1.0) ** args.neg_power
    q = np.minimum(1.0, args.negatives * p / p.sum())
    n_bg = len(data.background)
    n_train = len(train)
    bg_weight = (args.background_share * n_train / n_bg) if n_bg else 0.0
    M = n_train + n_bg
    pos = np.zeros((M, P), dtype=np.int64)
    pos_mask = np.zeros((M, P), dtype=np.float32)
    neg_mask = np.zeros((M, W), dtype=np.float32)
    for r, (i, pl) in enumerate(zip(train, pos_lists)):
        pos[r, : len(pl)] = pl
        pos_mask[r, : len(pl)] = 1.0
        neg_mask[r] = q
        neg_mask[r, pl] = 0.0
        for t in data.rejected[i]:
            if t in col and col[t] not in pl:
                neg_mask[r, col[t]] = 1.0
    neg_mask[n_train:] = bg_weight
    emb = np.concatenate([x_train, data.background]) if n_bg else x_train
    return Problem(
        emb=torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32)),
        pos=torch.from_numpy(pos),
        pos_mask=torch.from_numpy(pos_mask),
        neg=torch.arange(W).expand(M, W).contiguous(),
        neg_mask=torch.from_numpy(neg_mask),
        prior_scale=float((emb.astype(np.float64) ** 2).sum(1).mean()) if M else 1.0,
    )


@dataclass
class HeadResult:
    vectors: np.ndarray  # [W, d] the trained rows
    steps: int
    loss_start: float
    loss_end: float
    seconds: float


def train_head(
    problem: Problem, v0: np.ndarray, *, prior: float, max_steps: int, progress: Callable[[int, int], None]
) -> HeadResult:
    """Minimise the weighted negative-sampling loss + prior * ||v - v0||^2 (full batch, L-BFGS)."""
    t0 = time.perf_counter()
    start = torch.from_numpy(v0.astype(np.float32))
    delta = torch.zeros_like(start, requires_grad=True)
    m = problem.emb.shape[0]
    lam = prior * problem.prior_scale

    def objective() -> torch.Tensor:
        rows = start + delta
        data = (
            negative_sampling_loss(problem.emb, rows, problem.pos, problem.neg, problem.pos_mask, problem.neg_mask) * m
        )
        return data + lam * delta.pow(2).sum()

    opt = torch.optim.LBFGS(
        [delta],
        lr=1.0,
        max_iter=max_steps,
        max_eval=max_steps * 2,
        history_size=20,
        tolerance_grad=1e-9,
        tolerance_change=1e-10,
        line_search_fn="strong_wolfe",
    )
    evals = 0

    def closure() -> torch.Tensor:
        nonlocal evals
        evals += 1
        progress(min(evals, max_steps), max_steps)
        opt.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    with torch.no_grad():
        first = float(objective())
    opt.step(closure)
    steps = int(opt.state[opt._params[0]].get("n_iter", 0))
    progress(max_steps, max_steps)
    with torch.no_grad():
        end = float(objective())
    return HeadResult(
        vectors=(start + delta).detach().numpy().astype(np.float32),
        steps=steps,
        loss_start=first / max(m, 1),
        loss_end=end / max(m, 1),
        seconds=time.perf_counter() - t0,
    )


# -- evaluation ----------------------------------------------------------------------------------------
RULE = (
    "top-k: each held-out photo gets the k user words it scores highest, k = the number of user words "
    "it truly has; precision and recall per word, averaged over the words on held-out photos (LEAR-style); "
    "'at_0_5' predicts every word scoring >= 0.5 instead"
)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60, 60)))


def _per_word(pred: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    present = truth.sum(0) > 0
    tp = (pred & truth).sum(0).astype(np.float64)
    npred = pred.sum(0).astype(np.float64)
    ntrue = truth.sum(0).astype(np.float64)
    prec = np.where(npred > 0, tp / np.maximum(npred, 1), 0.0)[present]
    rec = (tp / np.maximum(ntrue, 1))[present]
    return _prf(prec, rec)


def _prf(prec: np.ndarray, rec: np.ndarray) -> dict[str, Any]:
    p = float(prec.mean()) if len(prec) else 0.0
    r = float(rec.mean()) if len(rec) else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
        "n_plus": int((rec > 0).sum()),
    }


def score_rules(scores: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """P/R/F1 of one system under the top-k rule, and under the 0.5 threshold (``at_0_5``)."""
    k = truth.sum(1)
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(scores.shape[1])[None, :].repeat(len(scores), 0), axis=1)
    out = _per_word(ranks < k[:, None], truth)
    out["at_0_5"] = {k2: v for k2, v in _per_word(scores >= THRESHOLD, truth).items()}
    return out


def chance(truth: np.ndarray) -> dict[str, Any]:
    """Expected P/R/F1 of a random ranking under the top-k rule (word w predicted with chance k_i / W)."""
    W = truth.shape[1]
    pk = truth.sum(1) / max(W, 1)
    present = truth.sum(0) > 0
    etp = (truth * pk[:, None]).sum(0)
    epred = pk.sum()
    prec = (etp / max(epred, 1e-12))[present]
    rec = (etp / np.maximum(truth.sum(0), 1))[present]
    out = _prf(prec, rec)
    out.pop("n_plus")
    return out


def instant_scores(data: LibraryData, split: Split, x: np.ndarray) -> np.ndarray:
    """The app's instant personal suggestions, built from the training photos only."""
    from attalos_desktop.core.personal import BACKGROUND, PersonalVotes

    wset = set(split.words)
    tr = split.train
    votes = PersonalVotes.build(
        data.ids[tr],
        data.vectors[tr],
        [data.tags[i] & wset for i in tr],
        [data.rejected[i] for i in tr],
        background=data.background[:BACKGROUND],
        background_ids=data.background_ids[:BACKGROUND],
        min_photos=1,
    )
    return votes.scores(x, words=split.words)


def evaluate(data: LibraryData, split: Split, v0: np.ndarray, trained: np.ndarray) -> dict[str, Any]:
    """The held-out report: chance, base bundle, instant suggestions, fine-tuned rows, side by side."""
    held = split.held_out
    col = {w: i for i, w in enumerate(split.words)}
    truth = np.zeros((len(held), len(split.words)), dtype=bool)
    for r, i in enumerate(held):
        for t in data.tags[i]:
            if t in col:
                truth[r, col[t]] = True
    x = data.vectors[held]
    report: dict[str, Any] = {
        "held_out_photos": int(len(held)),
        "train_photos": int(len(split.train)),
        "words": len(split.words),
        "words_evaluated": int((truth.sum(0) > 0).sum()),
        "rule": RULE,
        "chance": chance(truth),
    }
    if not len(held):
        return report
    report["base"] = score_rules(sigmoid(x @ v0.T), truth)
    report["instant"] = score_rules(instant_scores(data, split, x), truth)
    report["fine_tuned"] = score_rules(sigmoid(x @ trained.T), truth)
    return report


def report_table(ev: dict[str, Any]) -> str:
    lines = [
        f"held-out evaluation: {ev['held_out_photos']} photos, {ev['words_evaluated']} of {ev['words']} user words "
        f"(top-k per photo; and score >= 0.5)",
        f"  {'system':<12} {'P':>6} {'R':>6} {'F1':>6} {'N+':>4}   {'P@.5':>6} {'R@.5':>6} {'F1@.5':>6}",
    ]
    c = ev["chance"]
    lines.append(f"  {'chance':<12} {c['precision']:6.3f} {c['recall']:6.3f} {c['f1']:6.3f}")
    for key, label in (("base", "base bundle"), ("instant", "instant"), ("fine_tuned", "fine-tuned")):
        m = ev.get(key)
        if m:
            t = m["at_0_5"]
            lines.append(
                f"  {label:<12} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['n_plus']:4d}   "
                f"{t['precision']:6.3f} {t['recall']:6.3f} {t['f1']:6.3f}"
            )
    return "\n".join(lines)


# -- export ---------------------------------------------------------------------------------------------
def default_out(home: Path, base: ModelBundle) -> Path:
    """<library>/models/<base>-personal-<UTC time>; a fine-tuned base keeps its original's name."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    root = re.sub(r"-personal-\d{8}-\d{6}(-\d+)?$", "", base.name)
    out = home / "models" / f"{root}-personal-{stamp}"
    n = 2
    while out.exists():
        out = home / "models" / f"{root}-personal-{stamp}-{n}"
        n += 1
    return out


def export_head(
    base: ModelBundle,
    words: list[str],
    vectors: np.ndarray,
    counts: dict[str, int],
    out: Path,
    *,
    name: str,
    description: str,
    training: dict[str, Any],
    metrics: dict[str, Any],
) -> Path:
    """The base bundle with the user's rows: new words appended, known ones replaced; all else copied."""
    tags = list(base.tags)
    tv = base.tag_vectors.astype(np.float32).copy()
    freq = base.tag_freq.astype(np.int64).copy()
    new_rows, new_freq = [], []
    for w, v in zip(words, vectors):
        i = base.tag_index(w)
        if i is None:
            tags.append(w)
            new_rows.append(v)
            new_freq.append(counts[w])
        else:
            tv[i] = v
            freq[i] += counts[w]
    if new_rows:
        tv = np.concatenate([tv, np.stack(new_rows)])
        freq = np.concatenate([freq, np.array(new_freq, dtype=np.int64)])
    extras = {
        f: base.path / f
        for f in base.manifest.get("files", {})
        if f not in REQUIRED_FILES and f != MANIFEST and (base.path / f).is_file()
    }
    path = write_bundle(
        out,
        name=name,
        encoder_onnx=base.encoder_path,
        preprocessing=base.preprocessing,
        text=base.text,
        tags=tags,
        tag_vectors=tv,
        tag_freq=freq,
        words=base.words,
        word_vectors=base.word_vectors,
        ngram_vectors=base.ngram_vectors,
        text_map=base.text_map,
        training=training,
        metrics=metrics,
        extra_files=extras,
    )
    mpath = path / MANIFEST
    manifest = json.loads(mpath.read_text(encoding="utf-8"))
    manifest["description"] = description
    manifest["derived_from"] = {"name": base.name, "encoder_id": base.encoder_id}
    tmp = mpath.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, mpath)
    return path


# -- the command ----------------------------------------------------------------------------------------
def library_home(spec: str) -> Path:
    from attalos_desktop.core.paths import resolve_paths

    return resolve_paths(spec or None).home


def run_library(args: argparse.Namespace) -> int:
    """``--library``: read, train, evaluate, export. TrainError -> exit 2; KeyboardInterrupt -> 130."""
    rep = Reporter(args.progress_json, args.quiet or args.json)
    home = library_home(args.library)
    check_library(home)
    init = None if args.init in ("", "random") else args.init
    if init is not None and init.startswith("imagenet"):
        raise TrainError("--library fine-tunes a model bundle: --init must be a bundle folder (or left out)")
    base, base_spec = open_library_bundle(home, init)
    if args.fine_tune == "tower":
        if not (base.path / TOWER_WEIGHTS).is_file():
            raise TrainError(
                f"--fine-tune tower needs a bundle with tower weights ({TOWER_WEIGHTS}); {base.name} has "
                f"none, so only its tag layer can learn: use --fine-tune head"
            )
        raise TrainError(
            "--fine-tune tower is not available yet: use --fine-tune head (the default), or train the "
            f"image encoder with --data DIR --init {base.path}"
        )
    out = Path(args.out) if args.out else default_out(home, base)
    if out.resolve() == base.path.resolve():
        raise TrainError(f"--out {out} is the bundle being fine-tuned; write the new one elsewhere")
    name = args.name or out.name
    t0 = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = read_tags(home)
    split = split_words(data, min_photos=args.min_photos, hold_out=args.hold_out, seed=args.seed)
    rep.start(len(split.train) + len(split.held_out), len(split.words), "head")
    ok = read_vectors(
        data,
        np.concatenate([split.train, split.held_out]),
        base,
        background=args.background,
        seed=args.seed,
        progress=rep.progress,
    )
    if len(ok) < len(split.train) + len(split.held_out):
        split.train = np.intersect1d(split.train, ok)
        split.held_out = np.intersect1d(split.held_out, ok)
        rep.log(f"skipped {len(data.unreadable)} photos that could not be read (e.g. {data.unreadable[0][0]})")
        if not len(split.train):
            raise TrainError("none of the user-tagged photos could be read (moved or deleted? rescan the library)")
    rep.log(
        f"{base.name}: {len(split.words)} user words on {len(split.train)} training and "
        f"{len(split.held_out)} held-out photos; {len(data.background)} untagged photos as background"
    )
    v0, sources = start_vectors(base, split.words)
    problem = build_problem(data, split, args)
    steps = args.epochs or 100
    head = train_head(
        problem, v0, prior=args.prior, max_steps=steps, progress=lambda i, n: rep.progress("training", i, n)
    )
    rep.progress("evaluating", 0, 1)
    ev = evaluate(data, split, v0, head.vectors)
    rep.progress("evaluating", 1, 1)
    if "base" in ev:
        rep.log(report_table(ev))
    new_words = [w for w, s in zip(split.words, sources) if s != "tag"]
    summary = {
        "mode": "head",
        "library": str(home),
        "base_bundle": base.name,
        "base_path": base_spec,
        "base_encoder_id": base.encoder_id,
        "user_tagged_photos": data.user_tagged_photos,
        "train_photos": int(len(split.train)),
        "held_out_photos": int(len(split.held_out)),
        "background_photos": int(len(data.background)),
        "embedded_from_files": data.embedded_now,
        "unreadable_photos": len(data.unreadable),
        "words": len(split.words),
        "new_words": len(new_words),
        "word_starts": {s: sources.count(s) for s in sorted(set(sources))},
        "words_below_min_photos": len(split.dropped_words),
        "min_photos": args.min_photos,
        "hold_out": args.hold_out,
        "seed": args.seed,
        "prior": args.prior,
        "background_share": args.background_share,
        "negatives": args.negatives,
        "neg_power": args.neg_power,
        "optimizer": "L-BFGS, full batch",
        "steps": head.steps,
        "loss_start": round(head.loss_start, 5),
        "loss_end": round(head.loss_end, 5),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    training = dict(base.manifest.get("training", {}))  # keeps backbone and tower_weights: --init still works
    training["fine_tune"] = summary
    metrics = {"personal_eval": ev}
    metrics.update({k: v for k, v in base.manifest.get("metrics", {}).items() if k != "personal_eval"})
    description = (
        f"{base.name} fine-tuned (tag layer only) on {len(split.words)} user words from "
        f"{len(split.train)} photos of the library {home}; the image encoder is the base bundle's. "
        f"Metrics other than personal_eval are the base bundle's."
    )
    rep.progress("exporting", 0, 1)
    path = export_head(
        base,
        split.words,
        head.vectors,
        split.counts,
        out,
        name=name,
        description=description,
        training=training,
        metrics=metrics,
    )
    rep.progress("exporting", 1, 1)
    rep.log(f"bundle written to {path} ({head.steps} L-BFGS steps, {summary['seconds']:.1f} s)")
    rep.done(path, metrics)
    if args.json and not args.progress_json:
        print(json.dumps({"bundle": str(path), "training": summary, "metrics": metrics}, indent=2, default=float))
    return 0
