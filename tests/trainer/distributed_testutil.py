"""Helpers for the multi-process tests: a worker that joins a gloo group and trains, and a small
tower without batch norm (batch statistics are per process under DDP, so only a tower without
them can equal a one-process run exactly)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tiny_tower(backbone: str, dim: int, imagenet: Any = None) -> Any:
    from trainer.model import Tower

    trunk = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2),
        nn.GELU(),
        nn.Conv2d(8, 16, 3, stride=2),
        nn.GELU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return Tower(trunk, 16, dim)


def use_tiny_tower() -> None:
    import trainer.prepare

    trainer.prepare.build_tower = tiny_tower  # type: ignore[assignment]


def snapshot(res: Any) -> dict[str, Any]:
    return {
        "tower": {k: v.detach().clone() for k, v in res.tower.state_dict().items()},
        "table": res.table.weight.clone(),
        "state": None if res.table.state is None else res.table.state.clone(),
        "summary": res.summary,
    }


def worker(rank: int, world: int, port: int, argv: Sequence[str], out: str, tiny: bool, die_at: int, cli: bool) -> None:
    """One process of a torchrun-like launch: env as torchrun sets it, then the trainer as usual.

    ``die_at``: rank 1 exits abruptly after that global step (a killed process). ``cli``: run the
    whole command (train, then rank 0 exports) and keep each rank's exit status."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    if tiny:
        use_tiny_tower()
    from trainer.cli import main, parse_args
    from trainer.train import train

    if cli:
        (Path(out) / f"rank{rank}.code").write_text(str(main(list(argv))))
        return

    def on_step(step: int) -> None:
        if die_at and rank == 1 and step == die_at:
            os._exit(3)

    res = train(parse_args(list(argv)), lambda s: None, on_step=on_step)
    torch.save(snapshot(res), Path(out) / f"rank{rank}.pt")


def launch(
    world: int, argv: Sequence[str], out: Path, *, tiny: bool = True, die_at: int = 0, cli: bool = False
) -> None:
    """Start ``world`` processes as torchrun would (forkserver: the trainer is imported once, in a
    fresh server that never ran torch code, and every launch forks from it)."""
    import multiprocessing

    import torch.multiprocessing as mp

    multiprocessing.get_context("forkserver").set_forkserver_preload(
        ["distributed_testutil", "trainer.cli", "trainer.train"]
    )
    out.mkdir(parents=True, exist_ok=True)
    mp.start_processes(
        worker,
        args=(world, free_port(), list(argv), str(out), tiny, die_at, cli),
        nprocs=world,
        join=True,
        start_method="forkserver",
    )
