// The trunks a model can be built on, by the names model files record. Light on purpose: the
// command-line front ends include it without LibTorch.
#pragma once

#include <string>
#include <vector>

namespace pupembed {

/// "squeezenet1.1" (the original's), "mobilenetv2" and "resnet50", in the order `--help` lists them.
std::vector<std::string> known_backbones();

/// The input size a backbone's ImageNet import records by default: 128 for SqueezeNet, 160 for
/// MobileNetV2 (what measured best for each on the 64 px Stanford Dogs crops), 224 for ResNet-50
/// (its ImageNet size).
int default_input_size(const std::string& backbone);

}  // namespace pupembed
