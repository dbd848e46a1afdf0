#!/usr/bin/env bash
# Create .venv (once) and install the project into it with the given requirement spec (default ".").
# Also installs the few system libraries Qt needs on a bare Debian machine, when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
spec="${1:-.}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  # Qt's offscreen platform needs the first line; a real X display (or Xvfb) needs the xcb ones too.
  for lib in libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0 \
      libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0; do
    dpkg -s "$lib" >/dev/null 2>&1 || missing="$missing $lib"
  done
  if [ -n "$missing" ]; then
    echo "installing system libraries for Qt:$missing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
      || echo "warning: could not install$missing; the GUI may not start" >&2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e "$spec"
