#!/usr/bin/env bash
# Dask against one process on the val photos: `python3 -m pupembed.distributed embed --local 2`
# and `pupembed embed`, alternately, ROUNDS rounds (default 3), each on a fresh job; then a rerun of
# the finished job, and the import of the last job against `index add` of the same photos (same
# rows, paths and order; vectors within 1e-6). Nothing else should run meanwhile.
#   scripts/bench-distributed.sh [--rounds N] [--shard-size N] [--workers N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3 shard_size=250 workers=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --shard-size) shard_size="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    *) echo "usage: scripts/bench-distributed.sh [--rounds N] [--shard-size N] [--workers N]" >&2; exit 2 ;;
  esac
done
val="${PUPEMBED_SHARED:-$PWD/../shared}/data/stanford-dogs-64/val"
export PYTHONPATH="$PWD/build/python${PYTHONPATH:+:$PYTHONPATH}"
python=/usr/bin/python3  # Debian's, with numpy and distributed
work="$(mktemp -d /tmp/pupembed-bench-distributed.XXXXXX)"
trap 'rm -rf "$work"' EXIT
echo "val: $(find "$val" -type f | wc -l) photos; $(nproc) cores; dask --local $workers --shard-size $shard_size"

ratios=()
for round in $(seq "$rounds"); do
  rm -rf "$work/job" "$work/embed.npy" "$work/embed.tsv"
  build/pupembed embed "$val" -o "$work/embed.npy" > "$work/embed.out" 2> /dev/null
  single="$(grep -o '[0-9.]* images/s' "$work/embed.out" | cut -d' ' -f1)"
  "$python" -m pupembed.distributed embed "$val" -o "$work/job" --local "$workers" --shard-size "$shard_size" --json \
    2> /dev/null > "$work/dask.json"
  dask="$("$python" -c 'import json, sys; print(round(json.load(open(sys.argv[1]))["photos_per_second"]))' "$work/dask.json")"
  ratios+=("$("$python" -c "print(round(100 * $dask / $single))")")
  echo "round $round: pupembed embed $single images/s; dask $dask photos/s over its tasks (${ratios[-1]}%)"
done
echo "dask / one process: ${ratios[*]} %"

start=$(date +%s.%N)
"$python" -m pupembed.distributed embed "$val" -o "$work/job" --local "$workers" > "$work/rerun.out" 2> /dev/null
echo "rerun of the finished job: $("$python" -c "print(f'{$(date +%s.%N) - $start:.2f}')") s ($(cat "$work/rerun.out"))"

build/pupembed index import "$work/job" --db "$work/imported.db" > /dev/null
build/pupembed index add "$val" --db "$work/added.db" > /dev/null 2>&1
"$python" - "$work/imported.db" "$work/added.db" <<'COMPARE'
import sqlite3, sys
import numpy as np
rows = [sqlite3.connect(path).execute("SELECT id, path, content_hash, breed, vector FROM images ORDER BY id").fetchall()
        for path in sys.argv[1:]]
imported, added = rows
assert len(imported) == len(added), (len(imported), len(added))
assert [r[:4] for r in imported] == [r[:4] for r in added], "ids, paths, hashes or breeds differ"
worst = max(float(np.abs(np.frombuffer(a[4], np.float32) - np.frombuffer(b[4], np.float32)).max()) for a, b in zip(imported, added))
assert worst <= 1e-6, worst
print(f"import of the job against index add: {len(imported)} rows, same ids, paths, hashes and breeds in the same order; "
      f"largest vector difference {worst:.1e}")
COMPARE
