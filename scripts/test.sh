#!/usr/bin/env bash
# Set up .venv with every extra the tests need (trainer, Qt test tools, HEIC/RAW formats) and run the suite offscreen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh ".[train,dev,formats]"
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
# The packaging tests validate the AppStream metainfo and desktop entry, and freeze the app with PyInstaller
# (python3-dev: Debian's libpython shared library). No C++ compiler: every dependency installs as a wheel.
if { ! command -v appstreamcli >/dev/null || ! command -v desktop-file-validate >/dev/null; } \
    && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq appstream desktop-file-utils python3-dev >/dev/null) \
    || echo "warning: could not install appstream/desktop-file-utils; the packaging tests may skip or fail" >&2
fi
# The hypernym tests read the real WordNet 3.0 noun files (golden retriever -> dog).
if [ ! -f /usr/share/wordnet/data.noun ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null) \
    || echo "warning: could not install wordnet-base; the hypernym tests will fail without /usr/share/wordnet" >&2
fi
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
exec .venv/bin/python -m pytest "$@"
