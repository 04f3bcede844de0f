#!/usr/bin/env bash
# Runs pupembed's tests (built by scripts/setup.sh):
#   scripts/test.sh             all tests
#   scripts/test.sh -L unit     only the quick unit tests (-L e2e: the end-to-end runs of the command)
# Then, from the clang builds scripts/setup.sh makes: the same tests under AddressSanitizer and
# UBSan (build-asan), and each fuzz target for 20 s over its seeds (build-fuzz, label fuzz); the
# same -L/-R arguments select among them. FUZZ_SECONDS changes the 20 s.
# Tests that need ../shared (data and weights) read it from $PUPEMBED_SHARED (default: ../shared
# beside the checkout) and skip with a message where it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash -n scripts/get-stanford-dogs.sh   # cannot run without internet: at least check its syntax
bash -n scripts/train-squeezenet.sh    # a 30-minute training run: not part of the tests
bash -n scripts/train-default-model.sh # a 30-minute training run: the same
bash -n scripts/recipe-steps.sh
bash -n scripts/bench-serve.sh         # a 30-second load benchmark: not part of the tests
bash -n scripts/bench-hostile-serve.sh # two minutes of hostile load: not part of the tests
bash -n scripts/bench-large-photos.sh  # makes 400 large photos, then minutes of timing: not part of the tests
bash -n scripts/serve-bench-common.sh
bash -n scripts/fuzz.sh                # a fuzzing campaign (10 minutes a target): not part of the tests
bash -n scripts/make-base-image.sh     # debootstrap and Docker: not part of the tests
bash -n scripts/test-container.sh      # builds the container image (10 minutes): run by hand
sh -n scripts/container-start.sh       # the container's start (POSIX sh)
python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' scripts/stress-gallery.py  # minutes of stress: by hand
status=0
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@" || status=$?
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_container_overflow=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
asan_dir="${ASAN_BUILD_DIR:-build-asan}"
if [[ -f "$asan_dir/CTestTestfile.cmake" ]]; then
  ctest --test-dir "$asan_dir" --output-on-failure -j "$(nproc)" "$@" || status=$?
else
  echo "test.sh: no sanitizer build in $asan_dir (scripts/setup.sh makes it): tests under ASan+UBSan not run" >&2
fi
fuzz_dir="${FUZZ_BUILD_DIR:-build-fuzz}"
if [[ -f "$fuzz_dir/CTestTestfile.cmake" ]]; then
  if [[ -n "${FUZZ_SECONDS:-}" ]]; then cmake -S fuzz -B "$fuzz_dir" -DPUPEMBED_FUZZ_SECONDS="$FUZZ_SECONDS" > /dev/null; fi
  ctest --test-dir "$fuzz_dir" --output-on-failure -j "$(nproc)" "$@" || status=$?
else
  echo "test.sh: no fuzz build in $fuzz_dir (scripts/setup.sh makes it): fuzz targets not run" >&2
fi
exit $status
