// Importing ImageNet weights published as .npy files into a pupembed model.
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"
#include "model/network.hpp"
#include "pupembed/model/model.hpp"

namespace fs = std::filesystem;

namespace pupembed {
namespace {

/// Reads `file` into `target`, which must have the same shape.
void load_npy_into(const fs::path& file, torch::Tensor& target) {
    NpyArray array = read_npy(file.string());
    if (array.shape != target.sizes().vec())
        throw Error(file.string(), "has shape " + c10::str(c10::IntArrayRef(array.shape)) + ", expected " +
                                       c10::str(target.sizes()));
    torch::NoGradGuard no_grad;
    target.copy_(torch::from_blob(array.data.data(), target.sizes(), torch::kFloat32));
}

/// `imagenet_synsets.txt`: one "wnid name, other name" line per class, in output order.
void read_synsets(const fs::path& file, ModelInfo& info) {
    std::istringstream in(read_file(file.string()));
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        const size_t space = line.find(' ');
        if (space == std::string::npos)
            throw Error(file.string(), "expected \"<wnid> <names>\" on line " + std::to_string(info.class_ids.size() + 1));
        info.class_ids.push_back(line.substr(0, space));
        info.class_names.push_back(line.substr(space + 1));
    }
}

}  // namespace

Model import_imagenet_squeezenet(const std::string& dir, const Preprocessing& preprocessing) {
    const fs::path root(dir);
    std::error_code error;
    if (!fs::is_directory(root, error)) throw Error(dir, "not a folder");
    ModelInfo info;
    info.backbone = "squeezenet1.1";
    info.preprocessing = preprocessing;
    info.classifier = ConvClassifierHeadImpl::kKind;
    info.source = "ImageNet SqueezeNet 1.1 imported from " + fs::absolute(root).lexically_normal().string();
    read_synsets(root / "imagenet_synsets.txt", info);
    if (info.class_ids.size() != 1000)
        throw Error((root / "imagenet_synsets.txt").string(),
                    "has " + std::to_string(info.class_ids.size()) + " classes, expected 1000");
    Model model = create_model(info);

    auto& trunk = dynamic_cast<SqueezeNetTrunkImpl&>(*model.network->trunk);
    auto& head = dynamic_cast<ConvClassifierHeadImpl&>(*model.network->classifier);
    std::vector<torch::nn::Conv2d> convs{trunk.conv0};
    for (auto& fire : trunk.fire) {
        convs.push_back(fire->squeeze);
        convs.push_back(fire->expand1x1);
        convs.push_back(fire->expand3x3);
    }
    convs.push_back(head.conv);
    for (size_t i = 0; i < convs.size(); ++i) {
        const fs::path prefix = root / "weights" / ("squeezenet0_conv" + std::to_string(i));
        load_npy_into(prefix.string() + "_weight.npy", convs[i]->weight);
        load_npy_into(prefix.string() + "_bias.npy", convs[i]->bias);
    }
    return model;
}

Model import_imagenet_mobilenetv2(const std::string& dir, const Preprocessing& preprocessing) {
    const fs::path root(dir);
    const fs::path weights = root / "weights";
    std::error_code error;
    if (!fs::is_directory(weights, error)) throw Error(dir, "has no weights/ folder (expected weights/conv_<k>_weight.npy)");
    // conv_<k>_weight.npy: k is the ONNX node number, so the forward order is the numeric order.
    std::vector<std::pair<long, std::string>> found;
    for (const auto& entry : fs::directory_iterator(weights, error)) {
        const std::string name = entry.path().filename().string();
        const std::string prefix = "conv_", suffix = "_weight.npy";
        if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
            continue;
        const std::string number = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
        if (number.empty() || number.find_first_not_of("0123456789") != std::string::npos || number.size() > 9) continue;
        found.emplace_back(std::stol(number), (weights / ("conv_" + number)).string());
    }
    std::sort(found.begin(), found.end());

    ModelInfo info;
    info.backbone = "mobilenetv2";
    info.preprocessing = preprocessing;
    info.source = "ImageNet MobileNetV2 (feature extractor, batch norm folded) imported from " +
                  fs::absolute(root).lexically_normal().string();
    Model model = create_model(info);
    auto& trunk = dynamic_cast<MobileNetV2TrunkImpl&>(*model.network->trunk);
    std::vector<torch::nn::Conv2d> convs = trunk.convolutions();
    if (found.size() != convs.size())
        throw Error(weights.string(), "holds " + std::to_string(found.size()) + " conv_<k>_weight.npy files, MobileNetV2 has " +
                                          std::to_string(convs.size()) + " convolutions");
    for (size_t i = 0; i < convs.size(); ++i) {
        load_npy_into(found[i].second + "_weight.npy", convs[i]->weight);
        load_npy_into(found[i].second + "_bias.npy", convs[i]->bias);
    }
    return model;
}

Model import_imagenet(const std::string& backbone, const std::string& dir, const Preprocessing& preprocessing) {
    if (backbone == "squeezenet1.1") return import_imagenet_squeezenet(dir, preprocessing);
    if (backbone == "mobilenetv2") return import_imagenet_mobilenetv2(dir, preprocessing);
    if (backbone == "resnet50") return import_imagenet_resnet50(dir, preprocessing);
    throw Error("backbone \"" + backbone + "\"", "unknown (known: squeezenet1.1, mobilenetv2, resnet50)");
}

}  // namespace pupembed
