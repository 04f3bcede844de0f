#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <set>

#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"
#include "model/network.hpp"
#include "pupembed/model/model.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::Error;
using pupembed::Model;
using pupembed::testing::shared_dir;
using pupembed::testing::TempDir;

namespace {

const char kSqueezeNet[] = "weights/squeezenet1.1-imagenet";
const char kMobileNetV2[] = "weights/mobilenetv2-imagenet";

torch::Tensor npy_tensor(const fs::path& file) {
    pupembed::NpyArray array = pupembed::read_npy(file.string());
    return torch::from_blob(array.data.data(), array.shape, torch::kFloat32).clone();
}

Model imported() {
    return pupembed::import_imagenet_squeezenet((shared_dir() / kSqueezeNet).string(), pupembed::Preprocessing{});
}

std::string load_error(const fs::path& file) {
    try {
        pupembed::load_model(file.string());
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

Model small_model() {
    pupembed::ModelInfo info;
    info.classifier = pupembed::ConvClassifierHeadImpl::kKind;
    info.class_ids = {"n1", "n2", "n3"};
    info.class_names = {"one", "two", "three"};
    info.source = "test";
    return pupembed::create_model(info);
}

}  // namespace

// The network reproduces the published reference outputs (1000 ImageNet scores after ReLU and
// global average pooling) for the three reference inputs, in both memory layouts.
TEST(SqueezeNet, ReproducesReferenceOutputs) {
    PUPEMBED_REQUIRE_SHARED(kSqueezeNet);
    Model model = imported();
    model.network->eval();
    torch::InferenceMode inference;
    for (bool channels_last : {false, true}) {
        if (channels_last) pupembed::to_channels_last(*model.network);
        for (int i = 0; i < 3; ++i) {
            const fs::path pair = shared_dir() / kSqueezeNet / "test_data_set" / std::to_string(i);
            torch::Tensor input = npy_tensor(pair / "input_0.npy");
            if (channels_last) input = input.contiguous(at::MemoryFormat::ChannelsLast);
            const torch::Tensor expected = npy_tensor(pair / "output_0.npy");
            const torch::Tensor output = model.network->logits(input);
            ASSERT_EQ(output.sizes(), expected.sizes());
            const double difference = (output - expected).abs().max().item<double>();
            EXPECT_LT(difference, 1e-3) << "pair " << i << (channels_last ? " channels_last" : " NCHW");
            EXPECT_GT(expected.abs().max().item<double>(), 1.0) << "reference must not be trivially zero";
        }
    }
}

// MobileNetV2 reproduces the published pooled 1280-d features for the three reference inputs
// (raw 0..255 values, fed as given), in both memory layouts.
TEST(MobileNetV2, ReproducesReferencePooledFeatures) {
    PUPEMBED_REQUIRE_SHARED(kMobileNetV2);
    Model model = pupembed::import_imagenet_mobilenetv2((shared_dir() / kMobileNetV2).string(), pupembed::Preprocessing{});
    EXPECT_EQ(model.info.backbone, "mobilenetv2");
    EXPECT_FALSE(model.network->classifier);
    model.network->eval();
    torch::InferenceMode inference;
    for (bool channels_last : {false, true}) {
        if (channels_last) pupembed::to_channels_last(*model.network);
        for (int i = 0; i < 3; ++i) {
            const fs::path reference = shared_dir() / kMobileNetV2 / "reference";
            torch::Tensor input = npy_tensor(reference / ("input_" + std::to_string(i) + ".npy"));
            if (channels_last) input = input.contiguous(at::MemoryFormat::ChannelsLast);
            const torch::Tensor expected = npy_tensor(reference / ("pooled_" + std::to_string(i) + ".npy"));
            const torch::Tensor output = model.network->pooled_features(input);
            ASSERT_EQ(output.sizes(), expected.sizes());
            const double difference = (output - expected).abs().max().item<double>();
            EXPECT_LT(difference, 1e-3) << "input " << i << (channels_last ? " channels_last" : " NCHW");
            EXPECT_GT(expected.abs().max().item<double>(), 0.5) << "reference must not be trivially zero";
        }
    }
}

TEST(MobileNetV2, ImportRefusesAnIncompleteWeightFolder) {
    PUPEMBED_REQUIRE_SHARED(kMobileNetV2);
    TempDir dir;
    fs::create_directories(dir / "weights");
    const fs::path source = shared_dir() / kMobileNetV2 / "weights";
    for (const char* name : {"conv_0_weight.npy", "conv_0_bias.npy"}) fs::copy_file(source / name, dir / "weights" / name);
    try {
        pupembed::import_imagenet_mobilenetv2(dir.path().string(), pupembed::Preprocessing{});
        FAIL() << "an incomplete folder was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("holds 1 conv_<k>_weight.npy files, MobileNetV2 has 52"), std::string::npos)
            << e.what();
    }
}

TEST(ModelFile, SaveLoadGivesTheSameNetwork) {
    PUPEMBED_REQUIRE_SHARED(kSqueezeNet);
    TempDir dir;
    Model model = imported();
    const std::string path = (dir / "m.pt").string();
    pupembed::save_model(path, model);
    Model back = pupembed::load_model(path);
    EXPECT_EQ(back.info.class_ids, model.info.class_ids);
    EXPECT_EQ(back.info.class_names, model.info.class_names);
    EXPECT_EQ(back.info.backbone, "squeezenet1.1");
    EXPECT_EQ(back.info.preprocessing.input_size, model.info.preprocessing.input_size);
    model.network->eval();
    back.network->eval();
    torch::InferenceMode inference;
    const torch::Tensor input = torch::randn({2, 3, 96, 96});
    EXPECT_TRUE(torch::equal(model.network->logits(input), back.network->logits(input)));
}

TEST(ModelFile, RefusesDamagedAndForeignFiles) {
    TempDir dir;
    const fs::path good = dir / "good.pt";
    pupembed::save_model(good.string(), small_model());
    const std::string bytes = pupembed::read_file(good.string());

    pupembed::testing::write_bytes(dir / "empty.pt", "");
    EXPECT_NE(load_error(dir / "empty.pt").find("not a pupembed model file"), std::string::npos);
    pupembed::testing::write_bytes(dir / "text.pt", "hello world, this is not a model at all");
    EXPECT_NE(load_error(dir / "text.pt").find("not a pupembed model file"), std::string::npos);

    pupembed::testing::write_bytes(dir / "cut.pt", bytes.substr(0, bytes.size() - 100));
    EXPECT_NE(load_error(dir / "cut.pt").find("truncated"), std::string::npos) << load_error(dir / "cut.pt");
    pupembed::testing::write_bytes(dir / "cut-header.pt", bytes.substr(0, 40));
    EXPECT_NE(load_error(dir / "cut-header.pt").find("truncated"), std::string::npos);

    std::string flipped = bytes;
    flipped[flipped.size() - 10] ^= 0x40;
    pupembed::testing::write_bytes(dir / "flipped.pt", flipped);
    EXPECT_NE(load_error(dir / "flipped.pt").find("checksum"), std::string::npos);

    std::string newer = bytes;
    newer[8] = 99;
    pupembed::testing::write_bytes(dir / "newer.pt", newer);
    const std::string e = load_error(dir / "newer.pt");
    EXPECT_NE(e.find("version 99"), std::string::npos) << e;
    EXPECT_NE(e.find("newer.pt"), std::string::npos) << e;

    EXPECT_NE(load_error(dir / "missing.pt").find("cannot open"), std::string::npos);
}

TEST(ModelFile, WriteIsAtomic) {
    TempDir dir;
    const fs::path target = dir / "m.pt";
    pupembed::testing::write_bytes(target, "old");
    // Writing into a folder that does not exist fails and leaves nothing behind.
    EXPECT_THROW(pupembed::save_model((dir / "no" / "m.pt").string(), small_model()), Error);
    pupembed::save_model(target.string(), small_model());
    EXPECT_NO_THROW(pupembed::load_model(target.string()));
    int files = 0;
    for (const auto& entry : fs::directory_iterator(dir.path())) files += entry.is_regular_file();
    EXPECT_EQ(files, 1) << "no temporary file may be left behind";
}

TEST(ImageNetImport, NamesAWeightFileOfTheWrongShape) {
    PUPEMBED_REQUIRE_SHARED(kSqueezeNet);
    TempDir dir;
    fs::create_directories(dir / "weights");
    fs::copy_file(shared_dir() / kSqueezeNet / "imagenet_synsets.txt", dir / "imagenet_synsets.txt");
    pupembed::NpyArray wrong;
    wrong.shape = {64, 3, 5, 5};
    wrong.data.assign(64 * 3 * 5 * 5, 0.f);
    pupembed::write_npy((dir / "weights" / "squeezenet0_conv0_weight.npy").string(), wrong);
    try {
        pupembed::import_imagenet_squeezenet(dir.path().string(), pupembed::Preprocessing{});
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_NE(message.find("squeezenet0_conv0_weight.npy"), std::string::npos) << message;
        EXPECT_NE(message.find("[64, 3, 3, 3]"), std::string::npos) << message;
    }
    EXPECT_THROW(pupembed::import_imagenet_squeezenet((dir / "absent").string(), pupembed::Preprocessing{}), Error);
}

TEST(ModelFile, ExportedEmbeddingModelGivesTheSameEmbeddings) {
    TempDir dir;
    pupembed::ModelInfo info;
    info.classifier = pupembed::LinearClassifierHeadImpl::kKind;
    info.class_ids = info.class_names = {"a", "b"};
    info.embedding = pupembed::EmbeddingHeadImpl::kKind;
    info.embedding_dim = 32;
    info.embedding_hidden = 64;
    Model model = pupembed::create_model(info);
    model.network->eval();
    {
        // Give batch norm non-trivial running statistics, as training would.
        torch::NoGradGuard no_grad;
        for (auto& buffer : model.network->buffers())
            if (buffer.dtype() == torch::kFloat32) buffer.uniform_(0.5, 1.5);
    }
    pupembed::save_model((dir / "f32.pt").string(), model);
    pupembed::save_model((dir / "f16.pt").string(), model, true);
    Model f32 = pupembed::load_model((dir / "f32.pt").string());
    Model f16 = pupembed::load_model((dir / "f16.pt").string());
    EXPECT_EQ(f32.info.embedding_dim, 32);
    f32.network->eval();
    f16.network->eval();
    torch::InferenceMode inference;
    const torch::Tensor input = torch::randn({4, 3, 64, 64});
    const torch::Tensor expected = model.network->run(input, false, true).embeddings;
    EXPECT_TRUE(torch::equal(expected, f32.network->run(input, false, true).embeddings));
    const torch::Tensor cosine = (expected * f16.network->run(input, false, true).embeddings).sum(1);
    EXPECT_GT(cosine.min().item<double>(), 1 - 1e-3);
    EXPECT_LT(fs::file_size(dir / "f16.pt"), fs::file_size(dir / "f32.pt") * 6 / 10);
}

TEST(SqueezeNet, NamedLayersHaveThePapersShapes) {
    pupembed::SqueezeNetTrunkImpl trunk;
    trunk.eval();
    torch::InferenceMode inference;
    const torch::Tensor input = torch::randn({1, 3, 128, 128});
    const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
        {"conv1", {1, 64, 63, 63}},   {"fire2", {1, 128, 31, 31}}, {"fire3", {1, 128, 31, 31}},
        {"fire4", {1, 256, 15, 15}},  {"fire5", {1, 256, 15, 15}}, {"fire6", {1, 384, 7, 7}},
        {"fire7", {1, 384, 7, 7}},    {"fire8", {1, 512, 7, 7}},   {"fire9", {1, 512, 7, 7}}};
    for (const auto& [layer, shape] : expected) EXPECT_EQ(trunk.forward_until(input, layer).sizes().vec(), shape) << layer;
    EXPECT_TRUE(torch::equal(trunk.forward(input), trunk.forward_until(input, "fire9")));
    EXPECT_THROW(trunk.forward_until(input, "fire10"), Error);
}

// parameters_until: the weights that lead to a named layer, and only those, for both trunks
// (names as the modules register them, written out by hand here).
TEST(Trunks, ParametersUntilALayerAreThoseOfTheLayersBeforeIt) {
    auto names_of = [](const pupembed::TrunkImpl& trunk, const std::string& layer) {
        std::set<const void*> wanted;
        for (const auto& weight : trunk.parameters_until(layer)) wanted.insert(weight.data_ptr());
        std::vector<std::string> names;
        for (const auto& item : trunk.named_parameters())
            if (wanted.count(item.value().data_ptr())) names.push_back(item.key());
        EXPECT_EQ(names.size(), wanted.size());
        return names;
    };
    const pupembed::MobileNetV2TrunkImpl mobilenet;
    std::vector<std::string> expected = {"stem.weight", "stem.bias"};
    for (int block = 1; block <= 6; ++block)
        for (const char* conv : {"expand", "depthwise", "project"}) {
            if (block == 1 && std::string(conv) == "expand") continue;  // expansion ratio 1: no expansion
            for (const char* part : {".weight", ".bias"})
                expected.push_back("block" + std::to_string(block) + "." + conv + part);
        }
    EXPECT_EQ(names_of(mobilenet, "block6"), expected);
    EXPECT_EQ(names_of(mobilenet, "stem"), (std::vector<std::string>{"stem.weight", "stem.bias"}));
    EXPECT_EQ(mobilenet.parameters_until("last").size(), mobilenet.parameters().size());

    const pupembed::SqueezeNetTrunkImpl squeezenet;
    const auto fire3 = names_of(squeezenet, "fire3");  // conv1, fire2, fire3: registered as conv0, fire0, fire1
    ASSERT_EQ(fire3.size(), 2u + 2 * 6u);
    for (const auto& name : fire3)
        EXPECT_TRUE(name.rfind("conv0.", 0) == 0 || name.rfind("fire0.", 0) == 0 || name.rfind("fire1.", 0) == 0) << name;
    try {
        squeezenet.parameters_until("block6");
        ADD_FAILURE() << "an unknown layer was accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("conv1, fire2, fire3"), std::string::npos) << e.what();
    }
}
