#!/usr/bin/env bash
# Times the README's two commands as a new user meets them: on a fresh Debian 12 machine (a
# container from debian:bookworm, made by scripts/make-base-image.sh: no packages beyond the base,
# no build trees, no ccache cache), in a fresh clone of this checkout's HEAD, with ../shared
# mounted read-only beside it. Prints the time of each command and of the whole.
#   scripts/bench-fresh-setup.sh              scripts/setup.sh, then scripts/test.sh
#   scripts/bench-fresh-setup.sh --setup-only scripts/setup.sh, then `pupembed breed` on a photo
# Needs root and Docker. Environment: PUPEMBED_SHARED (default: ../shared), KEEP (a folder to
# keep the clone and its build trees in, for a look afterwards; default: a temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."
setup_only=false
case "${1:-}" in
  --setup-only) setup_only=true ;;
  "") ;;
  *) echo "bench-fresh-setup.sh: unknown argument \"$1\" (see the top of the script)" >&2; exit 2 ;;
esac
shared="${PUPEMBED_SHARED:-$(cd .. && pwd)/shared}"
[[ -d "$shared" ]] || { echo "bench-fresh-setup.sh: no shared folder at $shared" >&2; exit 1; }
docker image inspect debian:bookworm > /dev/null 2>&1 ||
  { echo "bench-fresh-setup.sh: no debian:bookworm image: run scripts/make-base-image.sh" >&2; exit 1; }
work="${KEEP:-$(mktemp -d)}"
[[ -n "${KEEP:-}" ]] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
chmod 755 "$work"  # the tests run some commands as the user nobody, who must reach the build
rm -rf "$work/main"
git clone -q . "$work/main"
echo "bench-fresh-setup.sh: a fresh clone of $(git rev-parse --short HEAD) in a debian:bookworm container" >&2
# Only what the README's first command may assume: root, the clone, ../shared; and the
# certificate authorities this machine adds to its own (a network whose HTTPS goes through a
# proxy of its own, as here, must be trusted for npm to reach its registry).
ca=()
if compgen -G "/usr/local/share/ca-certificates/*.crt" > /dev/null; then
  cat /usr/local/share/ca-certificates/*.crt > "$work/extra-ca.crt"
  ca=(-e NODE_EXTRA_CA_CERTS=/work/extra-ca.crt)
fi
docker run --rm -v "$work:/work" -v "$shared:/work/shared:ro" -w /work/main -e SETUP_ONLY="$setup_only" "${ca[@]}" \
  debian:bookworm bash -c '
    set -e
    started=$SECONDS
    scripts/setup.sh
    setup=$((SECONDS - started))
    build/pupembed breed ../shared/data/stanford-dogs-64/val/n02110958-pug/n02110958_10.jpg
    if [[ "$SETUP_ONLY" == false ]]; then
      step=$SECONDS
      status=0
      scripts/test.sh || status=$?
      tests=$((SECONDS - step))
    fi
    echo
    echo "bench-fresh-setup.sh: scripts/setup.sh took $((setup / 60)) min $((setup % 60)) s"
    if [[ "$SETUP_ONLY" == false ]]; then
      echo "bench-fresh-setup.sh: scripts/test.sh took $((tests / 60)) min $((tests % 60)) s (exit $status)"
      all=$((setup + tests))
      echo "bench-fresh-setup.sh: both: $((all / 60)) min $((all % 60)) s"
      exit $status
    fi'
