"""Progress bars draw only on a terminal: piped or logged output (``attalos-desktop-train ... | tee log``,
``attalos-index ... 2> log``) holds plain lines or nothing, never carriage-return frames."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

from attalos_desktop.cli.common import ProgressBar
from trainer.progress import Bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_trainer_bar_writes_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    bar = Bar(40, "epoch 1/2", stream=out)
    for _ in range(40):
        bar.advance(loss="0.500")
    bar.close("loss 0.5000, 12.0 images/s")
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "epoch 1/2: 4/40 steps (10%), loss=0.500"
    assert lines[-2] == "epoch 1/2: 40/40 steps (100%), loss=0.500"
    assert lines[-1] == "epoch 1/2: loss 0.5000, 12.0 images/s"
    assert len(lines) == 11  # a line per tenth, and the result


def test_trainer_bar_phases_set_by_count_and_resumed_bars() -> None:
    out = io.StringIO()
    bar = Bar(7, "embedding", unit="", leave=False, stream=out)
    for done in (0, 1, 3, 3, 7):
        bar.to(done, 7)
    bar.to(2, 4)  # a phase whose total changed starts its tenths again
    bar.close()
    assert out.getvalue().splitlines() == [
        "embedding: 1/7 (14%)",
        "embedding: 3/7 (42%)",
        "embedding: 7/7 (100%)",
        "embedding: 2/4 (50%)",
    ]
    out = io.StringIO()
    bar = Bar(10, "epoch 2/2", initial=5, stream=out)  # resumed half-way: no line for the tenths behind it
    bar.advance()
    assert out.getvalue() == "epoch 2/2: 6/10 steps (60%)\n"
    quiet = io.StringIO()
    bar = Bar(10, "quiet", enabled=False, stream=quiet)
    bar.advance(10)
    bar.close("done")
    assert quiet.getvalue() == ""


def test_trainer_bar_draws_in_place_on_a_terminal() -> None:
    pytest.importorskip("tqdm")
    term = Terminal()
    bar = Bar(5, "epoch 1/1", stream=term)
    bar.advance(5)
    bar.close("the result")
    assert "\r" in term.getvalue() and "epoch 1/1" in term.getvalue()


def _feed(bar: ProgressBar) -> None:
    bar(SimpleNamespace(phase="scanning", done=0, total=0, rate=0.0, eta_s=None))
    for i in range(1, 4):
        bar(SimpleNamespace(phase="embedding", done=i, total=3, rate=2.0, eta_s=1.0))
    bar(SimpleNamespace(phase="done", done=3, total=3, rate=2.0, eta_s=None))
    bar.close()


def test_index_progress_is_silent_when_piped() -> None:
    """attalos-index's stderr, piped, holds only its one-line messages (the commands' contract): no bar."""
    piped = io.StringIO()
    _feed(ProgressBar(stream=piped))
    assert piped.getvalue() == ""
    term = Terminal()
    _feed(ProgressBar(stream=term))
    assert "\r" in term.getvalue() and "embedding [" in term.getvalue()
