#!/usr/bin/env bash
# Set up .venv with every extra the tests need (trainer + Qt test tools) and run the suite offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh ".[train,dev]"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
exec .venv/bin/python -m pytest "$@"
