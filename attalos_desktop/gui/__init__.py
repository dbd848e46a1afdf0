"""The PySide6 desktop application (``attalos-desktop``): presents the core, never does its work."""

from attalos_desktop.gui._pyside_compat import make_singletons_immortal

make_singletons_immortal()
