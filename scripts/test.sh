#!/usr/bin/env bash
# Runs pupembed's tests (built by scripts/setup.sh):
#   scripts/test.sh             all tests
#   scripts/test.sh -L unit     only the quick unit tests (-L e2e: the end-to-end runs of the command)
# Tests that need ../shared (data and weights) read it from $PUPEMBED_SHARED (default: ../shared
# beside the checkout) and skip with a message where it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash -n scripts/get-stanford-dogs.sh   # cannot run without internet: at least check its syntax
bash -n scripts/train-squeezenet.sh    # a 30-minute training run: not part of the tests
bash -n scripts/train-default-model.sh # a 30-minute training run: the same
bash -n scripts/recipe-steps.sh
bash -n scripts/bench-serve.sh         # a 30-second load benchmark: not part of the tests
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" "$@"
