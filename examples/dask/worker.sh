#!/usr/bin/env bash
# A Dask worker, on each worker node: one process with one task slot; pupembed's worker plugin sets
# its threads to the node's cores (cores / worker processes on the node). Restarted by its nanny if it dies.
set -euo pipefail
: "${SHARED:?set SHARED to a folder every node sees}"
exec dask worker --scheduler-file "$SHARED/scheduler.json" --nworkers 1 --nthreads 1 --no-dashboard "$@"
