"""One-line notices for the user: things the core repaired on its own (a rebuilt index, a restored catalog).

The core never prints. A front end installs a handler (the commands print ``prog: message`` on
stderr); without one, notices wait in ``pending()`` for the GUI to show. Each distinct message is
delivered once per process, so a repair is told once, not on every call.
"""

from __future__ import annotations

import threading
from typing import Callable

_lock = threading.Lock()
_handler: Callable[[str], None] | None = None
_seen: set[str] = set()
_pending: list[str] = []


def set_handler(handler: Callable[[str], None] | None) -> None:
    """Deliver notices to ``handler`` from now on (None: keep them in ``pending()``)."""
    global _handler
    with _lock:
        _handler = handler
        waiting = list(_pending) if handler is not None else []
        if handler is not None:
            _pending.clear()
    for msg in waiting:
        handler(msg)  # type: ignore[misc]


def notice(message: str) -> None:
    """Tell the user once, in one line."""
    line = " ".join(str(message).split())
    with _lock:
        if line in _seen:
            return
        _seen.add(line)
        handler = _handler
        if handler is None:
            _pending.append(line)
            return
    try:
        handler(line)
    except Exception:  # noqa: BLE001 - telling must never break the repair it tells about
        pass


def pending() -> list[str]:
    """Notices not yet delivered (and forget them): for a GUI that polls."""
    with _lock:
        out = list(_pending)
        _pending.clear()
    return out
