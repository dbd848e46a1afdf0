"""The one executable of the frozen app: ``attalos-desktop``, ``attalos-index``, ``attalos-tag`` and
``attalos-search`` are links to it, and the name it was started by picks the command (like busybox).

One executable instead of four: each PyInstaller executable carries its own archive of the Python code
(several MB) while the links cost nothing, and all four share the same ``_internal/`` libraries anyway.
``attalos-desktop --run attalos-index ARGS`` does the same where links are not available.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

COMMANDS = {
    "attalos-desktop": ("attalos_desktop.gui.app", "main"),
    "attalos-index": ("attalos_desktop.cli.index", "main"),
    "attalos-tag": ("attalos_desktop.cli.tag", "main"),
    "attalos-search": ("attalos_desktop.cli.search", "main"),
}


def command_name(argv: list[str]) -> tuple[str, list[str]]:
    """(command, its arguments) from the name this program was started by, or ``--run NAME``."""
    if len(argv) >= 3 and argv[1] == "--run" and argv[2] in COMMANDS:
        return argv[2], argv[3:]
    name = os.path.basename(argv[0] if argv else "")
    if name.endswith(".exe"):
        name = name[:-4]
    return (name if name in COMMANDS else "attalos-desktop"), argv[1:]


def _square(x: int) -> int:
    return x * x


def spawn_check() -> int:
    """``attalos-desktop --spawn-check``: run work in a spawned child as the GUI's indexer does, print its answer."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        print(f"spawned child answered {pool.apply(_square, (7,))}")
    return 0


def main() -> None:
    # The GUI indexes in a spawned child process: in a frozen app that child is this executable again,
    # started with --multiprocessing-fork, and freeze_support() runs it instead of a command.
    multiprocessing.freeze_support()
    if sys.argv[1:] == ["--spawn-check"]:
        sys.exit(spawn_check())
    name, args = command_name(sys.argv)
    sys.argv = [name, *args]  # argparse's prog and attalos_desktop's signal setup read argv[0]
    import importlib

    module, func = COMMANDS[name]
    rc = getattr(importlib.import_module(module), func)()
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
