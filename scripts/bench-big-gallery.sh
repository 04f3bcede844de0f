#!/usr/bin/env bash
# A gallery of SIZE embedding-like photos (10 million by default) with its IVF-PQ index, as a user
# meets it: build/bench/bench_ivf makes it (put in bulk, recorded as the default model's, so that
# uploads can be searched), builds the index and measures recall and queries/s; then the time of
# `pupembed index stats`, how long `pupembed serve` takes to answer and its resident memory, and
# 8 clients searching by upload (build/bench/bench_serve) for 30 s.
#   scripts/bench-big-gallery.sh [SIZE] [DIR]        defaults: 10000000 bench-galleries
# Needs a build with the benchmarks (scripts/setup.sh), about 10 GB of disk a 10 million photos
# and, for 10 million, about 30 minutes on 2 cores. Run it with nothing else running.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-10000000}"
dir="${2:-bench-galleries}"
shared="${PUPEMBED_SHARED:-../shared}"
mkdir -p "$dir"
like="$dir/val-embeddings.npy"
if [[ ! -f "$like" ]]; then build/pupembed embed "$shared/data/stanford-dogs-64/val" -o "$like"; fi
build/bench/bench_ivf --like "$like" --size "$size" --dir "$dir" --probes-list 32,48,64 --model models/pupembed-default.pt --json \
  > "$dir/bench-ivf-$size.json"
DB="$dir/like-$size.pupembed"

milliseconds_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
start=$(date +%s%N)
build/pupembed index stats --db "$DB" > /dev/null
echo "index stats: $(milliseconds_since "$start") ms" >&2

source scripts/serve-bench-common.sh
start=$(date +%s%N)
start_server
echo "serve: answering after $(milliseconds_since "$start") ms; resident $(awk '/VmRSS/ {print $2 / 1024 " MB"}' /proc/$server/status)" >&2
build/bench/bench_serve --port "$port" --photo "$photo" --clients 8 --seconds 30 --json > "$dir/bench-serve-$size.json"
python3 -c "import json, sys; r = json.load(open(sys.argv[1])); print('search by upload, 8 clients:', {k: v for k, v in r.items() if 'ms' in k or 'per_second' in k})" \
  "$dir/bench-serve-$size.json" >&2
echo "serve after the load: resident $(awk '/VmRSS/ {print $2 / 1024 " MB"}' /proc/$server/status), peak $(awk '/VmHWM/ {print $2 / 1024 " MB"}' /proc/$server/status)" >&2
stop_server
