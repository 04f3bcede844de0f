# Sourced by the training recipes: paths and a step runner that keeps each step's output.
# Expects `out` (the run folder) to be set; sets root, shared, pupembed, train, val.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${PUPEMBED_SHARED:-$root/../shared}"
pupembed="$root/build/pupembed"
train="$shared/data/stanford-dogs-64/train"
val="$shared/data/stanford-dogs-64/val"
mkdir -p "$out/logs"

step() {  # step NAME COMMAND...: runs it, keeping its output in logs/NAME.log
  local name="$1"; shift
  echo "== $name: $*" >&2
  local start=$SECONDS
  "$@" 2>&1 | tee "$out/logs/$name.log"
  echo "== $name took $((SECONDS - start)) s" | tee -a "$out/logs/$name.log" >&2
}
