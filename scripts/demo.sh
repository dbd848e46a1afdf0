#!/usr/bin/env bash
# Quick start: set up .venv (with scikit-image for the sample photos), index a photo folder with the bundled
# default model, then show suggested tags and searches, each command printed before its output.
# Usage: bash scripts/demo.sh [PHOTO_DIR] [QUERY...]
# With no PHOTO_DIR it indexes ~/Pictures when that holds files, else a sample library of real, freely
# licensed photos copied from scikit-image's wheel into sample-photos/ (see attalos_desktop/quickstart.py).
# The library goes to demo-library/ ($ATTALOS_DEMO_LIBRARY overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh ".[demo]" >&2
exec .venv/bin/python -m attalos_desktop.quickstart "$@"
