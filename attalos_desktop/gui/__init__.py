"""The PySide6 desktop application (``attalos-desktop``): presents the core, never does its work."""
