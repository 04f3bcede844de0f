// Photo decoding (JPEG, PNG, WebP, BMP; EXIF; grey, CMYK, alpha, 16 bit) and preprocessing:
// any bytes give an image or pupembed::Error, nothing else.
#include "fuzz_support.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/image.hpp"

#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    pupembed::ImageLoadOptions options;
    options.max_pixels = 4'000'000;  // the fuzzer's memory, not the format, sets this
    try {
        const pupembed::Image image = pupembed::decode_image(pupembed::fuzz::bytes_of(data, size), "fuzz", options);
        pupembed::Preprocessing preprocessing;
        preprocessing.input_size = 24;
        preprocessing.resize_shorter = 28;
        std::vector<float> out(3 * 24 * 24);
        pupembed::preprocess(image, preprocessing, out.data());
    } catch (const pupembed::Error&) {
    }
    return 0;
}
