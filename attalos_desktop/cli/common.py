"""What the three commands share: library/model options, one-line fatal errors, JSON, a progress bar."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable, NoReturn

EXIT_OK = 0
EXIT_FATAL = 1  # no usable model, unwritable library, bad path, empty library / unusable query
EXIT_USAGE = 2  # argparse's own code for bad arguments
EXIT_LOCKED = 3  # another attalos-index holds the library
EXIT_INTERRUPTED = 130


def add_library_args(p: argparse.ArgumentParser, model: bool = True) -> None:
    p.add_argument("--library", metavar="DIR", help="library folder (default: $ATTALOS_HOME, else the user data dir)")
    if model:
        p.add_argument("--model", metavar="BUNDLE_DIR",
                       help="model bundle (default: the library's model, else the bundled default)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def fail(prog: str, message: str, code: int = EXIT_FATAL) -> NoReturn:
    """Print a one-line reason and exit: errors are for people, not tracebacks."""
    one_line = " ".join(str(message).split())
    print(f"{prog}: error: {one_line}", file=sys.stderr)
    raise SystemExit(code)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def show_path(path: str) -> str:
    """A path printable on any terminal (non-UTF-8 names keep their escapes)."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


class ProgressBar:
    """count, rate and ETA on stderr, redrawn in place; silent when stderr is not a terminal."""

    def __init__(self, enabled: bool | None = None, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.width = 0
        self.started = time.monotonic()

    def __call__(self, p: Any) -> None:
        if not self.enabled:
            return
        if p.phase in ("scanning", "comparing", "saving"):
            line = f"{p.phase} ..."
        elif p.phase == "done":
            self.close()
            return
        else:
            total = max(p.total, 1)
            frac = min(1.0, p.done / total) if p.total else 1.0
            bar = "#" * int(frac * 24)
            eta = _fmt_s(p.eta_s) if p.eta_s is not None else "--:--"
            line = f"{p.phase} [{bar:<24}] {p.done}/{p.total} {p.rate:6.1f} photos/s ETA {eta}"
        try:
            cols = os.get_terminal_size(self.stream.fileno()).columns
        except OSError:
            cols = 100
        line = line[: cols - 1]
        self.stream.write("\r" + line + " " * max(0, self.width - len(line)))
        self.stream.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _fmt_s(s: float) -> str:
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def run_main(prog: str, body: Callable[[], int]) -> int:
    """Map the core's exceptions to one-line messages and exit codes."""
    from ..core.bundle import BundleError
    from ..core.library import LibraryError, LibraryLocked

    try:
        return body()
    except LibraryLocked as exc:
        fail(prog, str(exc), EXIT_LOCKED)
    except BundleError as exc:
        fail(prog, f"no usable model: {exc}")
    except LibraryError as exc:
        fail(prog, str(exc))
    except KeyboardInterrupt:
        fail(prog, "interrupted (run again to resume)", EXIT_INTERRUPTED)
    except BrokenPipeError:
        return EXIT_OK
