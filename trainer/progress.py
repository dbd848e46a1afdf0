"""The trainer's one progress bar: tqdm on stderr when installed (the train extra has it), else quiet,
with an optional closing line so a log without tqdm still shows each phase's result."""

from __future__ import annotations

import sys
from typing import Any


class Bar:
    """A bar over ``total`` units; ``advance`` moves it on, ``to`` sets it (phases that report counts)."""

    def __init__(
        self, total: int, desc: str, *, initial: int = 0, enabled: bool = True, unit: str = "step", leave: bool = True
    ) -> None:
        self.desc, self.enabled, self.bar = desc, enabled, None
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(
                    total=total,
                    initial=initial,
                    desc=desc,
                    unit=unit,
                    mininterval=0.5,
                    dynamic_ncols=True,
                    leave=leave,
                    file=sys.stderr,
                )
            except ImportError:
                self.bar = None

    def advance(self, n: int = 1, **postfix: Any) -> None:
        if self.bar is not None:
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)

    def to(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.n = done
            self.bar.refresh()

    def close(self, line: str = "") -> None:
        """Close the bar; without tqdm, print ``line`` (when enabled) so the result is still seen."""
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and line:
            print(f"{self.desc}: {line}", file=sys.stderr, flush=True)
