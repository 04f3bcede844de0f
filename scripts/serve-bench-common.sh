# Sourced by the serve benchmarks (bench-serve.sh, bench-hostile-serve.sh): the val gallery and a
# server on 127.0.0.1 that is stopped when the script ends.
#   DB=...; make_val_gallery; start_server [FLAGS...]  (sets $server and $port); stop_server
shared="${PUPEMBED_SHARED:-../shared}"
val="$shared/data/stanford-dogs-64/val"
photo="${PHOTO:-$val/n02110958-pug/$(ls "$val/n02110958-pug" | sort | head -n 1)}"  # the photo the clients send
server=""
server_log=$(mktemp)
trap 'if [[ -n "$server" ]]; then kill "$server" 2>/dev/null || true; fi; rm -f "$server_log"' EXIT

make_val_gallery() {  # the 4,316 val photos in $DB, made with the default model when absent
  if [[ ! -f "$DB" ]]; then build/pupembed index add "$val" --db "$DB"; fi
}

start_server() {  # FLAGS...: `pupembed serve` on any free port; sets $server and $port
  build/pupembed serve --db "$DB" --port 0 "$@" > "$server_log" &
  server=$!
  for _ in $(seq 1 120); do
    grep -q "http://" "$server_log" && break
    sleep 0.5
  done
  port=$(grep -o '127.0.0.1:[0-9]*' "$server_log" | head -n 1 | cut -d: -f2)
  [[ -n "$port" ]] || { echo "$(basename "$0"): the server did not start" >&2; exit 1; }
}

stop_server() {
  kill "$server"
  wait "$server" || true
  server=""
}
