#!/usr/bin/env bash
# Downloads and unpacks the official full-size Stanford Dogs dataset (20,580 photos, 120 breeds,
# about 800 MB) for machines with internet access:
#   scripts/get-stanford-dogs.sh [DIR]      (default DIR: data/stanford-dogs)
# Leaves DIR/Images/<wnid>-<Breed>/*.jpg (the layout `pupembed lists` and the training commands
# read) and DIR/Annotation/ (bounding boxes). Terms: non-commercial research and education only;
# cite Khosla et al., "Novel dataset for Fine-Grained Image Categorization", FGVC workshop, CVPR 2011.
set -euo pipefail

dir="${1:-data/stanford-dogs}"
base="http://vision.stanford.edu/aditya86/ImageNetDogs"
mkdir -p "$dir"
cd "$dir"
for archive in images.tar annotation.tar; do
  if [[ ! -f "$archive" ]]; then
    echo "downloading $base/$archive" >&2
    curl --fail --location --retry 3 --continue-at - --output "$archive.part" "$base/$archive"
    mv "$archive.part" "$archive"
  fi
  tar -xf "$archive"
done
echo "$(find Images -name '*.jpg' | wc -l) photos in $PWD/Images" >&2
echo "next: pupembed lists $PWD/Images --val-fraction 0.2 --seed 1 -o $PWD/lists" >&2
