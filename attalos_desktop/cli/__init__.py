"""The three commands (attalos-index, attalos-tag, attalos-search): thin argparse shells over core.Library.

SIGINT/SIGTERM before a command's run_main takes over are handled in attalos_desktop/__init__.py (the
first code of ours that runs); run_main (common.py) handles them from then on.
"""
