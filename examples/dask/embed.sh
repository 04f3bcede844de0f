#!/usr/bin/env bash
# embed.sh PHOTOS JOB [more options of python3 -m pupembed.distributed embed]: embeds PHOTOS into the
# job folder JOB on the cluster whose scheduler wrote $SHARED/scheduler.json.
set -euo pipefail
: "${SHARED:?set SHARED to a folder every node sees}"
[[ $# -ge 2 ]] || { echo "usage: embed.sh PHOTOS JOB [options]" >&2; exit 2; }
photos="$1" job="$2"
shift 2
exec python3 -m pupembed.distributed embed "$photos" -o "$job" --scheduler-file "$SHARED/scheduler.json" "$@"
