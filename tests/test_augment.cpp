// The photo augmentation: deterministic for a seed, each output made from its own image (labels
// stay right), the canvas and the crop where they should be.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <random>
#include <vector>

#include "train/augment.hpp"

namespace {

using pupembed::PhotoAugmentation;

constexpr int kStored = 40;

/// Cached-image-like pixels: N images of one colour each, image i (10 + 20 i, 200 - 20 i, 90).
torch::Tensor solid_images(int count) {
    torch::Tensor pixels = torch::empty({count, kStored, kStored, 3}, torch::kUInt8);
    for (int i = 0; i < count; ++i) {
        pixels[i].select(2, 0).fill_(10 + 20 * i);
        pixels[i].select(2, 1).fill_(200 - 20 * i);
        pixels[i].select(2, 2).fill_(90);
    }
    return pixels;
}

/// Random pixels, so crops, flips and resizes all show in the output.
torch::Tensor noisy_images(int count) {
    torch::manual_seed(4);
    return torch::randint(0, 256, {count, kStored, kStored, 3}, torch::kUInt8);
}

std::vector<uint8_t> augment(const torch::Tensor& pixels, int64_t index, int64_t background, int size,
                             const PhotoAugmentation& options, std::mt19937_64& rng) {
    std::vector<uint8_t> out(size_t(size) * size_t(size) * 3);
    const size_t bytes = size_t(kStored) * kStored * 3;
    pupembed::augment_photo(pixels.data_ptr<uint8_t>() + size_t(index) * bytes,
                            pixels.data_ptr<uint8_t>() + size_t(background) * bytes, kStored, size, options, rng, out.data());
    return out;
}

}  // namespace

TEST(PhotoAugmentation, IsTheSameForTheSameSeedAndDiffersForAnother) {
    const torch::Tensor pixels = noisy_images(4);
    PhotoAugmentation options;
    options.canvas_share = 0.5;
    options.downscale_share = 0.5;
    for (const int size : {24, 40, 64}) {
        std::mt19937_64 a(7), b(7), c(8);
        for (int i = 0; i < 20; ++i) {
            const auto first = augment(pixels, i % 4, (i + 1) % 4, size, options, a);
            EXPECT_EQ(first, augment(pixels, i % 4, (i + 1) % 4, size, options, b)) << "draw " << i << " size " << size;
            EXPECT_NE(first, augment(pixels, i % 4, (i + 1) % 4, size, options, c)) << "draw " << i << " size " << size;
        }
    }
    // The batch form too, including the backgrounds it draws.
    const std::vector<int64_t> indices = {3, 0, 2, 2, 1};
    std::mt19937_64 a(11), b(11);
    const pupembed::Preprocessing preprocessing;
    const torch::Tensor x = pupembed::augmented_batch(pixels, indices.data(), 5, 32, options, a, preprocessing);
    const torch::Tensor y = pupembed::augmented_batch(pixels, indices.data(), 5, 32, options, b, preprocessing);
    EXPECT_EQ(x.sizes(), (std::vector<int64_t>{5, 3, 32, 32}));
    EXPECT_TRUE(x.is_contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_TRUE(torch::equal(x, y));
}

TEST(PhotoAugmentation, EachOutputIsMadeOfItsOwnImage) {
    // Without colour jitter and canvas, a one-colour image stays exactly its colour whatever the
    // crop, aspect, flip and lost detail: no output mixes in another image (labels stay right).
    const torch::Tensor pixels = solid_images(6);
    PhotoAugmentation options;
    options.colour = 0;
    options.canvas_share = 0;
    options.downscale_share = 1;
    std::mt19937_64 rng(5);
    for (int i = 0; i < 60; ++i) {
        const int index = i % 6;
        const auto out = augment(pixels, index, (index + 3) % 6, 48, options, rng);
        for (size_t p = 0; p < out.size(); p += 3) {
            ASSERT_EQ(out[p], 10 + 20 * index);
            ASSERT_EQ(out[p + 1], 200 - 20 * index);
            ASSERT_EQ(out[p + 2], 90);
        }
    }
}

TEST(PhotoAugmentation, TheCanvasHoldsTheImageInASquareOfTheDrawnSizeAndTheBackgroundAround) {
    const torch::Tensor pixels = solid_images(2);
    PhotoAugmentation options;
    options.colour = 0;
    options.downscale_share = 0;
    options.canvas_share = 1;
    options.canvas_min = 0.5;
    options.canvas_max = 0.5;
    std::mt19937_64 rng(6);
    const int size = 40;
    for (int draw = 0; draw < 10; ++draw) {
        const auto out = augment(pixels, 0, 1, size, options, rng);
        int own = 0, background = 0;
        for (size_t p = 0; p < out.size(); p += 3) {
            if (out[p] == 10 && out[p + 1] == 200) ++own;
            else if (out[p] == 30 && out[p + 1] == 180) ++background;
        }
        EXPECT_EQ(own, 20 * 20) << "draw " << draw;  // a 20 x 20 square: half the side
        EXPECT_EQ(own + background, size * size) << "draw " << draw;
    }
}

TEST(PhotoAugmentation, ColourJitterKeepsGreyGreyAndStaysInRange) {
    torch::Tensor pixels = torch::full({1, kStored, kStored, 3}, 128, torch::kUInt8);
    PhotoAugmentation options;
    options.colour = 0.5;
    options.canvas_share = 0;
    std::mt19937_64 rng(9);
    std::vector<int> seen;
    for (int draw = 0; draw < 20; ++draw) {
        const auto out = augment(pixels, 0, 0, 16, options, rng);
        for (size_t p = 0; p < out.size(); p += 3) {
            ASSERT_EQ(out[p], out[p + 1]);  // saturation has nothing to change in grey
            ASSERT_EQ(out[p], out[p + 2]);
        }
        seen.push_back(out[0]);
    }
    // Brightness moves it: not all draws give the same grey.
    EXPECT_NE(*std::min_element(seen.begin(), seen.end()), *std::max_element(seen.begin(), seen.end()));
}
