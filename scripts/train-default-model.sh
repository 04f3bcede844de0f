#!/usr/bin/env bash
# The shipped default model's recipe, MobileNetV2 at 160 x 160, from the ImageNet weights to one
# float16 model file and its evaluation on val (about 30 minutes on 2 idle cores):
#   scripts/train-default-model.sh [OUT_DIR]        (default OUT_DIR: runs/default)
# Stage 1 (the breed classifier) and stage 2 (the embedding head) train together from photos
# (`train-siamese --finetune-trunk`): 2 epochs of the heads on the frozen trunk, then 6 epochs of
# all layers. Reads ../shared (or $PUPEMBED_SHARED); trains on train only, measures on val. Every
# step's output is kept in OUT_DIR/logs/. Needs a build (scripts/setup.sh). The SqueezeNet recipe,
# the original's architecture, is scripts/train-squeezenet.sh.
set -euo pipefail

out="${1:-runs/default}"
source "$(dirname "$0")/recipe-steps.sh"

start=$SECONDS
step import "$pupembed" import-imagenet --backbone mobilenetv2 "$shared/weights/mobilenetv2-imagenet" \
  -o "$out/mobilenetv2-imagenet.pt"
step train "$pupembed" train-siamese --finetune-trunk "$train" --val "$val" --init "$out/mobilenetv2-imagenet.pt" \
  --epochs 6 --out "$out/train"
step export "$pupembed" export "$out/train/best.pt" --float16 -o "$out/pupembed-default.pt"
step eval "$pupembed" eval -m "$out/mobilenetv2-imagenet.pt" -m "$out/pupembed-default.pt" "$val" --report "$out/report"
echo "model: $out/pupembed-default.pt (copy it to models/ to ship it); report: $out/report/report.md;" \
  "$((SECONDS - start)) s in all" >&2
