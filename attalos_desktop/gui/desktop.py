"""Desktop integration: open photos with the default application, show them in the file manager.

``open_url`` is the single seam to the desktop (tests replace it to observe without launching
programs); everything else here goes through it.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices

MAX_OPEN = 20  # files opened (or shown) at once: a select-all must not launch a thousand viewers


def open_url(url: QUrl) -> bool:
    """Hand a URL to the desktop."""
    return QDesktopServices.openUrl(url)


def open_files(paths: Iterable[str]) -> None:
    """Open each file with the desktop's default application (at most ``MAX_OPEN``)."""
    for p in list(paths)[:MAX_OPEN]:
        open_url(QUrl.fromLocalFile(str(p)))


def open_folder(path: str) -> None:
    open_url(QUrl.fromLocalFile(str(path)))


def show_in_folder(paths: Iterable[str]) -> None:
    """Show the files selected in the file manager; where that cannot be asked, open their folders."""
    paths = [str(p) for p in list(paths)[:MAX_OPEN]]
    if not paths or show_items_in_file_manager(paths):
        return
    for folder in dict.fromkeys(os.path.dirname(p) for p in paths):
        open_folder(folder)


def show_items_in_file_manager(paths: list[str]) -> bool:
    """Ask the desktop's file manager to open the folders with these files selected.

    Uses the freedesktop FileManager1 D-Bus interface (Nautilus, Dolphin, Nemo, Caja, Thunar...);
    returns False where there is none (no session bus, Windows, macOS).
    """
    if sys.platform != "linux":
        return False
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface
    except ImportError:
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    iface = QDBusInterface(
        "org.freedesktop.FileManager1", "/org/freedesktop/FileManager1", "org.freedesktop.FileManager1", bus
    )
    if not iface.isValid():
        return False
    uris = [QUrl.fromLocalFile(p).toString() for p in paths]
    reply = iface.call("ShowItems", uris, "")
    return not reply.errorMessage()
