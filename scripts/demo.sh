#!/usr/bin/env bash
# Quick start: set up .venv, index a photo folder with the bundled default model, then tag and search.
# Usage: bash scripts/demo.sh [PHOTO_DIR] [QUERY...]
# With no PHOTO_DIR it indexes ~/Pictures when that holds files, else a generated folder of sample photos.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh .
photos="${1:-}"
[ $# -gt 0 ] && shift
query="${*:-sky}"
library="${ATTALOS_DEMO_LIBRARY:-$PWD/demo-library}"
if [ -z "$photos" ] && [ -d "$HOME/Pictures" ] && [ -n "$(ls -A "$HOME/Pictures" 2>/dev/null)" ]; then
  photos="$HOME/Pictures"
fi
if [ -z "$photos" ]; then
  photos="$PWD/demo-photos"
  echo "no photo folder given: generating sample photos in $photos"
  .venv/bin/python -c 'import sys; from trainer.synthetic import make_dataset; make_dataset(sys.argv[1], 60, seed=7)' "$photos"
fi
echo "== indexing $photos into $library"
.venv/bin/attalos-index --library "$library" "$photos"
first=$(find "$photos" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort | head -n 1)
if [ -n "$first" ]; then
  echo "== suggested tags for $first"
  .venv/bin/attalos-tag --library "$library" --top 5 "$first"
fi
echo "== search: $query"
.venv/bin/attalos-search --library "$library" --limit 5 "$query"
