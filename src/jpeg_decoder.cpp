#include "jpeg_decoder.hpp"

#include <csetjmp>
#include <cstdio>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>

#include "pupembed/error.hpp"

namespace pupembed {
namespace {

struct StrictErrorManager {
    jpeg_error_mgr base;
    std::jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr info) {
    auto* manager = reinterpret_cast<StrictErrorManager*>(info->err);
    (*info->err->format_message)(info, manager->message);
    std::longjmp(manager->jump, 1);
}

/// Warnings that mean the pixels are wrong (missing or undecodable data) end the decode; the
/// rest (an odd JFIF version, stray bytes between markers) are harmless and ignored. Nothing is
/// printed.
void on_message(j_common_ptr info, int level) {
    if (level >= 0) return;  // trace messages
    switch (info->err->msg_code) {
        case JWRN_HIT_MARKER:
        case JWRN_HUFF_BAD_CODE:
        case JWRN_ARITH_BAD_CODE:
        case JWRN_JPEG_EOF:
        case JWRN_MUST_RESYNC:
        case JWRN_NOT_SEQUENTIAL:
        case JWRN_BOGUS_PROGRESSION:
            on_error(info);
        default:
            return;
    }
}

/// Runs libjpeg over `bytes` into `pixels` (RGB or CMYK rows). Returns false with `message` set
/// on failure. Holds no C++ objects across setjmp, so longjmp skips no destructors.
bool run_decoder(const std::string& bytes, std::vector<unsigned char>& pixels, int& width, int& height,
                 bool& cmyk, char* message) {
    jpeg_decompress_struct info;
    StrictErrorManager errors;
    info.err = jpeg_std_error(&errors.base);
    errors.base.error_exit = on_error;
    errors.base.emit_message = on_message;
    if (setjmp(errors.jump)) {
        std::snprintf(message, JMSG_LENGTH_MAX, "%s", errors.message);
        jpeg_destroy_decompress(&info);
        return false;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&info, TRUE);
    cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&info);
    width = static_cast<int>(info.output_width);
    height = static_cast<int>(info.output_height);
    const size_t stride = size_t(info.output_width) * info.output_components;
    pixels.resize(stride * info.output_height);
    while (info.output_scanline < info.output_height) {
        unsigned char* row = pixels.data() + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return true;
}

}  // namespace

cv::Mat decode_jpeg_rgb(const std::string& bytes, const std::string& name) {
    std::vector<unsigned char> pixels;
    int width = 0, height = 0;
    bool cmyk = false;
    char message[JMSG_LENGTH_MAX] = {0};
    if (!run_decoder(bytes, pixels, width, height, cmyk, message))
        throw Error(name, std::string("damaged JPEG (") + message + ")");
    cv::Mat rgb(height, width, CV_8UC3);
    if (!cmyk) {
        std::copy(pixels.begin(), pixels.end(), rgb.data);
        return rgb;
    }
    // libjpeg gives Adobe's inverted CMYK: channel value v means ink 255 - v.
    for (size_t i = 0, n = size_t(width) * height; i < n; ++i) {
        const unsigned k = pixels[i * 4 + 3];
        for (int c = 0; c < 3; ++c) rgb.data[i * 3 + c] = static_cast<unsigned char>((pixels[i * 4 + c] * k + 127) / 255);
    }
    return rgb;
}

}  // namespace pupembed
