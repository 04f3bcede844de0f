// Photos with the pixels for it run at the model's large input, small ones at its base input:
// the rule, the model file that records it, and batches that mix both sizes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "model/network.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/image.hpp"
#include "pupembed/model/model.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::Image;
using pupembed::Model;
using pupembed::Preprocessing;
using pupembed::testing::TempDir;

namespace {

Preprocessing two_sizes() {
    Preprocessing p;
    p.input_size = 64;
    p.resize_shorter = 72;
    pupembed::set_large_input(p, 96);  // photos with a shorter side of 109 or more
    return p;
}

Image image_of(int width, int height, int photo_width = 0, int photo_height = 0) {
    Image image;
    image.width = width;
    image.height = height;
    image.rgb.assign(size_t(width) * height * 3, 100);
    image.photo_width = photo_width;
    image.photo_height = photo_height;
    return image;
}

Model random_model(const Preprocessing& preprocessing) {
    pupembed::ModelInfo info;
    info.preprocessing = preprocessing;
    info.classifier = pupembed::ConvClassifierHeadImpl::kKind;
    info.class_ids = {"n1", "n2", "n3"};
    info.class_names = {"one", "two", "three"};
    info.source = "test";
    torch::manual_seed(3);
    Model model = pupembed::create_model(info);
    pupembed::prepare_for_inference(model);
    return model;
}

/// A noisy photo, different for each seed, written as PNG.
fs::path write_photo(const fs::path& path, int width, int height, int seed) {
    cv::Mat bgr(height, width, CV_8UC3);
    cv::randu(bgr, cv::Scalar::all(0), cv::Scalar::all(255));
    cv::rectangle(bgr, {seed * 3, seed * 2}, {width / 2 + seed, height / 2}, cv::Scalar(30 * seed, 200, 90), -1);
    cv::imwrite(path.string(), bgr);
    return path;
}

}  // namespace

TEST(LargeInput, OnlyPhotosWithThePixelsRunLarger) {
    const Preprocessing p = two_sizes();
    EXPECT_EQ(p.large_resize_shorter, 96 + 96 / 7);
    EXPECT_EQ(pupembed::preprocessing_for(p, image_of(300, 108)).input_size, 64);  // one pixel short
    EXPECT_EQ(pupembed::preprocessing_for(p, image_of(300, 109)).input_size, 96);
    const Preprocessing large = pupembed::preprocessing_for(p, image_of(109, 500));
    EXPECT_EQ(large.resize_shorter, 109);
    EXPECT_EQ(large.mean, p.mean);
    // A photo decoded at a reduced scale is judged by its full size.
    EXPECT_EQ(pupembed::preprocessing_for(p, image_of(80, 60, 640, 480)).input_size, 96);
    EXPECT_EQ(pupembed::decode_shorter_side(p), 109);
    EXPECT_EQ(pupembed::largest_input_size(p), 96);
    // Without a large input every photo gets the base one.
    Preprocessing base = p;
    pupembed::set_large_input(base, 0);
    EXPECT_EQ(pupembed::preprocessing_for(base, image_of(4000, 3000)).input_size, 64);
    EXPECT_EQ(pupembed::decode_shorter_side(base), 72);
    EXPECT_THROW(pupembed::set_large_input(base, 8), pupembed::Error);
}

TEST(LargeInput, TheModelFileRecordsItAsVersion2) {
    TempDir dir;
    Model model = random_model(two_sizes());
    pupembed::save_model((dir / "large.pt").string(), model);
    EXPECT_EQ(pupembed::format_version(model.info), 2u);
    const Model loaded = pupembed::load_model((dir / "large.pt").string());
    EXPECT_EQ(loaded.info.preprocessing.large_input_size, 96);
    EXPECT_EQ(loaded.info.preprocessing.large_resize_shorter, 109);
    const std::string bytes = pupembed::read_file((dir / "large.pt").string());
    EXPECT_EQ(bytes[8], 2);  // the format version, after the 8-byte magic

    Preprocessing base = two_sizes();
    pupembed::set_large_input(base, 0);
    pupembed::save_model((dir / "base.pt").string(), random_model(base));
    EXPECT_EQ(pupembed::read_file((dir / "base.pt").string())[8], 1);
    EXPECT_EQ(pupembed::load_model((dir / "base.pt").string()).info.preprocessing.large_input_size, 0);
}

TEST(LargeInput, BatchesMixingBothSizesGiveEachPhotoItsOwnEmbedding) {
    TempDir dir;
    Model model = random_model(two_sizes());
    std::vector<std::string> paths;
    for (int i = 0; i < 7; ++i) {
        const bool large = i % 3 != 1;
        paths.push_back(write_photo(dir / ("photo-" + std::to_string(i) + ".png"), large ? 160 + i : 64 + i,
                                    large ? 120 + i : 50 + i, i)
                            .string());
    }
    pupembed::InferenceOptions batched;
    batched.batch_size = 4;  // batches of 4 and 3, each with photos of both sizes
    const pupembed::EmbeddingSet together = pupembed::embed_images(model, paths, batched, false);
    ASSERT_EQ(together.vectors.rows, 7);
    EXPECT_EQ(together.paths, paths);
    std::vector<Image> images;
    for (size_t i = 0; i < paths.size(); ++i) {
        // Alone, in a batch of one.
        const pupembed::EmbeddingSet alone = pupembed::embed_images(model, {paths[i]}, {}, false);
        for (int64_t c = 0; c < together.vectors.columns; ++c)
            ASSERT_NEAR(together.vectors.row(int64_t(i))[c], alone.vectors.row(0)[c], 1e-5) << "photo " << i;
        // By hand: the network on the preprocessing of the photo's size.
        const Image image = pupembed::load_image(paths[i]);
        const Preprocessing chosen = pupembed::preprocessing_for(model.info.preprocessing, image);
        EXPECT_EQ(chosen.input_size, i % 3 != 1 ? 96 : 64);
        std::vector<float> chw(size_t(3 * chosen.input_size * chosen.input_size));
        pupembed::preprocess(image, chosen, chw.data());
        torch::InferenceMode inference;
        const torch::Tensor x = torch::from_blob(chw.data(), {1, 3, chosen.input_size, chosen.input_size});
        const torch::Tensor expected = model.network->run(x.contiguous(at::MemoryFormat::ChannelsLast), false, true).embeddings;
        for (int64_t c = 0; c < together.vectors.columns; ++c)
            ASSERT_NEAR(together.vectors.row(int64_t(i))[c], expected[0][c].item<float>(), 1e-5) << "photo " << i;
        images.push_back(image);
    }
    // Decoded photos (the server's path) give the same.
    std::vector<const Image*> pointers;
    for (const auto& image : images) pointers.push_back(&image);
    const auto decoded = pupembed::embed_decoded(model, pointers, true);
    for (size_t i = 0; i < decoded.size(); ++i) {
        EXPECT_EQ(decoded[i].probabilities.size(), 3u);
        for (int64_t c = 0; c < together.vectors.columns; ++c)
            ASSERT_NEAR(decoded[i].vector[size_t(c)], together.vectors.row(int64_t(i))[c], 1e-5) << "photo " << i;
    }
}
