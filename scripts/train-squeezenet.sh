#!/usr/bin/env bash
# The whole SqueezeNet recipe, the original's architecture, from the ImageNet weights to one
# exported model and its evaluation on val (about 30 minutes on 2 cores): stage 1, then stage 2
# both ways, the original's (a head on extracted features) and end to end (trunk included, which
# is the model exported), evaluated side by side.
#   scripts/train-squeezenet.sh [OUT_DIR]        (default OUT_DIR: runs/squeezenet)
# Reads ../shared (or $PUPEMBED_SHARED); trains on train only, measures on val. Every step's
# output is kept in OUT_DIR/logs/. Needs a build (scripts/setup.sh).
set -euo pipefail

out="${1:-runs/squeezenet}"
source "$(dirname "$0")/recipe-steps.sh"

step import "$pupembed" import-imagenet "$shared/weights/squeezenet1.1-imagenet" -o "$out/squeezenet-imagenet.pt"
step stage1 "$pupembed" train-classifier "$train" --val "$val" --init "$out/squeezenet-imagenet.pt" --out "$out/stage1"
step extract-train "$pupembed" extract -m "$out/stage1/best.pt" "$train" --augment 8 -o "$out/train-aug8.npy"
step extract-val "$pupembed" extract -m "$out/stage1/best.pt" "$val" -o "$out/val.npy"
step stage2 "$pupembed" train-siamese "$out/train-aug8.npy" --val "$out/val.npy" --out "$out/stage2"
step stage2-e2e "$pupembed" train-siamese --finetune-trunk "$train" --val "$val" --init "$out/stage1/best.pt" \
  --out "$out/stage2-e2e"
step export "$pupembed" export "$out/stage2-e2e/best.pt" -o "$out/pupembed-squeezenet.pt"
step eval "$pupembed" eval -m "$out/squeezenet-imagenet.pt" -m "$out/stage1/best.pt" -m "$out/stage2/best.pt" \
  -m "$out/pupembed-squeezenet.pt" "$val" --report "$out/report"
echo "model: $out/pupembed-squeezenet.pt; report: $out/report/report.md" >&2
