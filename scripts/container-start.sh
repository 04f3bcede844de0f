#!/bin/sh
# The container's start (Dockerfile): photos mounted at /photos are added to the gallery on the
# /data volume (new and changed ones only), then the gallery is served on 0.0.0.0:8080.
# Arguments replace the default `serve` command, e.g. `index stats --db /data/gallery.db`.
set -eu
db="${PUPEMBED_GALLERY:-/data/gallery.db}"
if [ "$#" -gt 0 ]; then exec pupembed "$@"; fi
if [ -d /photos ]; then pupembed index add /photos --db "$db"; fi
exec pupembed serve --db "$db" --host 0.0.0.0 --port 8080
