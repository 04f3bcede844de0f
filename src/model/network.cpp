#include "model/network.hpp"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/normalization.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>

#include <algorithm>

#include "pupembed/core/error.hpp"

namespace F = torch::nn::functional;

namespace pupembed {

FireImpl::FireImpl(int64_t in_channels, int64_t squeeze_channels, int64_t expand1x1_channels,
                   int64_t expand3x3_channels) {
    squeeze = register_module("squeeze", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, squeeze_channels, 1)));
    expand1x1 = register_module("expand1x1",
                                torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze_channels, expand1x1_channels, 1)));
    expand3x3 = register_module(
        "expand3x3", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze_channels, expand3x3_channels, 3).padding(1)));
}

torch::Tensor FireImpl::forward(torch::Tensor x) {
    x = squeeze->forward(x).relu_();
    return torch::cat({expand1x1->forward(x).relu_(), expand3x3->forward(x).relu_()}, 1);
}

SqueezeNetTrunkImpl::SqueezeNetTrunkImpl() {
    conv0 = register_module("conv0", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 64, 3).stride(2)));
    // (in, squeeze, expand1x1, expand3x3) of fire2..fire9.
    const int64_t shapes[8][4] = {{64, 16, 64, 64},    {128, 16, 64, 64},   {128, 32, 128, 128}, {256, 32, 128, 128},
                                  {256, 48, 192, 192}, {384, 48, 192, 192}, {384, 64, 256, 256}, {512, 64, 256, 256}};
    for (int i = 0; i < 8; ++i)
        fire[i] = register_module("fire" + std::to_string(i), Fire(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]));
    // He initialisation, as torchvision's SqueezeNet: LibTorch's default (Kaiming with a = sqrt(5))
    // shrinks the signal through 18 ReLU layers, and a from-scratch run then barely learns
    // (val top-1 0.014 after 4 epochs here).
    torch::NoGradGuard no_grad;
    for (auto& module : modules(false)) {
        if (auto* conv = module->as<torch::nn::Conv2dImpl>()) {
            torch::nn::init::kaiming_uniform_(conv->weight, 0.0, torch::kFanIn, torch::kReLU);
            torch::nn::init::zeros_(conv->bias);
        }
    }
}

std::vector<torch::Tensor> TrunkImpl::parameters_until(const std::string& layer) const {
    const auto names = layer_names();
    const auto found = std::find(names.begin(), names.end(), layer);
    if (found == names.end()) {
        std::string known;
        for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
        throw Error("layer \"" + layer + "\"", "unknown (" + backbone() + "'s are " + known + ")");
    }
    // Each trunk registers one child module per layer, in forward order.
    const auto layers = children();
    if (layers.size() != names.size())
        throw Error(backbone() + " trunk", "has " + std::to_string(layers.size()) + " modules for " +
                                               std::to_string(names.size()) + " layers");
    std::vector<torch::Tensor> weights;
    for (size_t i = 0; i <= size_t(found - names.begin()); ++i)
        for (const auto& weight : layers[i]->parameters()) weights.push_back(weight);
    return weights;
}

torch::Tensor SqueezeNetTrunkImpl::forward(torch::Tensor images) { return forward_until(images, "fire9"); }

std::vector<std::string> SqueezeNetTrunkImpl::layer_names() const {
    return {"conv1", "fire2", "fire3", "fire4", "fire5", "fire6", "fire7", "fire8", "fire9"};
}

torch::Tensor SqueezeNetTrunkImpl::forward_until(torch::Tensor images, const std::string& layer) {
    const auto names = layer_names();
    const auto found = std::find(names.begin(), names.end(), layer);
    if (found == names.end()) throw Error("layer \"" + layer + "\"", "unknown (SqueezeNet's are conv1, fire2 ... fire9)");
    const auto last = found - names.begin();  // 0: conv1, k: fire(k+1)
    const auto pool = F::MaxPool2dFuncOptions(3).stride(2).ceil_mode(true);
    torch::Tensor x = conv0->forward(images).relu_();
    if (last == 0) return x;
    x = F::max_pool2d(x, pool);
    for (int i = 0; i < last; ++i) {
        if (i == 2 || i == 4) x = F::max_pool2d(x, pool);  // before fire4 and fire6
        x = fire[i]->forward(x);
    }
    return x;
}

