#!/usr/bin/env bash
# A fuzzing campaign: builds the fuzz targets of the sanitizer tree (build-sanitize/fuzz: clang,
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer), makes the seed corpora, then runs
# every fuzz target for SECONDS (JOBS at a time) and prints, per target, executions, coverage,
# corpus size and what it found.
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default: 600 seconds, every target
#   scripts/fuzz.sh --report [TARGET...]       only the table, from the last campaign's logs
# The corpus each target grows is kept in build-sanitize/fuzz/campaign/TARGET/corpus and reused
# by the next campaign; crashes, leaks, timeouts and out-of-memory inputs are left beside it
# (crash-*, leak-*, timeout-*, oom-*); exit status 1 when any target found one.
# Environment: SANITIZE_BUILD_DIR (build-sanitize), JOBS (number of cores), PUPEMBED_SHARED (../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/build-common.sh
report_only=false
if [[ "${1:-}" == "--report" ]]; then report_only=true; fi
seconds="${1:-600}"
shift || true
build="$sanitize_dir/fuzz"
jobs="${JOBS:-$(nproc)}"
shared="${PUPEMBED_SHARED:-$(cd .. && pwd)/shared}"
$report_only || [[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a whole number, got \"$seconds\"" >&2; exit 2; }

if ! $report_only; then
  configure_sanitize_tree -DPUPEMBED_SHARED="$shared"
  cmake --build "$sanitize_dir" -j "$jobs" --target fuzz_targets > /dev/null
  "$build/fuzz_seeds" "$build/corpus" "$shared"
fi

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for program in "$build"/fuzz_*; do
    name=$(basename "$program")
    [[ -x "$program" && "$name" != fuzz_seeds ]] && targets+=("$name")
  done
fi

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1:detect_container_overflow=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_WAIT_POLICY=passive
run_one() {
  local target=$1 build=$2 seconds=$3
  local dir="$build/campaign/$target"
  mkdir -p "$dir/corpus"
  rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*
  echo "-max_total_time=$seconds" > "$dir/command.txt"
  local regressions=()
  [[ -d "fuzz/regressions/$target" ]] && regressions=("fuzz/regressions/$target")
  "$build/$target" "$dir/corpus" "$build/corpus/$target" "${regressions[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 \
    -print_final_stats=1 -artifact_prefix="$dir/" > "$dir/log.txt" 2>&1 || true
}
export -f run_one
if ! $report_only; then
  echo "fuzz.sh: ${#targets[@]} targets, $seconds s each, $jobs at a time (logs in $build/campaign/TARGET/log.txt)" >&2
  printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ {} "$build" "$seconds"
fi

found=0
printf '%-20s %8s %12s %10s %8s %8s %8s %7s %6s %4s\n' target seconds executions exec/s edges features corpus crashes hangs oom
for target in "${targets[@]}"; do
  dir="$build/campaign/$target"
  log="$dir/log.txt"
  stat() { grep -o "stat::$1: *[0-9]*" "$log" | grep -o '[0-9]*$' | tail -n 1; }
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  edges=$(grep -o 'cov: [0-9]*' <<< "$last" | grep -o '[0-9]*' || true)
  features=$(grep -o 'ft: [0-9]*' <<< "$last" | grep -o '[0-9]*' || true)
  crashes=$(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' \) | wc -l)
  hangs=$(find "$dir" -maxdepth 1 -name 'timeout-*' | wc -l)
  ooms=$(find "$dir" -maxdepth 1 -name 'oom-*' | wc -l)
  if grep -q -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:' "$log"; then
    [[ $crashes -gt 0 || $hangs -gt 0 || $ooms -gt 0 ]] || crashes=1
  fi
  ran=$(grep -o -- '-max_total_time=[0-9]*' "$dir/command.txt" 2>/dev/null | grep -o '[0-9]*$' || echo "?")
  printf '%-20s %8s %12s %10s %8s %8s %8s %7s %6s %4s\n' "$target" "$ran" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "${edges:-?}" "${features:-?}" "$(find "$dir/corpus" -type f | wc -l)" "$crashes" "$hangs" "$ooms"
  [[ $crashes -eq 0 && $hangs -eq 0 && $ooms -eq 0 ]] || found=1
done
exit $found
