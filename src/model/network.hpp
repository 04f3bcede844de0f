// The networks: a convolutional trunk (image batch to feature map) and replaceable heads on it.
// Include only where LibTorch is needed: it is slow to compile.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>
#include <vector>

#include "pupembed/model/backbone.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed {

/// A convolutional trunk: (N, 3, H, W) normalised images to an (N, C, h, w) feature map.
class TrunkImpl : public torch::nn::Module {
public:
    virtual torch::Tensor forward(torch::Tensor images) = 0;
    /// The feature map after the layer named `layer` (one of layer_names()); throws Error for
    /// another name. The last name gives what forward() gives.
    virtual torch::Tensor forward_until(torch::Tensor images, const std::string& layer) = 0;
    /// The layers forward_until can stop after, in order.
    virtual std::vector<std::string> layer_names() const = 0;
    /// The weights of the layers up to and including `layer` (one of layer_names()); throws
    /// Error naming the trunk's layers for another name.
    std::vector<torch::Tensor> parameters_until(const std::string& layer) const;
    /// C, the number of channels of the feature map.
    virtual int64_t out_channels() const = 0;
    /// The backbone's name as recorded in model files, e.g. "squeezenet1.1".
    virtual std::string backbone() const = 0;
};

/// A convolution with a bias, zero-padded by kernel / 2 on each side (the spatial size is kept at
/// stride 1), as the trunks use them.
torch::nn::Conv2d padded_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t groups = 1);

/// A SqueezeNet fire module: 1x1 squeeze, ReLU, then 1x1 and 3x3 expansions, ReLU, concatenated.
class FireImpl : public torch::nn::Module {
public:
    FireImpl(int64_t in_channels, int64_t squeeze, int64_t expand1x1, int64_t expand3x3);
    torch::Tensor forward(torch::Tensor x);

    torch::nn::Conv2d squeeze{nullptr}, expand1x1{nullptr}, expand3x3{nullptr};
};
TORCH_MODULE(Fire);

/// SqueezeNet 1.1 up to fire9: 512 channels at about 1/18 of the input size, e.g. 7 x 7
/// for 128 x 128 input.
class SqueezeNetTrunkImpl : public TrunkImpl {
public:
    SqueezeNetTrunkImpl();
    torch::Tensor forward(torch::Tensor images) override;
    /// Layers as the SqueezeNet paper names them: conv1, fire2 ... fire9.
    torch::Tensor forward_until(torch::Tensor images, const std::string& layer) override;
    std::vector<std::string> layer_names() const override;
    int64_t out_channels() const override { return 512; }
    std::string backbone() const override { return "squeezenet1.1"; }

    torch::nn::Conv2d conv0{nullptr};
    Fire fire[8] = {nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
};

/// A MobileNetV2 inverted-residual block: 1x1 expansion + ReLU6 (absent when the expansion
/// ratio is 1), 3x3 depthwise + ReLU6, 1x1 linear projection; the input is added back when the
/// stride is 1 and the channels match. The convolutions have biases and there is no batch
/// normalisation: the published weights have it folded into the convolutions.
class InvertedResidualImpl : public torch::nn::Module {
public:
    InvertedResidualImpl(int64_t in_channels, int64_t out_channels, int64_t stride, int64_t expand_ratio);
    torch::Tensor forward(torch::Tensor x);

    torch::nn::Conv2d expand{nullptr};  ///< null when the expansion ratio is 1
    torch::nn::Conv2d depthwise{nullptr}, project{nullptr};
    bool residual = false;
};
TORCH_MODULE(InvertedResidual);

/// MobileNetV2 (width 1.0) up to its last 1x1 convolution: 1280 channels at 1/32 of the input
/// size, e.g. 5 x 5 for 160 x 160 input.
class MobileNetV2TrunkImpl : public TrunkImpl {
public:
    MobileNetV2TrunkImpl();
    torch::Tensor forward(torch::Tensor images) override;
    /// Layers: stem, block1 ... block17, last (the 1280-channel 1x1 convolution).
    torch::Tensor forward_until(torch::Tensor images, const std::string& layer) override;
    std::vector<std::string> layer_names() const override;
    int64_t out_channels() const override { return 1280; }
    std::string backbone() const override { return "mobilenetv2"; }
    /// Every convolution in forward order (stem, each block's, last), as the weights list them.
    std::vector<torch::nn::Conv2d> convolutions() const;

