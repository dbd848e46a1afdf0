"""The one learning-rate schedule: linear warm-up, a cosine cycle, then an optional second, lower cycle.

The second cycle (SGDR's warm restart) is how the default recipe spends its last epochs at full
resolution: more training for the same schedule shape. Returned values are factors of the base rate,
so the same function drives the tower's optimiser (through LambdaLR) and the tag table.
"""

from __future__ import annotations

import math
from typing import Callable


def lr_factor(
    step: int, total: int, warmup: int, floor: float = 0.05, restart: int = 0, restart_scale: float = 0.3
) -> float:
    """Factor at ``step``: warm-up over ``warmup`` steps, cosine down to ``floor`` at ``total - restart``,
    then (``restart`` > 0) a second cosine over the last ``restart`` steps, peaking at ``restart_scale``."""
    first = total - restart
    if restart and step >= first:
        t = (step - first) / restart
        return restart_scale * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))
    if step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, first - warmup)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def schedule(
    total: int, warmup: int, floor: float = 0.05, restart: int = 0, restart_scale: float = 0.3
) -> Callable[[int], float]:
    """``lr_factor`` with its settings bound, for ``torch.optim.lr_scheduler.LambdaLR``."""
    return lambda step: lr_factor(step, total, warmup, floor, restart, restart_scale)
