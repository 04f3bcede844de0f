#!/usr/bin/env bash
# Hostile load on `pupembed serve` (build/bench/bench_hostile_serve), each part bounded in time,
# over a gallery of the val photos on 127.0.0.1:
#   1. slowloris, against a server with its default settings: CONNECTIONS slow connections from
#      127.0.0.2 for SECONDS, /healthz and a search by id probed from 127.0.0.1 every half second
#      (each must be answered within 1 s); then the same with 2 slow connections from each of 40
#      addresses (127.0.0.2 to 127.0.0.41), which no per-address limit stops;
#   2. uploads: 16 clients for SECONDS POSTing good, damaged, 1 x 20,000 and noise uploads; the
#      server's peak memory, and that it is still up. The 16 clients share one address, so this
#      server allows 16 connections per client (the default, 8, would answer half of them 503).
#   scripts/bench-hostile-serve.sh [GALLERY.db] [CONNECTIONS] [SECONDS]   defaults: build/bench-val.db 50 60
set -euo pipefail
cd "$(dirname "$0")/.."
DB="${1:-build/bench-val.db}"
connections="${2:-50}"
seconds="${3:-60}"
source scripts/serve-bench-common.sh
make_val_gallery
status=0
start_server
build/bench/bench_hostile_serve --port "$port" --mode slowloris --connections "$connections" --seconds "$seconds" || status=1
stop_server
start_server
build/bench/bench_hostile_serve --port "$port" --mode slowloris --connections 80 --addresses 40 --seconds "$seconds" || status=1
stop_server
start_server --max-connections-per-client 16
build/bench/bench_hostile_serve --port "$port" --mode uploads --photo "$photo" --clients 16 --seconds "$seconds" \
  --server-pid "$server" || status=1
stop_server
exit $status
