#!/usr/bin/env bash
# Create .venv (once) and install the project into it with the given requirement spec (default ".").
# Also installs the few system libraries Qt needs on a bare Debian machine, when run as root.
# One line per step on stderr; pip runs quietly into .venv/setup.log, shown (its errors) only when it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
spec="${1:-.}"
say() { echo "$*" >&2; }

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=""
  # Qt's offscreen platform needs the first line; a real X display (or Xvfb) needs the xcb ones too.
  for lib in libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-randr0 \
      libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0; do
    dpkg -s "$lib" >/dev/null 2>&1 || missing="$missing $lib"
  done
  if [ -n "$missing" ]; then
    say "installing system libraries for Qt:$missing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
      || say "warning: could not install$missing; the GUI may not start"
  fi
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv (python3 -m venv .venv)"
  python3 -m venv .venv
fi

log=.venv/setup.log
# pip, quietly: its output (setuptools' build messages included) goes to $log; when it fails, its errors
# (from its first "ERROR:"/"error:" line on, else all of it) are shown.
quiet_pip() {
  if ! .venv/bin/python -m pip "$@" -q --disable-pip-version-check >"$log" 2>&1; then
    say "pip failed (pip $*); its errors follow, all of its output is in $log:"
    if grep -qE '^(ERROR|error):' "$log"; then
      sed -n '/^\(ERROR\|error\):/,$p' "$log" >&2
    else
      cat "$log" >&2
    fi
    exit 1
  fi
}

say "updating pip in .venv"
quiet_pip install --upgrade pip
say "setting up .venv (pip install -e $spec)"
quiet_pip install -e "$spec"
