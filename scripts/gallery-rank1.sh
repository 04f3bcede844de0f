#!/usr/bin/env bash
# How often a gallery search's rank 1 is the query's breed: searches for N photos of a gallery
# built from a folder-per-breed tree (breed = the photo's folder), each by its gallery id.
#   scripts/gallery-rank1.sh GALLERY [N]          (default N: 100, evenly spread over the ids)
set -euo pipefail
db="$1"; n="${2:-100}"
pupembed="$(cd "$(dirname "$0")/.." && pwd)/build/pupembed"
size=$("$pupembed" index stats --db "$db" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["photos"])')
hits=0; asked=0
for ((i = 0; i < n; i++)); do
  id=$(( 1 + i * size / n ))
  if "$pupembed" search "#$id" -k 1 --db "$db" --json > /tmp/rank1.$$.json 2>/dev/null; then
    same=$(python3 -c '
import json, os, sys
r = json.load(open(sys.argv[1]))
breed = lambda p: os.path.basename(os.path.dirname(p))
print(int(breed(r["query"]["path"]) == breed(r["results"][0]["path"])))' /tmp/rank1.$$.json)
    hits=$((hits + same)); asked=$((asked + 1))
  fi
done
rm -f /tmp/rank1.$$.json
echo "rank 1 of the same breed: $hits of $asked searches ($(python3 -c "print(round($hits/$asked, 3))"))"
