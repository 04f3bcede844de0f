// ResNet-50 v1 as Keras builds it (the stride on each stage's first 1x1 convolution), batch norm
// folded into the convolutions; see network.hpp.
#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>

#include <algorithm>

#include "model/network.hpp"
#include "pupembed/core/error.hpp"

namespace F = torch::nn::functional;

namespace pupembed {
namespace {

/// (blocks, middle channels, stride of the first block) of stages 2 to 5.
constexpr int64_t kStages[4][3] = {{3, 64, 1}, {4, 128, 2}, {6, 256, 2}, {3, 512, 2}};

}  // namespace

BottleneckImpl::BottleneckImpl(int64_t in_channels, int64_t middle, int64_t out_channels, int64_t stride, bool project) {
    reduce = register_module("reduce", padded_conv(in_channels, middle, 1, stride));
    spatial = register_module("spatial", padded_conv(middle, middle, 3));
    expand = register_module("expand", padded_conv(middle, out_channels, 1));
    if (project) shortcut = register_module("shortcut", padded_conv(in_channels, out_channels, 1, stride));
}

torch::Tensor BottleneckImpl::forward(torch::Tensor x) {
    torch::Tensor y = spatial->forward(reduce->forward(x).relu_()).relu_();
    y = expand->forward(y);
    return y.add_(shortcut ? shortcut->forward(x) : x).relu_();
}

ResNet50TrunkImpl::ResNet50TrunkImpl() {
    stem = register_module("stem", padded_conv(3, 64, 7, 2));
    const std::vector<std::string> names = layer_names();  // "stem", then one per block
    int64_t channels = 64;
    for (const auto& [count, middle, stride] : kStages) {
        for (int64_t i = 0; i < count; ++i) {
            blocks.push_back(register_module(names[blocks.size() + 1],
                                             Bottleneck(channels, middle, middle * 4, i == 0 ? stride : 1, i == 0)));
            channels = middle * 4;
        }
    }
    // He (fan-out) normal for the convolutions, zero biases (as the other trunks; an import
    // replaces them).
    torch::NoGradGuard no_grad;
    for (auto& parameter : named_parameters()) {
        if (parameter.value().dim() == 4)
            torch::nn::init::kaiming_normal_(parameter.value(), 0.0, torch::kFanOut, torch::kReLU);
        else
            torch::nn::init::zeros_(parameter.value());
    }
}

torch::Tensor ResNet50TrunkImpl::forward(torch::Tensor images) { return forward_until(images, "res5c"); }

std::vector<std::string> ResNet50TrunkImpl::layer_names() const {
    std::vector<std::string> names{"stem"};
    for (int stage = 0; stage < 4; ++stage)
        for (int64_t i = 0; i < kStages[stage][0]; ++i) names.push_back("res" + std::to_string(stage + 2) + char('a' + i));
    return names;
}

torch::Tensor ResNet50TrunkImpl::forward_until(torch::Tensor images, const std::string& layer) {
    const auto names = layer_names();
    const auto found = std::find(names.begin(), names.end(), layer);
    if (found == names.end())
        throw Error("layer \"" + layer + "\"", "unknown (ResNet-50's are stem, res2a ... res2c, res3a ... res3d, res4a ... "
                                               "res4f, res5a ... res5c)");
    const auto stop = found - names.begin();  // 0: stem, k: block k
    // Max pooling pads with -inf where Keras pads with zeros: the same after a ReLU.
    torch::Tensor x = F::max_pool2d(stem->forward(images).relu_(), F::MaxPool2dFuncOptions(3).stride(2).padding(1));
    for (size_t i = 0; i < blocks.size() && int64_t(i) < stop; ++i) x = blocks[i]->forward(x);
    return x;
}

PooledLinearClassifierHeadImpl::PooledLinearClassifierHeadImpl(int64_t in_channels, int64_t classes) {
    linear = register_module("linear", torch::nn::Linear(in_channels, classes));
}

torch::Tensor PooledLinearClassifierHeadImpl::forward(torch::Tensor feature_map) {
    return linear->forward(global_average_pool(feature_map));
}

}  // namespace pupembed