ConvClassifierHeadImpl::ConvClassifierHeadImpl(int64_t in_channels, int64_t classes) {
    dropout = register_module("dropout", torch::nn::Dropout(0.5));
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, classes, 1)));
}

torch::Tensor ConvClassifierHeadImpl::forward(torch::Tensor feature_map) {
    return global_average_pool(torch::relu(conv->forward(dropout->forward(feature_map))));
}

torch::nn::Conv2d padded_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups) {
    return torch::nn::Conv2d(
        torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).groups(groups).bias(true));
}

namespace {

torch::Tensor relu6_(torch::Tensor x) { return x.clamp_(0, 6); }


}  // namespace

InvertedResidualImpl::InvertedResidualImpl(int64_t in_channels, int64_t out_channels, int64_t stride,
                                           int64_t expand_ratio) {
    const int64_t hidden = in_channels * expand_ratio;
    if (expand_ratio != 1) expand = register_module("expand", padded_conv(in_channels, hidden, 1));
    depthwise = register_module("depthwise", padded_conv(hidden, hidden, 3, stride, hidden));
    project = register_module("project", padded_conv(hidden, out_channels, 1));
    residual = stride == 1 && in_channels == out_channels;
}

torch::Tensor InvertedResidualImpl::forward(torch::Tensor x) {
    torch::Tensor y = expand ? relu6_(expand->forward(x)) : x;
    y = project->forward(relu6_(depthwise->forward(y)));
    return residual ? y + x : y;
}

MobileNetV2TrunkImpl::MobileNetV2TrunkImpl() {
    stem = register_module("stem", padded_conv(3, 32, 3, 2));
    // (expansion t, channels c, repeats n, first stride s), as in the MobileNetV2 paper.
    const int64_t settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                                    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    int64_t channels = 32;
    for (const auto& setting : settings) {
        for (int64_t i = 0; i < setting[2]; ++i) {
            const size_t index = blocks.size();
            blocks.push_back(register_module("block" + std::to_string(index + 1),
                                             InvertedResidual(channels, setting[1], i == 0 ? setting[3] : 1, setting[0])));
            channels = setting[1];
        }
    }
    last = register_module("last", padded_conv(channels, 1280, 1));
    // As torchvision: He (fan-out) normal for the convolutions, zero biases.
    torch::NoGradGuard no_grad;
    for (auto& c : convolutions()) {
        torch::nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
        torch::nn::init::zeros_(c->bias);
    }
}

std::vector<torch::nn::Conv2d> MobileNetV2TrunkImpl::convolutions() const {
    std::vector<torch::nn::Conv2d> all{stem};
    for (const auto& block : blocks) {
        if (block->expand) all.push_back(block->expand);
        all.push_back(block->depthwise);
        all.push_back(block->project);
    }
    all.push_back(last);
    return all;
}

torch::Tensor MobileNetV2TrunkImpl::forward(torch::Tensor images) { return forward_until(images, "last"); }

std::vector<std::string> MobileNetV2TrunkImpl::layer_names() const {
    std::vector<std::string> names{"stem"};
    for (size_t i = 0; i < blocks.size(); ++i) names.push_back("block" + std::to_string(i + 1));
    names.push_back("last");
    return names;
}

torch::Tensor MobileNetV2TrunkImpl::forward_until(torch::Tensor images, const std::string& layer) {
    const auto names = layer_names();
    const auto found = std::find(names.begin(), names.end(), layer);
    if (found == names.end())
        throw Error("layer \"" + layer + "\"", "unknown (MobileNetV2's are stem, block1 ... block17, last)");
    const auto stop = found - names.begin();  // 0: stem, k: block k, 18: last
    torch::Tensor x = relu6_(stem->forward(images));
    for (size_t i = 0; i < blocks.size() && int64_t(i) < stop; ++i) x = blocks[i]->forward(x);
    if (size_t(stop) == names.size() - 1) x = relu6_(last->forward(x));
    return x;
}

