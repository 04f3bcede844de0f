#!/usr/bin/env bash
# Builds and runs all of pupembed's tests, after scripts/setup.sh:
#   1. the main build (build/): the tests and benchmarks are built, then every test runs;
#   2. the sanitizer tree (build-sanitize/, clang): the tests of code that reads outside bytes under
#      AddressSanitizer and UBSan, each fuzz target (its seeds and past crashes replayed, then
#      $FUZZ_SECONDS of fuzzing, 20 by default) and the ThreadSanitizer test.
#   scripts/test.sh                    everything
#   scripts/test.sh -L unit            one tier in both trees (CTest labels: unit, training, e2e,
#                                      browser, python, notebook; fuzz and tsan in the sanitizer tree)
#   scripts/test.sh -R Npy             tests whose names match, in both trees
#   scripts/test.sh --main ARGS...     the main build only (no clang build: quick)
#   scripts/test.sh --sanitize ARGS... the sanitizer tree only
# Tests that need ../shared (data and weights) read it from $PUPEMBED_SHARED (default: ../shared
# beside the checkout) and skip with a message where it is absent.
# Environment: BUILD_DIR (build), SANITIZE_BUILD_DIR (build-sanitize), JOBS (number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/build-common.sh
trees=(main sanitize)
case "${1:-}" in
  --main) trees=(main); shift ;;
  --sanitize) trees=(sanitize); shift ;;
esac
jobs="${JOBS:-$(nproc)}"
bash -n scripts/get-stanford-dogs.sh   # cannot run without internet: at least check its syntax
bash -n scripts/train-squeezenet.sh    # a 30-minute training run: not part of the tests
bash -n scripts/train-default-model.sh # a 30-minute training run: the same
bash -n scripts/recipe-steps.sh
bash -n scripts/bench-serve.sh         # a 30-second load benchmark: not part of the tests
bash -n scripts/bench-hostile-serve.sh # two minutes of hostile load: not part of the tests
bash -n scripts/bench-large-photos.sh  # makes 400 large photos, then minutes of timing: not part of the tests
bash -n scripts/serve-bench-common.sh
bash -n scripts/build-common.sh
bash -n scripts/bench-fresh-setup.sh   # a fresh machine in a container (20 minutes): run by hand
bash -n scripts/fuzz.sh                # a fuzzing campaign (10 minutes a target): not part of the tests
bash -n scripts/make-base-image.sh     # debootstrap and Docker: not part of the tests
bash -n scripts/test-container.sh      # builds the container image (10 minutes): run by hand
sh -n scripts/container-start.sh       # the container's start (POSIX sh)
python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' scripts/stress-gallery.py  # minutes of stress: by hand
bash -n scripts/test-slurm.sh          # starts Slurm's daemons as root: run by hand
bash -n scripts/bench-distributed.sh   # minutes of timing: not part of the tests
bash -n examples/slurm/embed-array.sbatch
for script in examples/dask/*.sh; do bash -n "$script"; done  # try-here.sh runs them: by hand
python3 -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' scripts/resnet50-reference.py  # wrote tests/data/resnet50-*
# Keras's ResNet-50 from npm (95 MB, cached outside the tree) for tests/test_resnet50.cpp; the
# test skips, saying so, where npm's registry cannot be reached.
scripts/get-resnet50.sh > /dev/null || echo "test.sh: could not fetch ResNet-50 from npm: its tests will skip" >&2
status=0
started=$SECONDS
took() { echo "test.sh: $1 took $((SECONDS - $2)) s" >&2; }
if [[ " ${trees[*]} " == *" main "* ]]; then
  build_dir="${BUILD_DIR:-build}"
  [[ -f "$build_dir/CMakeCache.txt" ]] || { echo "test.sh: no build in $build_dir: run scripts/setup.sh first" >&2; exit 1; }
  step=$SECONDS
  cmake --build "$build_dir" -j "$jobs"
  took "building the tests and benchmarks" $step
  step=$SECONDS
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" "$@" || status=$?
  took "the main build's tests" $step
fi
if [[ " ${trees[*]} " == *" sanitize "* ]]; then
  step=$SECONDS
  configure_sanitize_tree ${FUZZ_SECONDS:+"-DPUPEMBED_FUZZ_SECONDS=$FUZZ_SECONDS"}
  cmake --build "$sanitize_dir" -j "$jobs"
  took "building the sanitizer tree" $step
  step=$SECONDS
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:detect_container_overflow=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  ctest --test-dir "$sanitize_dir" --output-on-failure -j "$jobs" "$@" || status=$?
  took "the sanitizer tree's tests" $step
fi
took "everything" $started
exit $status
