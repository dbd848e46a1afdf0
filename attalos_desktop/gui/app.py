"""Entry point of ``attalos-desktop``.

    attalos-desktop [--library DIR] [--screenshot FILE.png] [--search QUERY] [--select N]

``--screenshot`` renders the main window once the library is loaded (and the optional search has
answered and the visible thumbnails are shown), saves a PNG and exits. It works offscreen
(QT_QPA_PLATFORM=offscreen) and under Xvfb.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable

APP_NAME = "attalos-desktop"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=APP_NAME, description="Browse, search and tag your photos offline.")
    p.add_argument("--library", metavar="DIR", help="library folder (default: $ATTALOS_HOME or the user data dir)")
    p.add_argument("--screenshot", metavar="FILE.png", help="render the main window to FILE.png and exit")
    p.add_argument("--search", metavar="QUERY", help="start with this search (useful with --screenshot)")
    p.add_argument("--select", metavar="N", type=int, default=None, help="select the N-th photo of the grid (0-based)")
    p.add_argument("--size", metavar="WxH", default="1280x800", help="window size for --screenshot (default 1280x800)")
    p.add_argument("--timeout", type=float, default=120.0, help="--screenshot gives up after this many seconds")
    return p.parse_args(argv)


def dark_palette():
    """A neutral dark palette: photos read better on dark grey, as in most photo applications."""
    from PySide6.QtGui import QColor, QPalette

    p = QPalette()
    roles = QPalette.ColorRole
    base, window, text = QColor(30, 30, 30), QColor(43, 43, 43), QColor(222, 222, 222)
    p.setColor(roles.Window, window)
    p.setColor(roles.WindowText, text)
    p.setColor(roles.Base, base)
    p.setColor(roles.AlternateBase, QColor(38, 38, 38))
    p.setColor(roles.ToolTipBase, QColor(50, 50, 50))
    p.setColor(roles.ToolTipText, text)
    p.setColor(roles.PlaceholderText, QColor(130, 130, 130))
    p.setColor(roles.Text, text)
    p.setColor(roles.Button, QColor(53, 53, 53))
    p.setColor(roles.ButtonText, text)
    p.setColor(roles.BrightText, QColor(255, 80, 80))
    p.setColor(roles.Highlight, QColor(47, 111, 214))
    p.setColor(roles.HighlightedText, QColor(255, 255, 255))
    p.setColor(roles.Link, QColor(110, 160, 240))
    p.setColor(roles.Mid, QColor(70, 70, 70))
    p.setColor(roles.Dark, QColor(25, 25, 25))
    p.setColor(roles.Light, QColor(75, 75, 75))
    for role in (roles.Text, roles.WindowText, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 120, 120))
    return p


def _make_app(argv: list[str], theme: str = "dark"):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication(argv)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("Attalos")
    app.setOrganizationName("Attalos")
    app.setStyle("Fusion")
    if theme == "dark":
        app.setPalette(dark_palette())
    return app


def pump_until(cond: Callable[[], bool], limit: float) -> bool:
    """Run the Qt event loop until ``cond()`` holds or ``limit`` seconds pass (scripted runs, screenshots)."""
    from PySide6.QtCore import QCoreApplication, QEventLoop

    end = time.monotonic() + limit
    while time.monotonic() < end:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def take_screenshot(window, path: str, search: str | None, select: int | None, timeout: float) -> int:
    """Wait until the window has settled, optionally search and select, grab it into ``path``."""
    deadline = time.monotonic() + timeout
    ok = pump_until(window.is_settled, timeout)
    if search:
        window.search(search)
        ok = pump_until(window.is_settled, max(1.0, deadline - time.monotonic())) and ok
    if window.model.rowCount():
        idx = 0 if select is None else max(0, min(select, window.model.rowCount() - 1))
        window.select_rows([idx])
        # The detail answer and the preview arrive asynchronously.
        pump_until(
            lambda: window.detail.detail is not None and window.is_settled(), max(1.0, deadline - time.monotonic())
        )
    pump_until(lambda: False, 0.3)  # let the last repaints land
    if not ok:
        print(f"{APP_NAME}: window did not settle within {timeout:.0f} s; saving what is shown", file=sys.stderr)
    img = window.grab().toImage()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if not img.save(path, "PNG", 0):  # 0: the strongest (lossless) PNG compression
        print(f"{APP_NAME}: could not write {path}", file=sys.stderr)
        return 1
    print(f"{APP_NAME}: saved {path} ({img.width()}x{img.height()})")
    return 0 if ok else 2


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.screenshot:
        os.environ.setdefault("ATTALOS_GUI_NO_POPUPS", "1")
        if not os.environ.get("QT_QPA_PLATFORM") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            os.environ["QT_QPA_PLATFORM"] = "offscreen"  # no display to show on: render offscreen
    from attalos_desktop.gui.settings import Settings

    app = _make_app(sys.argv[:1], Settings.load().theme)

    from PySide6.QtWidgets import QMessageBox

    from attalos_desktop.gui.window import MainWindow

    # PySide6's import hook reads the source of every module imported after it (looking for
    # "PySide6"), and linecache keeps those lines: ~5 MB for the app, numpy, Pillow and the core. It is
    # only a cache for tracebacks; drop it now, while no other Python thread can be reading it.
    import linecache

    linecache.clearcache()

    try:
        window = MainWindow(home=args.library)
    except Exception as exc:  # noqa: BLE001 - e.g. an unusable model bundle: say what is wrong
        msg = f"{type(exc).__name__}: {exc}"
        print(f"{APP_NAME}: cannot open the library: {msg}", file=sys.stderr)
        if not args.screenshot:
            QMessageBox.critical(None, "Attalos", f"Cannot open the library.\n\n{msg}")
        return 1

    if args.screenshot:
        try:
            w, h = (int(x) for x in args.size.lower().split("x"))
        except ValueError:
            print(f"{APP_NAME}: --size wants WxH, got {args.size!r}", file=sys.stderr)
            return 2
        window.resize(w, h)
        window.show()
        rc = take_screenshot(window, args.screenshot, args.search, args.select, args.timeout)
        for e in window.errors:
            print(f"{APP_NAME}: {e}", file=sys.stderr)
        window.shutdown()
        window.deleteLater()
        return rc

    window.show()
    if args.search:
        window.search(args.search)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
