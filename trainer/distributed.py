"""Data-parallel training over several processes (``torchrun``), with the wide tag table kept identical.

    torchrun --nproc_per_node 4 -m trainer.cli --data DATA --out BUNDLE --batch-size 256   # 64 photos/process

torchrun starts one process per device and sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
MASTER_PORT; without them (a plain ``attalos-desktop-train``) everything here is a no-op, world size 1.

- The tower is wrapped in DistributedDataParallel (NCCL on GPUs, gloo on CPUs): every process
  holds the same weights, DDP averages the gradients.
- ``--batch-size`` is the global batch: each process takes its own slice of every step's photos.
- The tag table stays in every process's CPU memory, and stays identical without a parameter
  server: each step every process all-gathers the ids of the rows it sampled and their gradients
  (one payload tensor, ids bit-cast into two float32 columns), sums them per row, divides by the
  world size (as DDP does for the tower), and applies the same row-wise Adagrad step. The bytes
  exchanged grow with the rows sampled per step, never with the vocabulary.
- One small all-reduce per step lets all processes agree on stopping (Ctrl-C / SIGTERM reaching
  any of them) and on skipping a step whose photos did not decode, so no process waits forever.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class Dist:
    """Where this process stands: rank, world size, the collective backend (None: single process)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def comm_device(self, device: torch.device) -> torch.device:
        """NCCL talks between GPUs, gloo between CPUs."""
        return device if self.backend == "nccl" else torch.device("cpu")


def launched() -> bool:
    """True under torchrun (or any launcher that sets WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: torch.device, timeout_s: float = 1800.0) -> tuple[Dist, torch.device]:
    """Join the process group torchrun describes; returns this process's Dist and device.

    On CUDA each process takes the GPU of its LOCAL_RANK. A group the caller already initialised
    is used as is (and left to the caller to destroy).
    """
    if not launched() and not (dist.is_available() and dist.is_initialized()):
        return Dist(), device
    if dist.is_initialized():
        rank, world, owns = dist.get_rank(), dist.get_world_size(), False
        local = int(os.environ.get("LOCAL_RANK", rank))
    else:
        rank, world, owns = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), True
        local = int(os.environ.get("LOCAL_RANK", rank))
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if owns:
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=timeout_s))
    else:
        backend = dist.get_backend()
    return Dist(rank=rank, world=world, local_rank=local, backend=backend, owns_group=owns), device


def teardown(d: Dist) -> None:
    if d.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def wrap(tower: torch.nn.Module, d: Dist, device: torch.device) -> torch.nn.Module:
    """The tower as the training step calls it: DDP-wrapped when several processes train."""
    if not d.active:
        return tower
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(tower, device_ids=[device.index] if device.type == "cuda" else None)


def agree(d: Dist, device: torch.device, *flags: bool) -> list[bool]:
    """Each flag true on any process is true on all (one tiny all-reduce)."""
    if not d.active:
        return list(flags)
    t = torch.tensor([float(f) for f in flags], device=d.comm_device(device))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(x) for x in t.tolist()]


def all_sum(d: Dist, device: torch.device, *values: float) -> list[float]:
    """Sums over processes (epoch loss and counts for the log)."""
    if not d.active:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=d.comm_device(device))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def gather_objects(d: Dist, obj: Any) -> list[Any]:
    """Every process's ``obj`` (small things only: pickled), in rank order."""
    if not d.active:
        return [obj]
    out: list[Any] = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    if d.active:
        dist.barrier()


def exchange_row_grads(d: Dist, rows: torch.Tensor, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The tag table's step gradient over the global batch, from each process's sampled rows.

    ``rows`` [U] int64 (unique, CPU) and ``grad`` [U, d] are this process's rows and the gradient of
    its local mean loss. Returns (all rows any process sampled, sorted and unique; their gradient of
    the global mean loss = sum over processes / world size), on the CPU, the same on every process.
    """
    if not d.active:
        return rows, grad
    dev = d.comm_device(grad.device)
    width = grad.shape[1]
    n = torch.tensor([rows.numel()], dtype=torch.int64, device=dev)
    sizes = [torch.zeros_like(n) for _ in range(d.world)]
    dist.all_gather(sizes, n)
    counts = [int(s.item()) for s in sizes]
    m = max(counts)
    # One payload: the gradient, then the int64 row id bit-cast into two float32 columns.
    payload = torch.zeros((m, width + 2), dtype=torch.float32, device=dev)
    u = rows.numel()
    payload[:u, :width] = grad.to(dev, torch.float32)
    payload[:u, width:] = rows.to(dev, torch.int64).contiguous().view(torch.float32).view(u, 2)
    parts = [torch.empty_like(payload) for _ in range(d.world)]
    dist.all_gather(parts, payload)
    ids = torch.cat([p[:c, width:].contiguous().view(torch.int64).view(-1) for p, c in zip(parts, counts)])
    g = torch.cat([p[:c, :width] for p, c in zip(parts, counts)])
    uniq, inv = torch.unique(ids, sorted=True, return_inverse=True)
    summed = torch.zeros((uniq.numel(), width), dtype=torch.float32, device=dev).index_add_(0, inv, g)
    return uniq.cpu(), (summed / d.world).cpu()


def exchange_bytes(rows_per_process: int, dim: int, world: int) -> int:
    """Bytes each process receives per step from the row exchange (payload only, no padding waste)."""
    return (world - 1) * rows_per_process * (dim + 2) * 4
