"""The trainer's one progress bar. On a terminal: tqdm on stderr (the train extra has it), redrawn in place.
Anywhere else (piped, ``| tee log``, a service's journal) or without tqdm: plain lines, one each time the
bar passes a tenth of its total, and the closing line, so a log never holds carriage-return frames."""

from __future__ import annotations

import sys
from typing import Any, TextIO

STEPS = 10  # plain lines per bar: one at every tenth of the total


class Bar:
    """A bar over ``total`` units; ``advance`` moves it on, ``to`` sets it (phases that report counts)."""

    def __init__(
        self,
        total: int,
        desc: str,
        *,
        initial: int = 0,
        enabled: bool = True,
        unit: str = "step",
        leave: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.desc, self.enabled, self.unit, self.bar = desc, enabled, unit, None
        self.stream = stream if stream is not None else sys.stderr
        self.total, self.done, self.postfix = total, initial, ""
        self.shown = self._step()  # the tenth last printed (a resumed bar starts where it was)
        if enabled and _is_terminal(self.stream):
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
                    file=self.stream,
                )
            except ImportError:
                self.bar = None

    def advance(self, n: int = 1, **postfix: Any) -> None:
        if self.bar is not None:
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(n)
            return
        self.done += n
        if postfix:
            self.postfix = ", ".join(f"{k}={v}" for k, v in postfix.items())
        self._line()

    def to(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.total = total
            self.bar.n = done
            self.bar.refresh()
            return
        if total != self.total:
            self.total, self.shown = total, -1
        self.done = done
        self._line()

    def close(self, line: str = "") -> None:
        """Close the bar; in plain mode print ``line`` (when enabled) so the phase's result is seen in any log."""
        if self.bar is not None:
            self.bar.close()  # tqdm leaves its last frame (or, leave=False, nothing): that is the result
            self.bar = None
        elif self.enabled and line:
            print(f"{self.desc}: {line}", file=self.stream, flush=True)

    def _step(self) -> int:
        return min(STEPS, self.done * STEPS // self.total) if self.total > 0 else 0

    def _line(self) -> None:
        """Plain mode: one line when the bar reaches the next tenth."""
        step = self._step()
        if not self.enabled or step <= self.shown or step == 0:
            return
        self.shown = step
        unit = f" {self.unit}s" if self.unit else ""
        pct = 100 * self.done // self.total if self.total > 0 else 100
        extra = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.done}/{self.total}{unit} ({pct}%){extra}", file=self.stream, flush=True)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
