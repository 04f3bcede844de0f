#!/usr/bin/env bash
# The shipped default model's recipe, from the ImageNet MobileNetV2 weights to one float16 model
# file and its evaluation on val and on the real-world photos (under 60 minutes on 2 idle cores):
#   scripts/train-default-model.sh [OUT_DIR]        (default OUT_DIR: runs/default)
#   TEACHER=runs/large/pupembed-large.pt scripts/train-default-model.sh runs/v5
#       the same with the neighbourhoods distilled from a larger model's embeddings instead of the
#       ImageNet trunk's (--teacher; scripts/train-large-model.sh makes that model)
# Stage 1 (the breed classifier) and stage 2 (the embedding head) train together from photos
# (`train-siamese --finetune-trunk`): 2 epochs of the heads on the frozen trunk, then 10 epochs of
# all but the trunk's first three stages (kept at the ImageNet weights: --freeze-until block6),
# with what keeps the ImageNet trunk's knowledge of real photos: crops made to look like photos
# (--photo-augment), inputs of 128, 160 and 192 px, L2-SP toward the ImageNet weights, distillation
# of the ImageNet trunk's pooled features and of its neighbourhoods into the embedding head
# (--distill-similarity), and a moving average of the weights. About 32 minutes on 2 idle cores.
# The exported model runs photos with a shorter side of 256 px or more at 224 px (--large-input), and
# its embedding carries the breed posterior beside the head's vector, at the temperature that
# calibrates the classifier on val and the weight of the best val Recall@1 (--tune-posterior).
# Reads ../shared (or $PUPEMBED_SHARED); trains on train only, measures on val and
# imagewoof-320-dev (never trained on). Every step's output is kept in OUT_DIR/logs/. Needs a build
# (scripts/setup.sh). The SqueezeNet recipe, the original's architecture, is scripts/train-squeezenet.sh.
set -euo pipefail

out="${1:-runs/default}"
source "$(dirname "$0")/recipe-steps.sh"
real_photos="$shared/data/imagewoof-320-dev"

start=$SECONDS
step import "$pupembed" import-imagenet --backbone mobilenetv2 "$shared/weights/mobilenetv2-imagenet" \
  --large-input 224 -o "$out/mobilenetv2-imagenet.pt"
step train "$pupembed" train-siamese --finetune-trunk "$train" --val "$val" --init "$out/mobilenetv2-imagenet.pt" \
  --epochs 10 --trunk-lr 1e-4 --photo-augment --train-sizes 128,160,192 --l2sp 0.01 --distill 1 --ema 0.998 \
  --distill-similarity 1 --distill-temperature 0.1 --freeze-until block6 ${TEACHER:+--teacher "$TEACHER"} \
  --out "$out/train"
step export "$pupembed" export "$out/train/best.pt" --float16 --large-input 224 --tune-posterior "$val" \
  -o "$out/pupembed-default.pt"
step eval "$pupembed" eval -m "$out/mobilenetv2-imagenet.pt" -m "$out/pupembed-default.pt" "$val" "$real_photos" \
  --report "$out/report"
echo "model: $out/pupembed-default.pt (copy it to models/ to ship it); report: $out/report/report.md;" \
  "$((SECONDS - start)) s in all" >&2