    torch::nn::Conv2d stem{nullptr}, last{nullptr};
    std::vector<InvertedResidual> blocks;
};

/// A ResNet bottleneck block as Keras's ResNet50 (v1) builds it: 1x1 reduction (with the block's
/// stride), 3x3, 1x1 expansion, each + ReLU but the last, added to the input (or to a strided 1x1
/// projection of it in the first block of a stage), then ReLU. Batch norm is folded into the
/// convolutions' weights and biases at import.
class BottleneckImpl : public torch::nn::Module {
public:
    BottleneckImpl(int64_t in_channels, int64_t middle, int64_t out_channels, int64_t stride, bool project);
    torch::Tensor forward(torch::Tensor x);

    torch::nn::Conv2d reduce{nullptr}, spatial{nullptr}, expand{nullptr};
    torch::nn::Conv2d shortcut{nullptr};  ///< null when the input is added as it is
};
TORCH_MODULE(Bottleneck);

/// ResNet-50 v1 up to its last block: 2048 channels at 1/32 of the input size, e.g. 7 x 7 for
/// 224 x 224 input.
class ResNet50TrunkImpl : public TrunkImpl {
public:
    ResNet50TrunkImpl();
    torch::Tensor forward(torch::Tensor images) override;
    /// Layers as Keras names the blocks: stem (conv1 and the max pool), res2a ... res2c, res3a ...
    /// res3d, res4a ... res4f, res5a ... res5c.
    torch::Tensor forward_until(torch::Tensor images, const std::string& layer) override;
    std::vector<std::string> layer_names() const override;
    int64_t out_channels() const override { return 2048; }
    std::string backbone() const override { return "resnet50"; }

    torch::nn::Conv2d stem{nullptr};
    std::vector<Bottleneck> blocks;
};

/// A head: takes the trunk's (N, C, h, w) feature map, gives an (N, D) output.
class HeadImpl : public torch::nn::Module {
public:
    virtual torch::Tensor forward(torch::Tensor feature_map) = 0;
    /// The head's kind as recorded in model files, e.g. "conv1x1-relu-avgpool".
    virtual std::string kind() const = 0;
};

/// SqueezeNet's own ImageNet classifier: dropout, 1x1 convolution to one map per class, ReLU,
/// global average pooling. Takes the trunk's feature map, gives (N, classes) logits.
class ConvClassifierHeadImpl : public HeadImpl {
public:
    static constexpr const char* kKind = "conv1x1-relu-avgpool";
    ConvClassifierHeadImpl(int64_t in_channels, int64_t classes);
    torch::Tensor forward(torch::Tensor feature_map) override;
    std::string kind() const override { return kKind; }

    torch::nn::Dropout dropout{nullptr};
    torch::nn::Conv2d conv{nullptr};
};

/// The stage-1 breed classifier: global average pooling, batch normalisation of the pooled
/// features, dropout, a linear layer. Normalising first matters: pooled SqueezeNet features
/// average about 4 per channel, and a plain linear head on them starts at a loss of 7-13 whose
/// gradients wreck the pretrained trunk within a few steps.
class LinearClassifierHeadImpl : public HeadImpl {
public:
    static constexpr const char* kKind = "pool-bn-linear";
    LinearClassifierHeadImpl(int64_t in_channels, int64_t classes, double dropout = 0.2);
    torch::Tensor forward(torch::Tensor feature_map) override;
    /// The same from already pooled (N, C) features.
    torch::Tensor forward_pooled(torch::Tensor pooled);
    std::string kind() const override { return kKind; }

