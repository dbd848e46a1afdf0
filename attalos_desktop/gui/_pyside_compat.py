"""Work around a reference-counting defect of recent PySide6 wheels on CPython < 3.12.

PySide6 6.12 (abi3 wheels) returns ``None`` from every void method, and ``True``/``False`` from
``Signal.emit``, and converts an invalid QVariant to ``None`` without taking a new reference: it
relies on these singletons being immortal, which they are only from Python 3.12 on (PEP 683).
On 3.10/3.11 each such call drops a reference that was never taken, and after a few thousand calls
the interpreter aborts with "Fatal Python error: none_dealloc" (or bool_dealloc). Measured here:
``QLabel.setText`` lowers ``sys.getrefcount(None)`` by exactly one per call.

The fix makes those three singletons effectively immortal, as 3.12 does, by adding 2**40 to their
reference counts once at import. Nothing is done on 3.12+ or on debug builds (different layout).
"""

from __future__ import annotations

import sys

_BOOST = 1 << 40
_applied = False


def make_singletons_immortal() -> bool:
    """Apply the workaround once; return True when it was needed and applied."""
    global _applied
    if _applied or sys.version_info >= (3, 12) or hasattr(sys, "gettotalrefcount"):
        return False
    if sys.implementation.name != "cpython":
        return False
    import ctypes

    for obj in (None, True, False):
        # ob_refcnt is the first field of every PyObject in release builds.
        ctypes.c_ssize_t.from_address(id(obj)).value += _BOOST
    _applied = True
    return True
