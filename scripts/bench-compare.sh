#!/usr/bin/env bash
# "No slower": times this build against another one, alternately, ROUNDS times each, on what a
# change to the library can slow down: the network alone (bench_trunk, MobileNetV2 160 px, the
# default model's trunk), `pupembed embed` on the val photos, an exact top-10 scan of 100,000
# vectors (bench_search), and `pupembed serve` answering searches by upload (bench_serve, 8
# clients). Run it with nothing else busy.
#   scripts/bench-compare.sh OLD [ROUNDS]   defaults: 3 rounds
# OLD is a folder holding the other build's pupembed, pupembed-bin, bench_trunk, bench_search and
# bench_serve (e.g. copied from build/ and build/bench/ before a change). Prints one line a run.
set -euo pipefail
cd "$(dirname "$0")/.."
old="${1:?usage: scripts/bench-compare.sh OLD_BUILD_FOLDER [ROUNDS]}"
rounds="${2:-3}"
shared="${PUPEMBED_SHARED:-../shared}"
val="$shared/data/stanford-dogs-64/val"
DB=build/bench-val.db
source scripts/serve-bench-common.sh
make_val_gallery
out=$(mktemp -d)
trap 'rm -rf "$out"; if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; fi; rm -f "$server_log"' EXIT

run_one() {  # LABEL PUPEMBED BENCH_FOLDER
  local label="$1" cli="$2" bench="$3"
  local trunk embed exact serve
  trunk=$("$bench/bench_trunk" --benchmark_filter='MobileNetV2Trunk_ChannelsLast/0/160' --benchmark_min_time=3 \
            --benchmark_format=json 2>/dev/null | python3 -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print("%.0f" % b["images/s"])')
  embed=$("$cli" embed "$val" -o "$out/e.npy" 2>&1 | grep -o '[0-9]* images/s' | cut -d' ' -f1)
  exact=$("$bench/bench_search" --exact-size 100000 --hnsw-size 0 2>&1 | grep -o 'median [0-9.]* ms' | cut -d' ' -f2)
  "$cli" serve --db "$DB" --port 0 > "$server_log" 2>&1 &
  server=$!
  for _ in $(seq 1 120); do grep -q "http://" "$server_log" && break; sleep 0.5; done
  port=$(grep -o '127.0.0.1:[0-9]*' "$server_log" | head -n 1 | cut -d: -f2)
  serve=$("$bench/bench_serve" --port "$port" --photo "$photo" --clients 8 --seconds 15 --json |
            python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.1f ms median, %.1f ms p99, %.1f/s" % (r["median_ms"], r["p99_ms"], r["requests_per_second"]))')
  kill "$server"; wait "$server" 2>/dev/null || true; server=""
  echo "$label: bench_trunk $trunk images/s | embed val $embed images/s | exact 100k median $exact ms | serve $serve"
}

for round in $(seq 1 "$rounds"); do
  run_one "round $round old" "$old/pupembed" "$old"
  run_one "round $round new" build/pupembed build/bench
done