    torch::nn::BatchNorm1d norm{nullptr};
    torch::nn::Dropout dropout{nullptr};
    torch::nn::Linear linear{nullptr};
};

/// An ImageNet classifier as Keras's ResNet50 has it: global average pooling, then a linear layer.
class PooledLinearClassifierHeadImpl : public HeadImpl {
public:
    static constexpr const char* kKind = "pool-linear";
    PooledLinearClassifierHeadImpl(int64_t in_channels, int64_t classes);
    torch::Tensor forward(torch::Tensor feature_map) override;
    std::string kind() const override { return kKind; }

    torch::nn::Linear linear{nullptr};
};

/// The embedding head trained in stage 2 (the Siamese stage): on pooled trunk features,
/// BatchNorm1d, Linear(C, hidden), ReLU, Linear(hidden, D), then L2 normalisation.
class EmbeddingHeadImpl : public torch::nn::Module {
public:
    static constexpr const char* kKind = "bn-mlp-l2";
    EmbeddingHeadImpl(int64_t in_channels, int64_t hidden, int64_t dimension);
    /// (N, C) pooled features to (N, D) unit vectors.
    torch::Tensor forward(torch::Tensor pooled);

    torch::nn::BatchNorm1d norm{nullptr};
    torch::nn::Linear hidden{nullptr}, output{nullptr};
};
TORCH_MODULE(EmbeddingHead);

/// Creates the classifier head of kind `kind` mapping `in_channels` to `classes`; throws Error for
/// an unknown kind.
std::shared_ptr<HeadImpl> make_classifier_head(const std::string& kind, int64_t in_channels, int64_t classes);

/// Creates the trunk named `backbone` (one of known_backbones()); throws Error for an unknown name.
std::shared_ptr<TrunkImpl> make_trunk(const std::string& backbone);

/// Converts every 4-D parameter and buffer of `module` to channels_last, which makes
/// convolutions on the CPU about twice as fast (feed it channels_last input too).
void to_channels_last(torch::nn::Module& module);

/// An embedding that carries the breed posterior (ModelInfo::posterior_weight): the (N, D) unit
/// vectors `head` followed by `weight` x sqrt(softmax(scores / temperature)), normalised together.
/// `scores` (N, classes) are logits, or log-probabilities (the softmax ignores a constant per row).
torch::Tensor with_posterior(const torch::Tensor& head, const torch::Tensor& scores, double weight, double temperature);

/// Global average pooling of an (N, C, h, w) map to (N, C).
torch::Tensor global_average_pool(const torch::Tensor& feature_map);

/// The network of a model: a trunk and an optional classifier head on its feature map.
class NetworkImpl : public torch::nn::Module {
public:
    /// Builds the modules `info` describes, with freshly initialised weights.
    explicit NetworkImpl(const ModelInfo& info);

    /// Class scores (N, classes) for normalised images (N, 3, H, W); throws Error without a classifier.
    torch::Tensor logits(const torch::Tensor& images);
    /// Globally average-pooled trunk features (N, C).
    torch::Tensor pooled_features(const torch::Tensor& images);

    /// Class scores and/or embeddings from one trunk pass (undefined tensors where not asked).
    /// The embedding is the embedding head's output (followed by the weighted square root of the
    /// posterior when posterior_weight > 0, normalised again), or without a head the L2-normalised
    /// pooled trunk features.
    struct Outputs {
        torch::Tensor logits, embeddings;
    };
    Outputs run(const torch::Tensor& images, bool want_logits, bool want_embeddings);

    /// Size of the embedding run() gives.
    int64_t embedding_size() const;

    int64_t class_count = 0;           ///< the classifier's outputs, 0 without one
    double posterior_weight = 0;       ///< see ModelInfo::posterior_weight
    double posterior_temperature = 1;  ///< see ModelInfo::posterior_temperature
    std::shared_ptr<TrunkImpl> trunk;
    std::shared_ptr<HeadImpl> classifier;  ///< null when the model has none
    EmbeddingHead embedding{nullptr};      ///< null when the model has none
};


}  // namespace pupembed
