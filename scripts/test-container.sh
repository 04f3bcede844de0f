#!/usr/bin/env bash
# Builds the container image and checks it end to end: starts it with a small gallery (15 val
# photos of three breeds mounted at /photos, indexed at start into a fresh volume), waits for
# /healthz, searches once by upload and once by gallery id, then removes the container, the
# volume and the image it made (KEEP_IMAGE=1 keeps the image). Needs root, Docker and the base
# image (scripts/make-base-image.sh makes it; this script runs it when it is missing).
#   scripts/test-container.sh
set -euo pipefail
cd "$(dirname "$0")/.."
shared="${PUPEMBED_SHARED:-$PWD/../shared}"
val="$shared/data/stanford-dogs-64/val"
tag="pupembed-test:$$"
name="pupembed-test-$$"
volume="pupembed-test-$$"
photos="$(mktemp -d)"
cleanup() {
  docker rm -f "$name" > /dev/null 2>&1 || true
  docker volume rm "$volume" > /dev/null 2>&1 || true
  if [[ -z "${KEEP_IMAGE:-}" ]]; then docker image rm "$tag" > /dev/null 2>&1 || true; fi
  rm -rf "$photos"
}
trap cleanup EXIT

scripts/make-base-image.sh
start=$SECONDS
docker build -q -t "$tag" . > /dev/null
echo "built $tag in $((SECONDS - start)) s; runtime image $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1 / 1e6}')"

for breed in n02085620-Chihuahua n02085936-Maltese_dog n02110958-pug; do
  mkdir -p "$photos/$breed"
  find "$val/$breed" -type f | sort | head -5 | xargs -I{} cp {} "$photos/$breed/"
done
chmod -R a+rX "$photos"
docker volume create "$volume" > /dev/null
docker run -d --name "$name" -p 127.0.0.1::8080 -v "$volume:/data" -v "$photos:/photos:ro" "$tag" > /dev/null
port="$(docker port "$name" 8080/tcp | head -n1 | sed 's/.*://')"
echo "container $name, user $(docker exec "$name" id -un), listening on 127.0.0.1:$port"

for _ in $(seq 1 120); do
  if [[ "$(docker inspect -f '{{.State.Health.Status}}' "$name")" == healthy ]]; then break; fi
  if [[ "$(docker inspect -f '{{.State.Running}}' "$name")" != true ]]; then docker logs "$name"; exit 1; fi
  sleep 1
done
echo "health: $(docker inspect -f '{{.State.Health.Status}}' "$name"); /healthz: $(curl -fsS "127.0.0.1:$port/healthz")"

query="$(find "$val/n02110958-pug" -type f | sort | sed -n 10p)"  # a pug that is not in the gallery
results() {  # a search answer's results on one line: #id breed distance, ...
  python3 -c 'import json, sys
print(", ".join("#%d %s %.3f" % (r["id"], r["breed"], r["distance"]) for r in json.load(sys.stdin)["results"]))'
}
upload="$(curl -fsS -F "image=@$query" -F k=3 "127.0.0.1:$port/api/search")"
echo "search by upload ($(basename "$query")): $(results <<< "$upload")"
by_id="$(curl -fsS -H 'Content-Type: application/json' -d '{"id": "#1", "k": 3}' "127.0.0.1:$port/api/search")"
echo "search by id #1: $(results <<< "$by_id")"
python3 - "$upload" "$by_id" <<'CHECK'
import json, sys
upload, by_id = (json.loads(a) for a in sys.argv[1:])
assert len(upload["results"]) == 3 and upload["results"][0]["breed"] == "pug", upload
assert len(by_id["results"]) == 3 and all(r["id"] != 1 for r in by_id["results"]), by_id
CHECK
echo "test-container.sh: passed"
