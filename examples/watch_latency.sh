#!/usr/bin/env bash
# How long a camera photo takes to join a watched map: the app runs under Xvfb on a folder of 40
# demo emoji with --watch --autosave and a fresh (cold) cache; each JPEG given is then renamed
# into the folder (its copy completes at once) and the time until the autosaved layout names it
# is printed.
#
#   cargo build --release
#   examples/watch_latency.sh PHOTO.jpg [PHOTO.jpg ...]   # e.g. the 24 Mpx ones bench_photos makes
set -euo pipefail
app="$(cd "$(dirname "$0")/.." && pwd)/target/release/image-tsne-live"
[ -x "$app" ] || { echo "build the app first: cargo build --release" >&2; exit 1; }
[ $# -gt 0 ] || { echo "usage: $0 PHOTO.jpg [PHOTO.jpg ...]" >&2; exit 2; }
work="$(mktemp -d)"
mkdir "$work/visitors"
cp "$(dirname "$0")"/../assets/demo/activities/*.png "$work/visitors/"
Xvfb :77 -screen 0 1280x800x24 >/dev/null 2>&1 & xvfb=$!
trap 'kill $app_pid $xvfb 2>/dev/null; rm -rf "$work"' EXIT
sleep 1
export DISPLAY=:77 IMAGE_TSNE_LIVE_CACHE="$work/cache" XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$work}"
"$app" "$work/visitors" --watch --autosave "$work/map.json" --hide-gui --size 960x600 \
  --settle-seconds 0 >"$work/app.log" 2>&1 & app_pid=$!
for _ in $(seq 600); do [ -f "$work/map.json" ] && break; sleep 0.1; done
sleep 3
k=0
for photo in "$@"; do
  cp "$photo" "$work/copying.tmp"
  t0=$(date +%s.%N)
  mv "$work/copying.tmp" "$work/visitors/new-$k.jpg"
  for _ in $(seq 500); do grep -q "new-$k.jpg" "$work/map.json" 2>/dev/null && break; sleep 0.02; done
  t1=$(date +%s.%N)
  echo "$(basename "$photo") on the map $(echo "$t1 - $t0" | bc) s after its copy completed"
  k=$((k + 1))
  sleep 2
done
