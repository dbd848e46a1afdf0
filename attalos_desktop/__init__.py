"""Attalos Desktop: tag and search your photos with a joint image-word embedding."""

__version__ = "0.1.0"

import os as _os
import signal as _signal
import sys as _sys

# Privacy: ONNX Runtime writes a usage-event database with a device id under ~/.cache unless this is
# set before it is imported (core/encoder.py also calls ort.disable_telemetry_events()).
_os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


def _early_exit(signum: int, _frame: object) -> None:
    """SIGINT/SIGTERM before a command's run_main took over: nothing is open yet, so exit at once with
    one line and 128+signal (instead of a KeyboardInterrupt traceback from the imports)."""
    prog = _os.path.basename(_sys.argv[0]) or "attalos"
    try:
        _os.write(2, f"{prog}: error: interrupted\n".encode())
    finally:
        _os._exit(128 + signum)


# Only when running as one of the commands (the earliest moment our code runs): an importing host
# (pytest, the GUI) keeps its own handlers.
if _os.path.basename(_sys.argv[0] if _sys.argv else "") in ("attalos-index", "attalos-tag", "attalos-search"):
    for _sig in (_signal.SIGINT, getattr(_signal, "SIGTERM", None)):
        if _sig is not None and _signal.getsignal(_sig) is not _signal.SIG_IGN:
            try:
                _signal.signal(_sig, _early_exit)
            except (ValueError, OSError):
                pass
