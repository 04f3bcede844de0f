#!/usr/bin/env bash
# Makes the base image the Dockerfile starts from, debian:bookworm, where no image registry is
# reachable: a minimal Debian 12 by debootstrap (from Debian's package mirror), imported into
# Docker. Needs root, debootstrap and Docker (apt-get install debootstrap docker.io).
#   scripts/make-base-image.sh [MIRROR]      (default: http://deb.debian.org/debian)
set -euo pipefail
mirror="${1:-http://deb.debian.org/debian}"
if docker image inspect debian:bookworm > /dev/null 2>&1; then
  echo "make-base-image.sh: debian:bookworm is already there" >&2
  exit 0
fi
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$mirror"
# Like the official image: apt keeps no package files, the updates and security suites are on.
cat > "$root/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import - debian:bookworm
docker image ls debian:bookworm
