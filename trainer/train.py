"""The training loop: data -> word vectors -> tag table + tower -> steps of the chosen loss.

Read top to bottom: ``prepare`` turns the data and flags into everything the loop needs,
``train_step`` is one update (loss.py's negative sampling, or the softmax it is measured against,
over each corpus's share of the step), ``train`` runs epochs of steps and checkpoints after each.
Photos come from a folder (decoded by loader workers), tar shards (``shards.py``), or several corpora
decoded once into memory (``corpora.py``, the default recipe's way). Every random choice is keyed by
(seed, epoch, step, place in the global batch) or (seed, epoch, photo), so a run repeats exactly on
CPU, a resumed run continues exactly as an uninterrupted one would, and N processes under torchrun
(``distributed.py``: each takes 1/N of every global batch) train as one process would.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch


from . import distributed
from .checkpoint import load_checkpoint, save_checkpoint
from .corpora import decode, step_batches
from .data import (
    PhotoDataset,
    collate,
)
from .errors import TrainError
from .loss import negative_sampling_loss, softmax_loss
from .prepare import Setup, TrainResult, _channels_last, build_model, pick_device, prepare
from .progress import Bar
from .sampling import NegativeSampler, sample_batch
from .schedule import schedule
from .shards import ShardStream, collate_shards
from .tag_layer import TagTable
from .teacher import teacher_loss

Log = Callable[[str], None]
# Flags that define the model: a resumed run must agree on them with its checkpoint.
_MODEL_FLAGS = ("backbone", "dim", "image_size", "tag_layer", "word_vectors", "min_count", "neg_strategy", "loss")


class _StopFlag:
    """SIGINT sets a flag checked between steps, so a Ctrl-C never lands mid-update."""

    def __init__(self) -> None:
        self.stop = False
        self._old: Any = None

    def __enter__(self) -> "_StopFlag":
        try:
            self._old = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: no handler, Ctrl-C cannot reach us anyway
            self._old = None
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.stop:  # second Ctrl-C: give up at once
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc: Any) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


@dataclass
class Objective:
    """What one corpus's photos are trained toward: the loss and its scope of negatives."""

    loss: str  # loss.LOSSES
    sampler: NegativeSampler  # negatives ~ freq^power within the scope (negative sampling)
    scope: np.ndarray  # tag ids that may be negatives (softmax: the classes)
    weight: float = 1.0
    smoothing: float = 0.0


def objectives(setup: Setup) -> list[Objective]:
    """One per corpus (one in all for a folder or shards): its scope's frequencies drive its negatives."""
    args, freq = setup.args, setup.vocab.freq.astype(np.float64)
    everything = np.arange(len(freq), dtype=np.int64)
    parts = setup.corpora or [None]
    out = []
    for c in parts:
        scope = everything if c is None or c.scope is None else c.scope
        f = np.zeros_like(freq)
        f[scope] = freq[scope]
        out.append(
            Objective(
                args.loss,
                NegativeSampler(f, args.neg_power),
                scope,
                weight=1.0 if c is None else c.spec.weight,
                smoothing=0.0 if c is None else c.spec.smoothing,
            )
        )
    if setup.teacher is not None:  # after the corpora: feature_batches' last part
        ids = setup.teacher.word_ids
        f = np.zeros_like(freq)
        f[ids] = freq[ids]
        out.append(Objective("teacher", NegativeSampler(f, args.neg_power), ids, weight=args.teacher_weight))
    return out


