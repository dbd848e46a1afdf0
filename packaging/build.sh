#!/usr/bin/env bash
# Build Attalos Desktop for Linux, without torch, into packaging/dist/:
#
#   packaging/dist/attalos-desktop/      the one-folder app: attalos-desktop (+ attalos-index, attalos-tag,
#                                        attalos-search: links to it), _internal/ (Python, Qt and its
#                                        offscreen/xcb/wayland platform plugins, ONNX Runtime, the default
#                                        model), share/ (desktop entry, icons, AppStream metainfo), install.sh
#   packaging/dist/wheelhouse/           attalos_desktop-*.whl: `pip install packaging/dist/wheelhouse/\
#                                        attalos_desktop-*.whl` needs no C++ compiler, on any Python 3.10+
#                                        (every dependency, the voyager vector index included, comes as a
#                                        wheel from PyPI)
#
#   bash packaging/build.sh              # needs python3 (3.10+) and PyPI (or pip's cache)
#   bash packaging/build.sh --wheels     # only the wheelhouse
#
# Environment: PYTHON (default python3), ATTALOS_BUILD_FORMATS=0 to leave out HEIC/RAW (the formats extra).
# The build venv (packaging/build/venv) is kept and reused by later builds.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"
PYTHON="${PYTHON:-python3}"
build="$here/build"
dist="$here/dist"
wheelhouse="$dist/wheelhouse"
venv="$build/venv"
app="$dist/attalos-desktop"
only_wheels=0
[ "${1:-}" = "--wheels" ] && only_wheels=1
mkdir -p "$build" "$wheelhouse"
log() { printf '== %s\n' "$*" >&2; }

# -- build venv (reused while this script and pyproject.toml are unchanged) -------------------------
stamp="$( (cat "$here/build.sh"; sed -n '/^dependencies = \[/,/^\]/p' pyproject.toml; "$PYTHON" -VV) | sha256sum | cut -c1-16)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$stamp" ]; then
  log "creating the build venv ($venv)"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "setuptools>=68" wheel "pyinstaller>=6.6"
  echo "$stamp" > "$venv/.stamp.pending"
fi
py="$venv/bin/python"

# -- wheelhouse: the app ---------------------------------------------------------------------------
rm -f "$wheelhouse"/hnswlib-*.whl  # left by builds from before the voyager index: the app no longer uses it
log "building the attalos-desktop wheel"
rm -f "$wheelhouse"/attalos_desktop-*.whl
rm -rf build/lib build/bdist.* 2>/dev/null || true
"$py" -m pip wheel -q --no-deps --no-build-isolation . -w "$wheelhouse"
rm -rf build/lib build/bdist.* 2>/dev/null || true
[ "$only_wheels" = 1 ] && { ls -l "$wheelhouse"; exit 0; }

# -- the app's runtime into the build venv: CPU ONNX Runtime (no CUDA libraries), no torch -----------
if [ -f "$venv/.stamp.pending" ]; then
  log "installing the app's runtime into the build venv"
  "$py" -m pip install -q --no-deps "$wheelhouse"/attalos_desktop-*.whl
  # the wheel's own requirements, with onnxruntime (CPU) for onnxruntime-gpu: the desktop build runs
  # the small model on the CPU, and the CUDA provider alone is hundreds of MB
  mapfile -t reqs < <("$py" - <<'PY'
import importlib.metadata as md
for r in md.requires("attalos-desktop") or []:
    if "extra ==" in r:
        continue
    print(r.replace("onnxruntime-gpu", "onnxruntime"))
PY
)
  if [ "${ATTALOS_BUILD_FORMATS:-1}" != 0 ]; then
    reqs+=("pillow-heif>=0.16" "rawpy>=0.19")
  fi
  "$py" -m pip install -q --only-binary voyager "${reqs[@]}"
  mv "$venv/.stamp.pending" "$venv/.stamp"
else
  "$py" -m pip install -q --no-deps --force-reinstall "$wheelhouse"/attalos_desktop-*.whl
fi

# -- PyInstaller ---------------------------------------------------------------------------------
log "freezing with PyInstaller"
rm -rf "$app"
ATTALOS_REPO="$repo" "$py" -m PyInstaller --noconfirm --log-level WARN \
  --workpath "$build/pyinstaller" --distpath "$dist" "$here/attalos-desktop.spec"
for cmd in attalos-index attalos-tag attalos-search; do
  ln -s attalos-desktop "$app/$cmd"
done

# -- desktop integration: entry, icons (SVG + PNGs rendered by Qt), AppStream metainfo ---------------
share="$app/share"
mkdir -p "$share/applications" "$share/metainfo" "$share/icons/hicolor/scalable/apps"
cp "$here/share/org.attalos.Desktop.desktop" "$share/applications/"
cp "$here/share/org.attalos.Desktop.metainfo.xml" "$share/metainfo/"
cp "$here/share/org.attalos.Desktop.svg" "$share/icons/hicolor/scalable/apps/"
QT_QPA_PLATFORM=offscreen "$py" "$here/render_icons.py" "$here/share/org.attalos.Desktop.svg" "$share/icons/hicolor"
cp "$here/install.sh" "$app/install.sh"
if command -v appstreamcli >/dev/null; then
  appstreamcli validate --no-net "$share/metainfo/org.attalos.Desktop.metainfo.xml" >&2
else
  log "appstreamcli not found (Debian: appstream): metainfo not validated"
fi
size="$(du -sm "$app" | cut -f1)"
log "built $app (${size} MB); install for this user: bash $app/install.sh --user"
