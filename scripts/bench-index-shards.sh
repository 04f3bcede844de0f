#!/usr/bin/env bash
# The IVF-PQ index of a gallery of SIZE embedding-like photos (1 million by default) built in one
# process, then in SHARDS shards by as many processes at once (each with its share of the cores:
# `index build --shards`, `--shard I/N --threads T`, `--merge`), alternately, ROUNDS times; then by
# Dask tasks (python3 -m pupembed.distributed index, a local cluster of one worker a core). Checks
# that every build in shards wrote the same index file as the one-process build.
#   scripts/bench-index-shards.sh [SIZE] [SHARDS] [DIR]     defaults: 1000000 2 bench-galleries
# Needs a build with the benchmarks (scripts/test.sh builds build/bench/bench_ivf, which makes the
# gallery). Run it with nothing else running.
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1000000}"
shards="${2:-2}"
dir="${3:-bench-galleries}"
rounds="${ROUNDS:-2}"
shared="${PUPEMBED_SHARED:-../shared}"
python=/usr/bin/python3  # Debian's, with numpy and distributed
cores=$(nproc)
threads=$(( cores / shards > 0 ? cores / shards : 1 ))
mkdir -p "$dir"
like="$dir/val-embeddings.npy"
if [[ ! -f "$like" ]]; then build/pupembed embed "$shared/data/stanford-dogs-64/val" -o "$like"; fi
DB="$dir/like-$size.pupembed"
if [[ ! -f "$DB" ]]; then build/bench/bench_ivf --like "$like" --size "$size" --dir "$dir" --queries 100 > /dev/null; fi

seconds_since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }
# A field of the JSON on stdin (numbers to a tenth).
field() { python3 -c "import json, sys; v = json.load(sys.stdin)$1; print(f'{v:.1f}' if isinstance(v, float) else v)"; }

one_process() {
  rm -f "$DB.ivfpq" "$DB.vectors"
  local start; start=$(date +%s.%N)
  local how; how=$(build/pupembed index build --db "$DB" --index ivfpq --json | field '["how"]')
  echo "one process, $cores threads: $(seconds_since "$start") s ($how)"
  cp "$DB.ivfpq" "$dir/one-process.ivfpq"
}

in_shards() {
  rm -f "$DB.ivfpq" "$DB.vectors"
  rm -rf "$DB.ivfpq-shards"
  local start; start=$(date +%s.%N)
  local plan; plan=$(build/pupembed index build --db "$DB" --shards "$shards" --json)
  local planned; planned=$(seconds_since "$start")
  local encode_start; encode_start=$(date +%s.%N)
  local pids=()
  for (( i = 0; i < shards; i++ )); do
    build/pupembed index build --db "$DB" --shard "$i/$shards" --threads "$threads" --json > "$dir/shard-$i.json" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  local encoded; encoded=$(seconds_since "$encode_start")
  local slowest; slowest=$(python3 -c "import json, sys; print(f'{max(json.load(open(p))[\"seconds\"] for p in sys.argv[1:]):.1f}')" "$dir"/shard-*.json)
  local merge; merge=$(build/pupembed index build --db "$DB" --merge --json | field '["seconds"]')
  echo "$shards shards, $threads thread(s) each: $(seconds_since "$start") s (plan $planned s: vectors $(echo "$plan" | field '["writing_seconds"]') s," \
       "training $(echo "$plan" | field '["training_seconds"]') s; $shards processes at once $encoded s, the slowest shard $slowest s; merge $merge s)"
  rm -f "$dir"/shard-*.json
  if cmp -s "$DB.ivfpq" "$dir/one-process.ivfpq"; then echo "  the same index file as one process: yes"; else echo "  the same index file as one process: NO"; exit 1; fi
}

echo "$DB: $size photos, $cores cores"
for (( round = 1; round <= rounds; round++ )); do
  one_process
  in_shards
done
start=$(date +%s.%N)
summary=$(PYTHONPATH=build/python "$python" -m pupembed.distributed index --db "$DB" --shards $(( shards * 2 )) --local "$cores" --json 2> /dev/null)
echo "Dask, $cores workers, $(( shards * 2 )) shards: $(seconds_since "$start") s (training $(echo "$summary" | field '["plan"]["training_seconds"]') s," \
     "tasks $(echo "$summary" | field '["run_seconds"]') s, merge $(echo "$summary" | field '["merge"]["seconds"]') s)"
if cmp -s "$DB.ivfpq" "$dir/one-process.ivfpq"; then echo "  the same index file as one process: yes"; else echo "  the same index file as one process: NO"; exit 1; fi
rm -f "$dir/one-process.ivfpq"
