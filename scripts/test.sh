#!/usr/bin/env bash
# Set up .venv with every extra the tests need (trainer + Qt test tools) and run the suite offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh ".[train,dev]"
# The GUI tests also run the app on a real X server (Xvfb), as a person would.
if ! command -v xvfb-run >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq xvfb xauth >/dev/null) \
    || echo "warning: could not install xvfb; the Xvfb screenshot test will be skipped" >&2
fi
# The sidecar tests check our XMP files with the real ExifTool.
if ! command -v exiftool >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libimage-exiftool-perl >/dev/null) \
    || echo "warning: could not install libimage-exiftool-perl; the sidecar tests will fail without exiftool" >&2
fi
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
exec .venv/bin/python -m pytest "$@"
