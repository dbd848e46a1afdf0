#!/usr/bin/env bash
# Install the one-folder build of Attalos Desktop for this user, without root, or remove it again.
#
#   bash install.sh --user        # copy the app to ~/.local/lib/attalos-desktop, link its commands into
#                                 # ~/.local/bin, add it to the application menu (desktop entry, icons,
#                                 # AppStream metainfo under ~/.local/share)
#   bash install.sh --uninstall   # remove exactly what --user installed (your libraries are kept)
#
# Run it from the built folder (packaging/dist/attalos-desktop/install.sh) or as packaging/install.sh
# after packaging/build.sh. XDG_DATA_HOME is honoured for the share/ files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ -x "$here/attalos-desktop" ] && [ -d "$here/_internal" ]; then
  src="$here"
else
  src="$here/dist/attalos-desktop"
fi
APP_ID=org.attalos.Desktop
COMMANDS="attalos-desktop attalos-index attalos-tag attalos-search"
lib="$HOME/.local/lib/attalos-desktop"
bin="$HOME/.local/bin"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
manifest="$lib/.installed-files"

refresh_caches() {  # optional tools of the desktop; missing ones only delay the menu's update
  command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" 2>/dev/null || true
  command -v gtk-update-icon-cache >/dev/null && [ -f "$data/icons/hicolor/index.theme" ] \
    && gtk-update-icon-cache -q -t "$data/icons/hicolor" 2>/dev/null || true
  return 0
}

uninstall() {
  if [ -f "$manifest" ]; then
    while IFS= read -r f; do
      # only files and links this script put there (the manifest lists nothing else)
      if [ -L "$f" ] || [ -f "$f" ]; then rm -f -- "$f"; fi
    done < "$manifest"
  fi
  rm -rf -- "$lib"
  refresh_caches
  echo "removed Attalos Desktop from $lib (photo libraries are kept)"
}

install_user() {
  if [ ! -x "$src/attalos-desktop" ]; then
    echo "install.sh: no built app at $src (run packaging/build.sh first)" >&2
    exit 1
  fi
  [ -d "$lib" ] && uninstall >/dev/null
  mkdir -p "$(dirname "$lib")" "$bin" "$data/applications" "$data/metainfo"
  tmp="$lib.tmp.$$"
  rm -rf -- "$tmp"
  cp -a "$src" "$tmp"
  mv -- "$tmp" "$lib"
  : > "$manifest"
  for cmd in $COMMANDS; do
    ln -sfn "$lib/$cmd" "$bin/$cmd"
    echo "$bin/$cmd" >> "$manifest"
  done
  # the menu entry runs the installed executable by its full path: ~/.local/bin is not always on PATH
  sed -e "s|^Exec=.*|Exec=\"$lib/attalos-desktop\"|" -e "s|^TryExec=.*|TryExec=$lib/attalos-desktop|" \
    "$src/share/applications/$APP_ID.desktop" > "$data/applications/$APP_ID.desktop"
  echo "$data/applications/$APP_ID.desktop" >> "$manifest"
  cp "$src/share/metainfo/$APP_ID.metainfo.xml" "$data/metainfo/"
  echo "$data/metainfo/$APP_ID.metainfo.xml" >> "$manifest"
  (cd "$src/share/icons" && find hicolor -name "$APP_ID.*") | while IFS= read -r icon; do
    mkdir -p "$data/icons/$(dirname "$icon")"
    cp "$src/share/icons/$icon" "$data/icons/$icon"
    echo "$data/icons/$icon" >> "$manifest"
  done
  refresh_caches
  echo "installed Attalos Desktop in $lib"
  case ":$PATH:" in
    *":$bin:"*) ;;
    *) echo "note: $bin is not on PATH; the menu entry works, or run $bin/attalos-desktop" ;;
  esac
}

case "${1:-}" in
  --user) install_user ;;
  --uninstall) uninstall ;;
  *) echo "usage: $0 --user | --uninstall" >&2; exit 2 ;;
esac