def train_step(
    model: torch.nn.Module,
    table: TagTable,
    opt: torch.optim.Optimizer,
    sched: Any,
    parts: list[tuple[int, torch.Tensor, list[np.ndarray]]],
    goals: list[Objective],
    key: tuple[int, ...],
    firsts: list[int],
    device: torch.device,
    channels_last: bool,
    dd: distributed.Dist | None = None,
    positives: int = 2,
    negatives: int = 10,
    strategy: str = "presampled",
) -> float:
    """One update over each corpus's share of the step: gather the tag rows the losses need to the device,
    update the tower and those rows only. Returns the weighted loss.

    ``parts`` are (corpus, images, tag ids) with their corpus's ``goals`` entry; ``firsts[corpus]`` is
    this process's first photo in that corpus's share of the global batch (keys the sampled tags). ``model`` is the tower (DDP-wrapped under torchrun: its
    gradients are averaged over processes); the tag rows' gradients are exchanged likewise
    (``distributed.exchange_row_grads``).
    """
    plans, needed = [], []
    for c, images, tags in parts:
        g = goals[c]
        if g.loss in ("softmax", "teacher"):
            plans.append((g.scope,))
            needed.append(g.scope)
        else:
            pos, neg, valid = sample_batch(
                strategy, key if c == 0 else (*key, c), firsts[c], g.sampler, tags, positives, negatives
            )
            plans.append((pos, neg, valid))
            needed += [pos.ravel(), neg.ravel()]
    rows = np.unique(np.concatenate(needed))
    rows_t = torch.from_numpy(rows)
    w = table.gather(rows_t, device)
    use_cuda = device.type == "cuda"
    lr_scale = opt.param_groups[0]["lr"] / opt.param_groups[0]["initial_lr"] if sched is not None else 1.0
    opt.zero_grad(set_to_none=True)
    total = 0.0
    for n, ((c, images, tags), plan) in enumerate(zip(parts, plans)):
        images = images.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        last = n == len(parts) - 1
        # Several corpora, one update: gradients accumulate, and DDP exchanges them once, after the last.
        sync = model.no_sync() if not last and hasattr(model, "no_sync") else contextlib.nullcontext()
        with sync:
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_cuda):
                emb = model(images)
            if goals[c].loss == "teacher":  # soft labels over the teacher's words
                cols = torch.from_numpy(np.searchsorted(rows, plan[0])).to(device)
                loss = teacher_loss(emb, w[cols], tags.to(device))
            elif len(plan) == 1:
                target = torch.zeros(len(tags), len(plan[0]), device=device)
                for i, t in enumerate(tags):
                    t = t[np.isin(t, plan[0])]  # a photo's words outside its corpus's scope are not classes
                    target[i, torch.from_numpy(np.searchsorted(plan[0], t))] = 1.0 / max(1, len(t))
                cols = torch.from_numpy(np.searchsorted(rows, plan[0])).to(device)
                loss = softmax_loss(emb, w[cols], target, goals[c].smoothing)
            else:
                pos, neg, valid = plan
                pos_i = torch.from_numpy(np.searchsorted(rows, pos)).to(device)
                neg_i = torch.from_numpy(np.searchsorted(rows, neg)).to(device)
                loss = negative_sampling_loss(
                    emb,
                    w,
                    pos_i,
                    neg_i,
                    torch.ones(pos.shape, device=device),
                    torch.from_numpy(valid).to(device=device, dtype=torch.float32),
                )
            (goals[c].weight * loss).backward()
        total += goals[c].weight * float(loss.detach())
    opt.step()
    if sched is not None:
        sched.step()
    if w.grad is not None:
        if dd is not None and dd.active:
            rows_t, grad = distributed.exchange_row_grads(dd, rows_t, w.grad)
            table.step(rows_t, grad, lr_scale)
        else:
            table.step(rows_t, w.grad, lr_scale)
    return total


def size_at(args: argparse.Namespace, epoch: int) -> int:
    """Progressive resizing of in-memory corpora: ``--progressive "0.35:64,0.7:80"`` trains the first 35%
    of the first cycle's epochs at 64 px, up to 70% at 80 px, the rest at ``--image-size``."""
    first_cycle = max(1, args.epochs - args.restart_epochs)
    frac = (epoch + 1) / first_cycle
    for part in filter(None, (args.progressive or "").split(",")):
        upto, px = part.split(":")
        if frac <= float(upto) + 1e-9:
            return int(px)
    return args.image_size


def _memory_batches(setup: Setup, epoch: int, first: int, steps: int, rank: int, world: int) -> Any:
    """Batches of the in-memory corpora, in the loader's shape (``parts`` instead of ``images``)."""
    args = setup.args
    assert setup.corpora is not None
    size = size_at(args, epoch)
    for step in range(first, steps):
        parts = list(
            step_batches(
                setup.corpora,
                epoch,
                step,
                args.seed,
                size,
                args.image_size,
                rank,
                world,
                args.min_scale,
                args.jitter,
                (setup.pre.mean, setup.pre.std),
            )
        )
        yield {"parts": parts, "index": list(range(sum(len(t) for _, _, t in parts))), "bad": []}


