"""What the three commands share: library/model options, one-line fatal errors, JSON, a progress bar."""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import signal
import sqlite3
import sys
import threading
import time
from typing import Any, Callable, NoReturn

EXIT_OK = 0
EXIT_FATAL = 1  # no usable model, unwritable library, bad path, empty library / unusable query
EXIT_USAGE = 2  # argparse's own code for bad arguments
EXIT_LOCKED = 3  # another attalos-index holds the library
EXIT_INTERRUPTED = 130  # SIGINT (Ctrl-C): 128 + 2
EXIT_TERMINATED = 143  # SIGTERM: 128 + 15


def add_library_args(p: argparse.ArgumentParser, model: bool = True) -> None:
    p.add_argument("--library", metavar="DIR", help="library folder (default: $ATTALOS_HOME, else the user data dir)")
    if model:
        p.add_argument(
            "--model",
            metavar="BUNDLE_DIR",
            help="model bundle (default: the library's model, else the bundled default)",
        )
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def fail(prog: str, message: str, code: int = EXIT_FATAL) -> NoReturn:
    """Print a one-line reason and exit: errors are for people, not tracebacks."""
    one_line = " ".join(str(message).split())
    print(f"{prog}: error: {one_line}", file=sys.stderr)
    raise SystemExit(code)


def print_json(obj: Any) -> None:
    """One JSON document; never NaN/Infinity (not JSON): such a number is written as null."""
    try:
        text = json.dumps(obj, ensure_ascii=True, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(obj), ensure_ascii=True, allow_nan=False)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


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


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived (raised where the program was, like KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_signal_state: dict[str, Any] = {"signum": None, "cancel": None}


def _on_signal(signum: int, _frame: Any) -> None:
    first = _signal_state["signum"] is None
    _signal_state["signum"] = signum
    cancel = _signal_state["cancel"]
    if first and cancel is not None:
        cancel.set()  # attalos-index: finish and commit the batch in flight, save the index, then exit
        return
    raise Interrupted(signum)


def interrupted_signal() -> int | None:
    """The signal that asked this command to stop (None: none did)."""
    return _signal_state["signum"]


def _install_signals() -> dict[int, Any]:
    old: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return old
    for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
        if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:  # inherited "ignore" (nohup) stays
            try:
                old[sig] = signal.signal(sig, _on_signal)
            except (ValueError, OSError):
                pass
    return old


def _restore_signals(old: dict[int, Any]) -> None:
    for sig, handler in old.items():
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError, TypeError):
            pass


def _quiet_signals() -> None:
    """While the last line is printed, a further signal must not turn it into a traceback."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
            if sig is not None:
                try:
                    signal.signal(sig, signal.SIG_IGN)
                except (ValueError, OSError):
                    pass


def _interrupted(prog: str, signum: int) -> NoReturn:
    _quiet_signals()
    name = (
        "SIGTERM"
        if signum == getattr(signal, "SIGTERM", -1)
        else "SIGINT"
        if signum == signal.SIGINT
        else f"signal {signum}"
    )
    code = EXIT_TERMINATED if name == "SIGTERM" else EXIT_INTERRUPTED if name == "SIGINT" else 128 + signum
    hint = "; everything committed is kept, run attalos-index again to resume" if prog == "attalos-index" else ""
    fail(prog, f"interrupted ({name}){hint}", code)


def describe_sqlite(exc: sqlite3.Error) -> str:
    """One line for a catalog error the core did not turn into a LibraryError itself."""
    code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    text = str(exc)
    low = text.lower()
    if code == 13 or "disk is full" in low:
        return "disk full: the catalog could not be written (nothing committed was lost; free some space and run again)"
    if code == 8 or "readonly" in low or "read-only" in low:
        return f"the catalog cannot be written ({text}): check the permissions of the library folder and its files"
    if code in (11, 26) or "malformed" in low or "not a database" in low:
        return f"the catalog is damaged ({text}); run attalos-index --check --repair"
    if code in (5, 6) or "locked" in low or "busy" in low:
        return f"the catalog is busy ({text}); try again when the other program is done"
    if code == 14 or "unable to open" in low:
        return f"the catalog cannot be opened ({text}): check that the library folder exists and is readable"
    if code == 10 or "disk i/o" in low:
        return f"input/output error on the catalog ({text}): check the disk"
    return f"catalog error: {text}"


def describe_oserror(exc: OSError) -> str:
    where = f": {show_path(str(exc.filename))}" if exc.filename else ""
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", -1):
        return f"disk full{where} (nothing committed was lost; free some space and run again)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied{where}"
    if exc.errno == errno.EROFS:
        return f"read-only file system{where}"
    if exc.errno == getattr(errno, "EFBIG", -1):
        return f"file too large for this disk or limit{where} (nothing committed was lost)"
    return f"{exc.strerror or exc}{where}"


def run_main(prog: str, body: Callable[[], int], cancel: threading.Event | None = None) -> int:
    """Run a command: every fatal condition becomes one line on stderr and an exit status, never a traceback.

    SIGINT/SIGTERM: with ``cancel`` (attalos-index) the first one sets it, so the batch in flight is
    committed and the index saved before the command exits 130/143; otherwise (and on a second signal)
    the command stops where it is (transactions roll back) with the same exit status. Notices (things
    the core repaired on its own) are printed as ``prog: message`` lines on stderr.
    """
    _signal_state["signum"], _signal_state["cancel"] = None, cancel
    old = _install_signals()
    try:
        from ..core import notices

        notices.set_handler(lambda m: print(f"{prog}: {m}", file=sys.stderr, flush=True))
        from ..core.bundle import BundleError
        from ..core.library import LibraryError, LibraryLocked

        try:
            rc = body()
            if _signal_state["signum"] is not None:
                raise Interrupted(_signal_state["signum"])
            return rc
        except LibraryLocked as exc:
            fail(prog, str(exc), EXIT_LOCKED)
        except BundleError as exc:
            fail(prog, f"no usable model: {exc}")
        except LibraryError as exc:
            fail(prog, str(exc))
    except Interrupted as exc:
        _interrupted(prog, exc.signum)
    except KeyboardInterrupt:
        _interrupted(prog, signal.SIGINT)
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - no second error when Python flushes at exit
        except OSError:
            pass
        return EXIT_OK
    except sqlite3.Error as exc:
        fail(prog, describe_sqlite(exc))
    except OSError as exc:
        fail(prog, describe_oserror(exc))
    except MemoryError:
        fail(prog, "out of memory")
    except RecursionError as exc:
        fail(prog, f"internal error: {exc}")
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, never a traceback
        fail(prog, f"unexpected error: {type(exc).__name__}: {exc}")
    finally:
        _restore_signals(old)
        _signal_state["cancel"] = None
        from ..core import notices

        notices.set_handler(None)  # in-process callers (tests, an embedding app) get pending() back
