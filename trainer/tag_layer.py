"""The wide tag layer: a CPU-resident table with a sparse, memory-frugal optimiser.

Per step only the rows the batch samples are gathered, sent to the device, and their gradients
come back to update those rows alone, so a step costs the same for 1k or 6M tags. The optimiser
is row-wise Adagrad (one accumulator per row, as in large-scale embedding training): its state is
V floats instead of Adam's 2xVxd, which is what lets a 6M x 256 table (6 GB) train in 24 GB.
``sgd`` (no state) is available too, and ``adam`` (lazy: only the gathered rows' moments move) for
vocabularies small enough to hold 2xVxd of state, where every row is touched often (the softmax loss).
The rate of ``adam`` and ``sgd`` follows the run's schedule (``step`` takes the current factor);
row-wise Adagrad's accumulator already decays each row's rate as it is trained, so it keeps its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

OPTIMIZERS = ("rowwise-adagrad", "sgd", "adam")


class TagTable:
    """Tag vectors [V, d] in CPU memory, optionally frozen, with sparse row updates."""

    def __init__(
        self,
        weight: torch.Tensor,
        *,
        frozen: bool,
        lr: float,
        optimizer: str = "rowwise-adagrad",
        eps: float = 1e-8,
        init_accumulator: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.99),
    ) -> None:
        if weight.device.type != "cpu" or weight.dtype != torch.float32 or weight.dim() != 2:
            raise ValueError("the tag table must be a float32 [V, d] CPU tensor")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown tag optimiser {optimizer!r}")
        self.weight = weight
        self.frozen = frozen
        self.lr = lr
        self.optimizer = optimizer
        self.eps = eps
        self.betas = betas
        self.state = (
            torch.full((weight.shape[0],), init_accumulator, dtype=torch.float32)
            if optimizer == "rowwise-adagrad" and not frozen
            else None
        )
        # adam: first and second moments per element, and each row's own step count (lazy updates)
        self.moments = (
            torch.zeros((2, *weight.shape), dtype=torch.float32) if optimizer == "adam" and not frozen else None
        )
        self.row_steps = torch.zeros(weight.shape[0], dtype=torch.float32) if self.moments is not None else None

    @classmethod
    def from_numpy_chunks(cls, n: int, d: int, fill: Any, chunk: int = 1 << 18, **kw: Any) -> "TagTable":
        """Build a big table in place, ``fill(start, stop) -> [stop-start, d]`` a chunk at a time,
        so that no second full-size copy ever exists."""
        weight = torch.empty((n, d), dtype=torch.float32)
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            weight[s:e] = torch.as_tensor(np.asarray(fill(s, e), dtype=np.float32))
        return cls(weight, **kw)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.weight.shape[0]), int(self.weight.shape[1]))

    def gather(self, rows: torch.Tensor, device: torch.device) -> torch.Tensor:
        """The sampled rows on ``device``; a leaf that collects gradients unless frozen."""
        w = self.weight.index_select(0, rows)
        w = w.to(device, non_blocking=True)
        if not self.frozen:
            w.requires_grad_(True)
        return w

    @torch.no_grad()
    def step(self, rows: torch.Tensor, grad: torch.Tensor, lr_scale: float = 1.0) -> None:
        """Apply the gradient of the gathered (unique) rows, at ``lr_scale`` times the base rate."""
        if self.frozen:
            return
        grad = grad.to("cpu", dtype=torch.float32)
        lr = self.lr * (lr_scale if self.optimizer != "rowwise-adagrad" else 1.0)
        if self.optimizer == "sgd":
            self.weight.index_add_(0, rows, grad, alpha=-lr)
            return
        if self.optimizer == "adam":
            assert self.moments is not None and self.row_steps is not None
            b1, b2 = self.betas
            m = self.moments[0].index_select(0, rows).mul_(b1).add_(grad, alpha=1 - b1)
            v = self.moments[1].index_select(0, rows).mul_(b2).addcmul_(grad, grad, value=1 - b2)
            self.moments[0].index_copy_(0, rows, m)
            self.moments[1].index_copy_(0, rows, v)
            t = self.row_steps.index_select(0, rows) + 1
            self.row_steps.index_copy_(0, rows, t)
            m_hat = m / (1 - b1**t).unsqueeze(1)
            v_hat = v / (1 - b2**t).unsqueeze(1)
            self.weight.index_add_(0, rows, m_hat / (v_hat.sqrt() + self.eps), alpha=-lr)
            return
        assert self.state is not None
        acc = self.state.index_select(0, rows) + grad.pow(2).mean(dim=1)
        self.state.index_copy_(0, rows, acc)
        scale = (-lr / (acc.sqrt() + self.eps)).unsqueeze(1)
        self.weight.index_add_(0, rows, grad * scale)

    def state_dict(self) -> dict[str, Any]:
        return {
            "weight": self.weight,
            "state": self.state,
            "frozen": self.frozen,
            "lr": self.lr,
            "optimizer": self.optimizer,
            "moments": self.moments,
            "row_steps": self.row_steps,
        }

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        if tuple(sd["weight"].shape) != self.shape:
            raise ValueError(f"checkpoint tag table {tuple(sd['weight'].shape)} != {self.shape}")
        self.weight.copy_(sd["weight"])
        if self.state is not None and sd.get("state") is not None:
            self.state.copy_(sd["state"])
        if self.moments is not None and sd.get("moments") is not None:
            self.moments.copy_(sd["moments"])
            assert self.row_steps is not None
            self.row_steps.copy_(sd["row_steps"])
