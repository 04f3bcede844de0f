#!/usr/bin/env bash
# The Dask scheduler, on one node: writes its address to $SHARED/scheduler.json for the workers
# and for embed.sh. No dashboard (nothing to reach it with on most clusters; pass --dashboard-address
# :8787 yourself if you want one).
set -euo pipefail
: "${SHARED:?set SHARED to a folder every node sees}"
mkdir -p "$SHARED"
exec dask scheduler --scheduler-file "$SHARED/scheduler.json" --no-dashboard "$@"
