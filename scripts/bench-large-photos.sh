#!/usr/bin/env bash
# Photos of a phone's size: `embed` and `index add` with JPEGs decoded at the scale the network
# needs (the default) against decoded in full (--full-decode), alternately in the same run, and
# how far apart their embeddings are.
#   scripts/bench-large-photos.sh [ROUNDS]       default 3 rounds of each
#   BASELINE=/path/to/older/build/pupembed scripts/bench-large-photos.sh
#       also times `embed` with that build (one from before reduced decoding) in each round
# Made once, under build/large-photos/ (build/bench/bench_large_photos make):
#   upscaled/  the issue's set: 600 val photos enlarged to 4032 x 3024, JPEG quality 90 (smooth,
#              about 0.5 MB each), every 8th a portrait stored sideways with EXIF orientation 6
#              (4032x3024/); and 8 at 8000 x 6000 (8000x6000/)
#   phone/     the same from imagewoof-320-dev photos with sensor-like noise added, so that
#              files are as large as a phone's (about 3.3 MB each): slower to decode, since
#              reading the compressed data is what remains of the work at 1/8 scale
# Nothing else heavy should run meanwhile (2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}"
shared="${PUPEMBED_SHARED:-../shared}"
root=build/large-photos
maker=build/bench/bench_large_photos
[[ -x "$maker" && -x build/pupembed ]] || { echo "bench-large-photos.sh: build first (scripts/setup.sh)" >&2; exit 1; }
if [[ ! -d "$root/upscaled/4032x3024" ]]; then
  "$maker" make "$root/upscaled" --from "$shared/data/stanford-dogs-64/val" --noise 0 --count 600
fi
if [[ ! -d "$root/phone/4032x3024" ]]; then
  "$maker" make "$root/phone" --from "$shared/data/imagewoof-320-dev" --noise 8
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# PROGRAM DIR OUT [FLAG]: images/s printed by `embed` (decoding and the network; not the model's loading).
embed_rate() { "$1" embed "$2" -o "$3" ${4:+"$4"} | sed -n 's/.* \([0-9]*\) images\/s.*/\1/p'; }
# Images/s of `index add` into a new gallery (hashing, decoding, the network, SQLite).
index_rate() {
  rm -f "$work"/g.db*
  build/pupembed index add "$1" --db "$work/g.db" --json ${2:+"$2"} | sed -n 's/.*"images_per_second": \([0-9.]*\).*/\1/p' | cut -d. -f1
}

for set in upscaled phone; do
  for size in 4032x3024 8000x6000; do
    dir="$root/$set/$size"
    count=$(find "$dir" -name '*.jpg' | wc -l)
    bytes=$(( $(du -sb "$dir" | cut -f1) / count ))
    echo "== $set/$size: $count photos, $((bytes / 1000)) kB each on average"
    reduced=() full=() add_reduced=() add_full=() before=()
    for ((r = 1; r <= rounds; r++)); do
      reduced+=("$(embed_rate build/pupembed "$dir" "$work/reduced.npy")")
      full+=("$(embed_rate build/pupembed "$dir" "$work/full.npy" --full-decode)")
      if [[ -n "${BASELINE:-}" ]]; then before+=("$(embed_rate "$BASELINE" "$dir" "$work/before.npy")"); fi
      add_reduced+=("$(index_rate "$dir")")
      add_full+=("$(index_rate "$dir" --full-decode)")
    done
    echo "embed, decoded at the network's scale: ${reduced[*]} images/s"
    echo "embed, decoded in full (--full-decode): ${full[*]} images/s"
    if [[ -n "${BASELINE:-}" ]]; then echo "embed with $BASELINE: ${before[*]} images/s"; fi
    echo "index add, at the network's scale:      ${add_reduced[*]} images/s"
    echo "index add, in full:                     ${add_full[*]} images/s"
    echo -n "cosine of the two embeddings of each photo: "
    build/bench/bench_large_photos compare "$work/reduced.npy" "$work/full.npy"
  done
done
