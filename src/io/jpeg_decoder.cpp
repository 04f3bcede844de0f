#include "io/jpeg_decoder.hpp"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <vector>

#include <jpeglib.h>
#include <jerror.h>

#include "pupembed/core/error.hpp"

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

/// Whether the file defined Huffman tables (DHT segments; libjpeg adds its standard ones only
/// when it starts a Huffman decoder, after the header).
bool holds_huffman_tables(const jpeg_decompress_struct& info) {
    for (int i = 0; i < NUM_HUFF_TBLS; ++i)
        if (info.dc_huff_tbl_ptrs[i] || info.ac_huff_tbl_ptrs[i]) return true;
    return false;
}

/// Runs libjpeg over `bytes` into `pixels` (RGB or CMYK rows, at `eighths` / 8 of the full size).
/// Returns false with `message` set on failure. Holds no C++ objects across setjmp, so longjmp
/// skips no destructors.
bool run_decoder(const std::string& bytes, unsigned eighths, std::vector<uint8_t>& pixels, int& width,
                 int& height, bool& cmyk, char* message) {
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
    if (info.arith_code && holds_huffman_tables(info)) {
        // The arithmetic decoder reads any bytes without complaint, so Huffman-coded data under
        // a frame marker that says arithmetic (one changed byte) would decode to noise.
        std::snprintf(message, JMSG_LENGTH_MAX, "%s", "its frame says arithmetic coding, but it holds Huffman tables");
        jpeg_destroy_decompress(&info);
        return false;
    }
    cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
    info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    info.scale_num = eighths;
    info.scale_denom = 8;
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

unsigned jpeg_scale_eighths(int64_t width, int64_t height, int min_shorter_side) {
    const int64_t shorter = std::min(width, height);
    if (min_shorter_side <= 0) return 8;
    for (const unsigned eighths : {1u, 2u})
        if ((shorter * eighths + 7) / 8 >= min_shorter_side) return eighths;  // libjpeg rounds up
    return 8;
}

Image decode_jpeg(const std::string& bytes, const std::string& name, unsigned eighths) {
    if (eighths < 1 || eighths > 8) throw Error(name, "JPEG scale must be 1/8 to 8/8, got " + std::to_string(eighths) + "/8");
    Image image;
    bool cmyk = false;
    char message[JMSG_LENGTH_MAX] = {0};
    if (!run_decoder(bytes, eighths, image.rgb, image.width, image.height, cmyk, message))
        throw Error(name, std::string("damaged JPEG (") + message + ")");
    if (!cmyk) return image;
    // libjpeg gives Adobe's inverted CMYK: channel value v means ink 255 - v.
    const std::vector<uint8_t> cmyk_pixels = std::move(image.rgb);
    const size_t count = size_t(image.width) * size_t(image.height);
    image.rgb.resize(count * 3);
    for (size_t i = 0; i < count; ++i) {
        const unsigned k = cmyk_pixels[i * 4 + 3];
        for (int c = 0; c < 3; ++c) image.rgb[i * 3 + c] = static_cast<uint8_t>((cmyk_pixels[i * 4 + c] * k + 127) / 255);
    }
    return image;
}

}  // namespace pupembed
