#include "train/augment.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "core/random.hpp"
#include "train/training_support.hpp"

namespace pupembed {
namespace {

/// The random-resized crop's rectangle inside a stored x stored image.
cv::Rect draw_crop(int stored, const PhotoAugmentation& o, std::mt19937_64& rng) {
    const double full = double(stored) * stored;
    for (int attempt = 0; attempt < 10; ++attempt) {
        const double area = full * uniform_between(rng, std::min(1.0, o.min_area), 1.0);
        const double log_aspect = std::log(std::max(1.0, o.max_aspect));
        const double aspect = std::exp(uniform_between(rng, -log_aspect, log_aspect));
        const int width = int(std::lround(std::sqrt(area * aspect)));
        const int height = int(std::lround(std::sqrt(area / aspect)));
        if (width < 1 || height < 1 || width > stored || height > stored) continue;
        const int x = int(uniform_below(rng, uint64_t(stored - width + 1)));
        const int y = int(uniform_below(rng, uint64_t(stored - height + 1)));
        return {x, y, width, height};
    }
    return {0, 0, stored, stored};
}

/// Brightness, contrast and saturation, each scaled by a factor drawn from [1 - amount, 1 + amount].
void jitter_colour(cv::Mat& rgb, double amount, std::mt19937_64& rng) {
    const double brightness = uniform_between(rng, 1 - amount, 1 + amount);
    const double contrast = uniform_between(rng, 1 - amount, 1 + amount);
    const double saturation = uniform_between(rng, 1 - amount, 1 + amount);
    cv::Mat pixels;
    rgb.convertTo(pixels, CV_32FC3, brightness);
    const cv::Scalar channel_means = cv::mean(pixels);
    const double mean_grey = 0.299 * channel_means[0] + 0.587 * channel_means[1] + 0.114 * channel_means[2];
    pixels = (pixels - cv::Scalar::all(mean_grey)) * contrast + cv::Scalar::all(mean_grey);
    cv::Mat grey;
    cv::transform(pixels, grey, cv::Matx13f(0.299f, 0.587f, 0.114f));
    cv::Mat grey3;
    cv::merge(std::vector<cv::Mat>{grey, grey, grey}, grey3);
    pixels = (pixels - grey3) * saturation + grey3;
    pixels.convertTo(rgb, CV_8UC3);  // saturates to [0, 255]
}

}  // namespace

void augment_photo(const uint8_t* image, const uint8_t* background, int stored, int size, const PhotoAugmentation& o,
                   std::mt19937_64& rng, uint8_t* out) {
    const cv::Mat source(stored, stored, CV_8UC3, const_cast<uint8_t*>(image));
    cv::Mat target(size, size, CV_8UC3, out);
    const cv::Rect crop = draw_crop(stored, o, rng);

    // Where the photo goes: the whole output, or a smaller square of a canvas.
    cv::Rect place(0, 0, size, size);
    if (uniform_unit(rng) < o.canvas_share) {
        const int side = std::clamp(int(std::lround(size * uniform_between(rng, o.canvas_min, o.canvas_max))), 1, size);
        place = {int(uniform_below(rng, uint64_t(size - side + 1))), int(uniform_below(rng, uint64_t(size - side + 1))),
                 side, side};
        // The canvas: another photo shrunk to 6 x 6 and enlarged again, colours and light without a dog.
        cv::Mat blurred;
        cv::resize(cv::Mat(stored, stored, CV_8UC3, const_cast<uint8_t*>(background)), blurred, cv::Size(6, 6), 0, 0,
                   cv::INTER_AREA);
        cv::resize(blurred, target, target.size(), 0, 0, cv::INTER_LINEAR);
    }
    cv::Mat region = target(place);
    const int interpolation = crop.width > place.width ? cv::INTER_AREA : cv::INTER_LINEAR;
    cv::resize(source(crop), region, region.size(), 0, 0, interpolation);

    if (uniform_unit(rng) < o.downscale_share) {
        const double factor = uniform_between(rng, 1.0, std::max(1.0, o.max_downscale));
        const cv::Size small(std::max(1, int(place.width / factor)), std::max(1, int(place.height / factor)));
        cv::Mat shrunk;
        cv::resize(region, shrunk, small, 0, 0, cv::INTER_AREA);
        cv::resize(shrunk, region, region.size(), 0, 0, cv::INTER_LINEAR);
    }
    if (o.flip && uniform_below(rng, 2) == 1) cv::flip(target, target, 1);
    if (o.colour > 0) jitter_colour(target, o.colour, rng);
    if (target.data != out) throw std::logic_error("augment_photo: OpenCV reallocated the output");
}

torch::Tensor augmented_batch(const torch::Tensor& pixels, const int64_t* indices, int64_t count, int size,
                              const PhotoAugmentation& options, std::mt19937_64& rng, const Preprocessing& preprocessing) {
    const int64_t images = pixels.size(0);
    const int stored = int(pixels.size(1));
    const size_t image_bytes = size_t(stored) * size_t(stored) * 3;
    torch::Tensor batch = torch::empty({count, size, size, 3}, torch::kUInt8);
    const uint8_t* source = pixels.data_ptr<uint8_t>();
    uint8_t* target = batch.data_ptr<uint8_t>();
    for (int64_t b = 0; b < count; ++b) {
        const int64_t background = int64_t(uniform_below(rng, uint64_t(images)));
        augment_photo(source + size_t(indices[b]) * image_bytes, source + size_t(background) * image_bytes, stored, size,
                      options, rng, target + size_t(b) * size_t(size) * size_t(size) * 3);
    }
    return normalized_batch(batch, preprocessing);
}

}  // namespace pupembed
