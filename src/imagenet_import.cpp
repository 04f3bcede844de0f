// Importing ImageNet weights published as .npy files into a pupembed model.
#include <torch/torch.h>

#include <filesystem>
#include <sstream>

#include "pupembed/error.hpp"
#include "pupembed/file_io.hpp"
#include "pupembed/model.hpp"
#include "pupembed/npy.hpp"

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

}  // namespace pupembed
