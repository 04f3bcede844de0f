#include "io/png_decoder.hpp"

#include <png.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "pupembed/core/error.hpp"

namespace pupembed {

cv::Mat decode_png(const std::string& bytes, const std::string& name) {
    png_image image;
    std::memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    // The simplified API keeps its messages in image.message instead of printing them.
    auto failed = [&](const char* what) {
        const std::string message = image.message[0] ? image.message : what;
        png_image_free(&image);
        return Error(name, "damaged PNG (" + message + ")");
    };
    if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) throw failed("unreadable header");
    const bool alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    const int width = int(image.width), height = int(image.height);
    if ((image.format & PNG_FORMAT_FLAG_LINEAR) == 0) {  // 8-bit samples: read as they are
        image.format = alpha ? PNG_FORMAT_BGRA : PNG_FORMAT_BGR;
        cv::Mat pixels(height, width, alpha ? CV_8UC4 : CV_8UC3);
        if (!png_image_finish_read(&image, nullptr, pixels.data, png_int_32(pixels.step[0]), nullptr))
            throw failed("undecodable data");
        png_image_free(&image);
        return pixels;
    }
    // 16-bit samples, read without gamma conversion (libpng's "linear" output). With alpha,
    // libpng premultiplies; compose over white here: out = colour * a + max * (1 - a).
    image.format = PNG_FORMAT_FLAG_LINEAR | PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_BGR | (alpha ? PNG_FORMAT_FLAG_ALPHA : 0);
    cv::Mat wide(height, width, alpha ? CV_16UC4 : CV_16UC3);
    // The row stride is counted in samples, not bytes.
    if (!png_image_finish_read(&image, nullptr, wide.data, png_int_32(wide.step[0] / sizeof(uint16_t)), nullptr))
        throw failed("undecodable data");
    png_image_free(&image);
    if (!alpha) return wide;
    cv::Mat pixels(height, width, CV_16UC3);
    for (int y = 0; y < height; ++y) {
        const auto* in = wide.ptr<uint16_t>(y);
        auto* out = pixels.ptr<uint16_t>(y);
        for (int x = 0; x < width; ++x, in += 4, out += 3)
            for (int c = 0; c < 3; ++c) out[c] = uint16_t(std::min(65535, in[c] + 65535 - in[3]));
    }
    return pixels;
}

}  // namespace pupembed
