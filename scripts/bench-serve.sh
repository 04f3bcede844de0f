#!/usr/bin/env bash
# Load benchmark of `pupembed serve`: a gallery of the val photos, a server on 127.0.0.1, then
# CLIENTS clients each POSTing a 64 x 64 JPEG to /api/search for SECONDS (build/bench/bench_serve).
#   scripts/bench-serve.sh [GALLERY.db] [CLIENTS] [SECONDS]     defaults: build/bench-val.db 8 30
# The gallery is made with the default model when the file does not exist. Extra flags for the
# server can be given in SERVE_FLAGS (e.g. SERVE_FLAGS="--workers 4"), another photo to send in
# PHOTO (e.g. a 12-megapixel one from scripts/bench-large-photos.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
DB="${1:-build/bench-val.db}"
clients="${2:-8}"
seconds="${3:-30}"
source scripts/serve-bench-common.sh
make_val_gallery
# shellcheck disable=SC2086
start_server ${SERVE_FLAGS:-}
echo "query photo: $photo ($(stat -c %s "$photo") bytes)" >&2
build/bench/bench_serve --port "$port" --photo "$photo" --clients "$clients" --seconds "$seconds" --json