std::vector<std::string> known_backbones() { return {"squeezenet1.1", "mobilenetv2", "resnet50"}; }

int default_input_size(const std::string& backbone) {
    return backbone == "resnet50" ? 224 : backbone == "mobilenetv2" ? 160 : 128;
}

std::shared_ptr<TrunkImpl> make_trunk(const std::string& backbone) {
    if (backbone == "squeezenet1.1") return std::make_shared<SqueezeNetTrunkImpl>();
    if (backbone == "mobilenetv2") return std::make_shared<MobileNetV2TrunkImpl>();
    if (backbone == "resnet50") return std::make_shared<ResNet50TrunkImpl>();
    throw Error("backbone \"" + backbone + "\"", "unknown (known: squeezenet1.1, mobilenetv2, resnet50)");
}

LinearClassifierHeadImpl::LinearClassifierHeadImpl(int64_t in_channels, int64_t classes, double dropout_rate) {
    norm = register_module("norm", torch::nn::BatchNorm1d(in_channels));
    dropout = register_module("dropout", torch::nn::Dropout(dropout_rate));
    linear = register_module("linear", torch::nn::Linear(in_channels, classes));
}

torch::Tensor LinearClassifierHeadImpl::forward(torch::Tensor feature_map) {
    return forward_pooled(global_average_pool(feature_map));
}

torch::Tensor LinearClassifierHeadImpl::forward_pooled(torch::Tensor pooled) {
    return linear->forward(dropout->forward(norm->forward(pooled)));
}

EmbeddingHeadImpl::EmbeddingHeadImpl(int64_t in_channels, int64_t hidden_size, int64_t dimension) {
    norm = register_module("norm", torch::nn::BatchNorm1d(in_channels));
    hidden = register_module("hidden", torch::nn::Linear(in_channels, hidden_size));
    output = register_module("output", torch::nn::Linear(hidden_size, dimension));
}

torch::Tensor EmbeddingHeadImpl::forward(torch::Tensor pooled) {
    const torch::Tensor x = output->forward(torch::relu(hidden->forward(norm->forward(pooled))));
    return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1));
}

std::shared_ptr<HeadImpl> make_classifier_head(const std::string& kind, int64_t in_channels, int64_t classes) {
    if (kind == ConvClassifierHeadImpl::kKind) return std::make_shared<ConvClassifierHeadImpl>(in_channels, classes);
    if (kind == LinearClassifierHeadImpl::kKind) return std::make_shared<LinearClassifierHeadImpl>(in_channels, classes);
    if (kind == PooledLinearClassifierHeadImpl::kKind) return std::make_shared<PooledLinearClassifierHeadImpl>(in_channels, classes);
    throw Error("classifier head \"" + kind + "\"", std::string("unknown (known: ") + ConvClassifierHeadImpl::kKind + ", " +
                                                       LinearClassifierHeadImpl::kKind + ", " +
                                                       PooledLinearClassifierHeadImpl::kKind + ")");
}

void to_channels_last(torch::nn::Module& module) {
    torch::NoGradGuard no_grad;
    for (auto& parameter : module.parameters())
        if (parameter.dim() == 4) parameter.set_data(parameter.contiguous(at::MemoryFormat::ChannelsLast));
    for (auto& buffer : module.buffers())
        if (buffer.dim() == 4) buffer.set_data(buffer.contiguous(at::MemoryFormat::ChannelsLast));
}

torch::Tensor with_posterior(const torch::Tensor& head, const torch::Tensor& scores, double weight, double temperature) {
    // Both parts are unit vectors, so the weight sets their shares of every cosine.
    const torch::Tensor root = (scores / temperature).softmax(1).sqrt();
    return F::normalize(torch::cat({head, weight * root}, 1), F::NormalizeFuncOptions().dim(1));
}

torch::Tensor global_average_pool(const torch::Tensor& feature_map) {
    return feature_map.mean({2, 3});
}

}  // namespace pupembed
