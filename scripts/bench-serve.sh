#!/usr/bin/env bash
# Load benchmark of `pupembed serve`: a gallery of the val photos, a server on 127.0.0.1, then
# CLIENTS clients each POSTing a 64 x 64 JPEG to /api/search for SECONDS (build/bench/bench_serve).
#   scripts/bench-serve.sh [GALLERY.db] [CLIENTS] [SECONDS]     defaults: build/bench-val.db 8 30
# The gallery is made with the default model when the file does not exist. Extra flags for the
# server can be given in SERVE_FLAGS (e.g. SERVE_FLAGS="--workers 4").
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${PUPEMBED_SHARED:-../shared}"
db="${1:-build/bench-val.db}"
clients="${2:-8}"
seconds="${3:-30}"
val="$shared/data/stanford-dogs-64/val"
photo="$val/n02110958-pug/$(ls "$val/n02110958-pug" | sort | head -n 1)"

if [[ ! -f "$db" ]]; then
  build/pupembed index add "$val" --db "$db"
fi
log=$(mktemp)
# shellcheck disable=SC2086
build/pupembed serve --db "$db" --port 0 ${SERVE_FLAGS:-} > "$log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 120); do
  grep -q "http://" "$log" && break
  sleep 0.5
done
port=$(grep -o '127.0.0.1:[0-9]*' "$log" | head -n 1 | cut -d: -f2)
[[ -n "$port" ]] || { echo "bench-serve: the server did not start" >&2; exit 1; }
echo "query photo: $photo ($(stat -c %s "$photo") bytes)" >&2
build/bench/bench_serve --port "$port" --photo "$photo" --clients "$clients" --seconds "$seconds" --json
