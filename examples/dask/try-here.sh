#!/usr/bin/env bash
# Runs scheduler.sh, two worker.sh and embed.sh on this machine (loopback, a temporary folder as the
# shared storage) over 200 val photos, imports the job and checks every photo is in the gallery
# once; stops the scheduler and workers by their process ids. Needs build/ (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
val="${PUPEMBED_SHARED:-$PWD/../shared}/data/stanford-dogs-64/val"
export PYTHONPATH="$PWD/build/python${PYTHONPATH:+:$PYTHONPATH}"
export SHARED
SHARED="$(mktemp -d /tmp/pupembed-dask.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$SHARED"
}
trap cleanup EXIT
examples/dask/scheduler.sh --host 127.0.0.1 > "$SHARED/scheduler.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s "$SHARED/scheduler.json" ]] && break; sleep 0.2; done
for worker in 1 2; do
  examples/dask/worker.sh --host 127.0.0.1 > "$SHARED/worker-$worker.log" 2>&1 &
  pids+=($!)
done
mkdir -p "$SHARED/photos"
find "$val" -type f | sort | sed -n 1,200p | xargs -I{} cp {} "$SHARED/photos/"
examples/dask/embed.sh "$SHARED/photos" "$SHARED/job" --shard-size 25
build/pupembed index import "$SHARED/job" --db "$SHARED/photos.db" --json |
  python3 -c 'import json, sys; r = json.load(sys.stdin); assert r["rows"] == r["size"] == 200, r; print("try-here.sh: 200 photos embedded on 2 Dask workers and imported, each once")'