def _quiet_log(_: str) -> None:
    pass


def train(
    args: argparse.Namespace, log: Log = print, on_step: Callable[[int], None] | None = None, setup: Setup | None = None
) -> TrainResult:
    """Train per ``args``; checkpoint each epoch (and on Ctrl-C) to ``args.checkpoint``.

    Under torchrun every process calls this; rank 0 logs, shows progress and writes checkpoints.
    """
    torch.set_num_threads(max(1, args.threads)) if args.threads else None
    dd, device = distributed.init(pick_device(args.device))
    try:
        return _train(args, log if dd.main else _quiet_log, on_step, setup, dd, device)
    finally:
        distributed.teardown(dd)


def _train(
    args: argparse.Namespace,
    log: Log,
    on_step: Callable[[int], None] | None,
    setup: Setup | None,
    dd: distributed.Dist,
    device: torch.device,
) -> TrainResult:
    setup = setup or prepare(args, log)
    tower, table = build_model(setup, device)
    # Photos are normalised as the tower's weights expect (TensorFlow's MobileNetV2: [-1, 1]).
    setup.pre = dataclasses.replace(setup.pre, mean=tuple(tower.input_norm[0]), std=tuple(tower.input_norm[1]))
    frozen = bool(args.trunk_features)
    if frozen:  # the trunk stays as it is: only the projection and the tag layer learn, from cached features
        from .frozen import attach_features

        from .transfer_stage import deployed_preprocessing

        for p in tower.trunk.parameters():
            p.requires_grad_(False)
        setup.pre = deployed_preprocessing(args.image_size, tower.input_norm)  # view 0: as the app decodes
        head = None
        if setup.teacher is not None:
            from .teacher import imagenet_classifier

            head = imagenet_classifier(args.init)
        attach_features(setup, tower.trunk, head, log)
    source = setup.shards
    n_train = setup.n_train
    bs = min(args.batch_size, n_train)
    for b in [bs] + [c.batch for c in setup.corpora or []]:
        if b % dd.world:
            raise TrainError(
                f"--batch-size {b} is the global batch: it must be a multiple of the {dd.world} "
                f"processes, each taking an equal share of every step"
            )
    lb = bs // dd.world  # this process's share of every step
    drop_last = n_train > bs or source is not None
    if source is not None:
        steps_per_epoch = source.steps_per_epoch(dd.world, lb)
    else:
        steps_per_epoch = n_train // bs if drop_last else 1
    total_steps = steps_per_epoch * args.epochs
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    # No weight decay on biases and norms (standard; decaying BatchNorm scales only hurts).
    params = [
        {"params": [p for p in tower.parameters() if p.ndim > 1], "weight_decay": args.weight_decay},
        {"params": [p for p in tower.parameters() if p.ndim <= 1], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, args.beta2))
    warmup = args.warmup_steps or max(1, min(100, total_steps // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, schedule(total_steps, warmup, args.lr_floor, steps_per_epoch * args.restart_epochs)
    )
    goals = objectives(setup)
    firsts = [dd.rank * (c.batch // dd.world) for c in setup.corpora] if setup.corpora else [dd.rank * lb]
    start_epoch, start_step, global_step = 0, 0, 0
    history: list[dict[str, float]] = []
    skipped: set[Any] = set()
    ckpt_path = Path(args.checkpoint) if args.checkpoint else None

    if args.resume:
        if ckpt_path is None:
            raise TrainError("--resume needs a checkpoint path (--checkpoint or --out)")
        ck = load_checkpoint(ckpt_path)
        for k in _MODEL_FLAGS:
            if ck["args"].get(k) != getattr(args, k):
                raise TrainError(
                    f"--resume: checkpoint was made with --{k.replace('_', '-')} "
                    f"{ck['args'].get(k)}, this run has {getattr(args, k)}"
                )
        if ck["tags"] != setup.vocab.tags:
            raise TrainError("--resume: the dataset's vocabulary differs from the checkpoint's (other data?)")
        # Steps count global batches, so a checkpoint resumes on any number of processes.
        if ck["args"].get("batch_size") not in (None, args.batch_size):
            log(f"note: resuming with --batch-size {args.batch_size} (the checkpoint used {ck['args']['batch_size']})")
        tower.load_state_dict(ck["tower"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        table.load_state_dict(ck["tag_table"])
        torch.set_rng_state(ck["torch_rng"])
        start_epoch, start_step, global_step = ck["epoch"], ck["step"], ck["global_step"]
        history, skipped = ck["history"], set(ck["skipped"])
        log(
            f"resumed from {ckpt_path} at epoch {start_epoch + 1}, step {start_step}"
            + (f" on {dd.world} processes" if dd.active else "")
        )
    model = distributed.wrap(tower.proj if frozen else tower, dd, device)

    def checkpoint(epoch: int, step: int) -> None:
        if ckpt_path is None:
            return
        every_skipped = set().union(*distributed.gather_objects(dd, skipped))  # a collective: all ranks
        if dd.main:
            save_checkpoint(
                ckpt_path,
                {
                    "args": vars(args),
                    "tags": setup.vocab.tags,
                    "tower": tower.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "tag_table": table.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "epoch": epoch,
                    "step": step,
                    "global_step": global_step,
                    "history": history,
                    "skipped": sorted(every_skipped),
                    "processes": dd.world,
                },
            )
        distributed.barrier(dd)

    use_cuda = device.type == "cuda"
    nhwc = _channels_last(setup, device) and not frozen
    if frozen:
        ds: Any = None
    elif setup.corpora is not None:
        for c in setup.corpora:
            c.pixels, c.hw = decode(c.spec.path, c.train, c.spec.canvas, Path(args.cache) if args.cache else None, log)
        ds = None
    elif source is None:
        ds = PhotoDataset(
            setup.data_dir,
            setup.train_records,
            setup.train_ids,
            setup.pre,
            train=True,
            seed=args.seed,
            augment=args.augment,
        )
    else:
        mine = source.assignment(dd.rank, dd.world)
        ds = ShardStream(source, mine, setup.vocab, setup.pre, seed=args.seed, augment=args.augment, local_batch=lb)
    interrupted = False
    t_start = time.perf_counter()
    images_seen = 0
    tower.train()
    with _StopFlag() as flag:
        for epoch in range(start_epoch, args.epochs):
            if global_step >= total_steps:
                break
            first = start_step if epoch == start_epoch else 0
            if frozen:
                from .frozen import feature_batches

                loader: Any = feature_batches(setup, epoch, first, steps_per_epoch, dd.rank, dd.world)
            elif setup.corpora is not None:
                loader = _memory_batches(setup, epoch, first, steps_per_epoch, dd.rank, dd.world)
            elif source is None:
                ds.epoch = epoch
                order = np.random.default_rng([args.seed, epoch, 0]).permutation(n_train)
                # Global batch s is order[s*bs:(s+1)*bs]; this process takes its slice of every one.
                share = order[first * bs : steps_per_epoch * bs].reshape(-1, dd.world, lb)[:, dd.rank].ravel()
                loader = torch.utils.data.DataLoader(
                    ds,
                    batch_size=lb,
                    sampler=share.tolist(),
                    num_workers=args.workers,
                    collate_fn=collate,
                    drop_last=drop_last,
                    pin_memory=use_cuda,
                    persistent_workers=False,
                )
            else:
                ds.epoch = epoch
                ds.skip_batches = first
                loader = torch.utils.data.DataLoader(
                    ds,
                    batch_size=lb,
                    num_workers=min(args.workers, len(ds.shard_ids)),
                    collate_fn=collate_shards,
                    drop_last=True,
                    pin_memory=use_cuda,
                    persistent_workers=False,
                )
            bar = Bar(
                steps_per_epoch, f"epoch {epoch + 1}/{args.epochs}", initial=first, enabled=not args.quiet and dd.main
            )
            ema, ep_loss, ep_n, t0, ep_images = float("nan"), 0.0, 0, time.perf_counter(), 0
            step = first
            stopped = False
            for batch in loader:
                if step >= steps_per_epoch:  # shard streams are endless: the epoch is a number of steps
                    break
                skipped.update(batch["bad"])
                idx = batch["index"]
                (skip,) = distributed.agree(dd, device, len(idx) < 2)  # all processes step, or none
                if not skip:
                    parts = batch.get("parts") or [
                        (0, batch["images"], batch["tags"] if "tags" in batch else [setup.train_ids[i] for i in idx])
                    ]
                    lv = train_step(
                        model,
                        table,
                        opt,
                        sched,
                        parts,
                        goals,
                        (args.seed, epoch, step),
                        firsts,
                        device,
                        nhwc,
                        dd,
                        args.positives,
                        args.negatives,
                        args.neg_strategy,
                    )
                    ema = lv if math.isnan(ema) else 0.9 * ema + 0.1 * lv
                    ep_loss += lv
                    ep_n += 1
                    ep_images += len(idx)
                    images_seen += len(idx)
                global_step += 1
                step += 1
                bar.advance(
                    loss=f"{ema:.3f}", img_s=f"{ep_images * dd.world / max(time.perf_counter() - t0, 1e-9):.1f}"
                )
                if on_step is not None:
                    on_step(global_step)
                (stopped,) = distributed.agree(dd, device, flag.stop)  # Ctrl-C on any process stops all
                if stopped or global_step >= total_steps:
                    break
            done_epoch = step >= steps_per_epoch
            ep_loss, ep_n, ep_images = distributed.all_sum(dd, device, ep_loss, ep_n, ep_images)
            ips = ep_images / max(time.perf_counter() - t0, 1e-9)
            bar.close(f"loss {ema:.4f}, {ips:.1f} images/s")
            if ep_n:
                history.append(
                    {
                        "epoch": epoch + 1,
                        "loss": ep_loss / ep_n,
                        "images_per_s": ips,
                        "steps": int(round(ep_n / dd.world)),
                    }
                )
            if stopped:
                checkpoint(epoch, step)
                interrupted = True
                log(
                    f"interrupted: checkpoint saved to {ckpt_path} (epoch {epoch + 1}, step {step}); "
                    f"continue with --resume"
                    if ckpt_path
                    else "interrupted (no checkpoint path given)"
                )
                break
            checkpoint(epoch + 1, 0) if done_epoch else checkpoint(epoch, step)
            if global_step >= total_steps:
                break
    (images_seen,) = distributed.all_sum(dd, device, images_seen)
    skipped = set().union(*distributed.gather_objects(dd, skipped))
    if skipped:
        log(f"skipped {len(skipped)} unreadable photos")
    tower.eval()
    summary = {
        "data": str(setup.data_dir),
        "data_format": "shards" if source is not None else "folder",
        "train_images": n_train,
        "train_images_without_tags": setup.train_without_tags,
        "skipped_images": len(skipped),
        "vocabulary_size": len(setup.vocab),
        "dropped_tags": len(setup.vocab.dropped),
        "min_count": args.min_count,
        "backbone": args.backbone,
        "image_size": args.image_size,
        "augment": args.augment,
        "init": args.init,
        "embedding_dim": setup.dim,
        "word_vectors": setup.word_vectors.source,
        "tag_layer": args.tag_layer,
        "tag_optimizer": args.tag_optimizer,
        "epochs": args.epochs,
        "steps": global_step,
        "batch_size": bs,
        "lr": args.lr,
        "tag_lr": args.tag_lr,
        "positives": args.positives,
        "negatives": args.negatives,
        "neg_power": args.neg_power,
        "neg_strategy": args.neg_strategy,
        "loss": args.loss,
        "trunk": f"fixed; projection trained on cached features ({args.trunk_features} views)" if frozen else "trained",
        "teacher": args.teacher,
        "corpora": [
            {
                "name": c.name,
                "train_photos": len(c.train),
                "held_out_photos": len(c.held_out),
                "photos_per_step": c.batch,
                "weight": c.spec.weight,
                "scope": c.spec.scope,
                "general_words": c.added_words,
            }
            for c in setup.corpora or []
        ],
        "seed": args.seed,
        "device": device.type,
        "final_loss": history[-1]["loss"] if history else None,
        "history": history,
        "wall_s_this_run": round(time.perf_counter() - t_start, 2),
        "images_this_run": int(images_seen),
        "processes": dd.world,
    }
    return TrainResult(
        setup=setup, tower=tower, table=table, summary=summary, interrupted=interrupted, main_process=dd.main
    )
